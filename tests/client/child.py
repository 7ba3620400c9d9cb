"""Other processes for the client tests: a cache holder, a writer to kill, a sync server.

    python -m tests.client.child hold CACHE
        open the DuckDB file, print "ready", wait for stdin to close;
    python -m tests.client.child write URL APP_ID EMAIL PASSWORD CACHE
        open a realm, subscribe to the north team's items, pause the session, write one
        item, print its primary key, and wait (for a kill -9);
    python -m tests.client.child serve STORE_URL PORT DEMO_SIZE BATCH_ROWS
        a sync server for the demo app whose bootstraps send BATCH_ROWS rows a batch.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path


def hold(cache: str) -> None:
    import duckdb

    connection = duckdb.connect(cache)
    print("ready", flush=True)
    sys.stdin.read()
    connection.close()


async def write(url: str, app_id: str, email: str, password: str, cache: str) -> None:
    from realm_jupyter.client import App, Credentials, Realm

    app = App(url, app_id)
    user = await app.log_in(Credentials.email_password(email, password))
    realm = await Realm.open(user, cache=Path(cache))
    await realm.subscribe("Item", "team == 'north'", name="north")
    realm.session.pause()
    with realm.write() as tx:
        pk = tx.create("Item", {"owner_id": user.id, "summary": "written just before a crash",
                                "team": "north", "status": "open", "priority": 5})
    print(pk, flush=True)
    await asyncio.Event().wait()


def serve(store_url: str, port: str, demo_size: str, batch_rows: str) -> None:
    from realm_jupyter.demo import DEMO_APP_DIR
    from realm_jupyter.server import session
    from realm_jupyter.server.app import create_app
    from realm_jupyter.server.runner import serve_forever

    session.BATCH_ROWS = int(batch_rows)
    serve_forever(create_app(DEMO_APP_DIR, store_url, demo_size=int(demo_size)), "127.0.0.1",
                  int(port), log_level="warning")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "hold":
        hold(*args)
    elif command == "write":
        asyncio.run(write(*args))
    elif command == "serve":
        serve(*args)
    else:
        raise SystemExit(f"unknown command {command!r}")
