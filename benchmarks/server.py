"""``python -m benchmarks.server``: one sync server process for the benchmarks.

A real deployment never shares the client's process (or its GIL), so every
benchmark talks to a server started here, in a subprocess of its own: the demo
app on the given store, seeded on first start with the demo users and
``--demo-size`` generated documents. It prints one JSON line when it accepts
connections (``{"url": …, "seconds": …}``) and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import time

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server")
    parser.add_argument("--store", required=True, help="sqlite:///path or postgresql://…")
    parser.add_argument("--demo-size", type=int, required=True, help="documents to seed")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--batch-rows", type=int, default=None,
                        help="override the bootstrap batch size (to measure its effect)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="server: %(levelname)s %(name)s: %(message)s")

    from realm_jupyter.demo import DEMO_APP_DIR
    from realm_jupyter.server.app import create_app
    from realm_jupyter.server.runner import serve_forever

    if args.batch_rows:
        from realm_jupyter.server import session

        session.BATCH_ROWS = args.batch_rows

    started = time.monotonic()
    app = create_app(DEMO_APP_DIR, args.store, demo_size=args.demo_size)
    logging.getLogger("benchmarks").info("app built in %.1f s", time.monotonic() - started)
    serve_forever(app, "127.0.0.1", args.port, log_level="warning")


if __name__ == "__main__":
    main()
