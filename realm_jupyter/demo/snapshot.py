"""The demo's snapshot for Binder: ``make snapshot`` (``python -m realm_jupyter.demo.snapshot``).

Starts the demo server (``small``, a throwaway store) on a free loopback port, opens
Alice's realm in a throwaway cache with the subscriptions of
``notebooks/05-reproducible-snapshots.ipynb``, saves a snapshot, and stops the server.
The snapshot lets that notebook's analysis run where no server can start.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..client import App, Credentials, Realm
from . import DEMO_USERS
from .launcher import _free_port, _stop, wait_for_server

__all__ = ["DEFAULT_TARGET", "SUBSCRIPTIONS", "write_demo_snapshot"]

logger = logging.getLogger(__name__)
DEFAULT_TARGET = Path("notebooks") / "snapshots" / "demo-alice"
#: (type, query, name): the subscriptions notebook 05 makes before it saves its snapshot.
SUBSCRIPTIONS = (("Item", "TRUEPREDICATE", "items"), ("Order", "TRUEPREDICATE", "orders"))


async def _save(url: str, app_id: str, email: str, cache: Path, target: Path) -> dict[str, Any]:
    password = next(u.password for u in DEMO_USERS if u.email == email)
    app = App(url, app_id)
    try:
        realm = await Realm.open(await app.log_in(Credentials.email_password(email, password)),
                                 cache=cache)
        try:
            for object_type, query, name in SUBSCRIPTIONS:
                await realm.subscribe(object_type, query, name=name, timeout=300)
            return realm.save_snapshot(target)
        finally:
            await realm.close()
    finally:
        await app.aclose()


def write_demo_snapshot(target: Path = DEFAULT_TARGET, *, email: str = "alice@example.com",
                        app_id: str = "realm-jupyter-demo") -> dict[str, Any]:
    """Write the demo snapshot to ``target``; returns its manifest.

    Raises:
        RealmJupyterError: the demo server did not start.
        SnapshotError: ``target`` holds something that is not a snapshot.
    """
    with tempfile.TemporaryDirectory(prefix="realm-demo-snapshot-") as work:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "realm_jupyter", "serve", "--port", str(port),
             "--demo-size", "small", "--store", f"sqlite:///{Path(work) / 'store.sqlite3'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_server(url, process)
            return asyncio.run(_save(url, app_id, email, Path(work) / "cache.duckdb", target))
        finally:
            _stop(process)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DEFAULT_TARGET
    manifest = write_demo_snapshot(target)
    rows = sum(entry["rows"] for name, entry in manifest["files"].items()
               if not name.startswith("_realm/"))
    sys.stdout.write(f"wrote {target}: {rows:,} objects, server version "
                     f"{manifest['server_version']}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
