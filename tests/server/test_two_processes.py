"""Two server processes on one PostgreSQL database, a client on each (BRIEF §5 "Scale").

One server runs in the test's process; the other is a real subprocess started the
way ``realm-jupyter serve`` starts one (``serve_forever``, signal handlers and all).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import realm_jupyter
from realm_jupyter.server.runner import free_port
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import serving
from tests.support.waiting import wait_healthy

from .conftest import USERS, SyncClient, demo_rows, login, new_client, split_upserts

SERVE = """
import sys
from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.server.app import create_app
from realm_jupyter.server.runner import serve_forever

serve_forever(create_app(DEMO_APP_DIR, sys.argv[1]), "127.0.0.1", int(sys.argv[2]), "warning")
"""


@dataclass
class Remote:
    """The subprocess server, as the raw client needs it."""

    url: str
    app_id: str
    process: asyncio.subprocess.Process


@contextlib.asynccontextmanager
async def server_process(store_url: str, app_id: str) -> AsyncIterator[Remote]:
    port = free_port()
    root = str(Path(realm_jupyter.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE, store_url, str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    remote = Remote(f"http://127.0.0.1:{port}", app_id, process)
    try:
        await wait_healthy(remote.url, process)
        yield remote
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def pushes(client: SyncClient, frames: object, version: int, object_type: str
                 ) -> tuple[list[str], list[str]]:
    """(upserted, removed) primary keys of ``object_type`` until ``version`` has been sent."""
    seen = await frames.until(lambda h: h["t"] == "changes"  # type: ignore[attr-defined]
                              and h["server_version"] >= version, replica=client.replica)
    upserted = [r["_id"] for h, p in seen for r in split_upserts(h, p).get(object_type, [])]
    removed = [pk for h, _ in seen for pk in h["removes"].get(object_type, [])]
    return upserted, removed


def upload(client: SyncClient, version: int, ops: list[dict[str, object]]) -> dict[str, object]:
    return {"protocol": PROTOCOL_VERSION, "client_id": client.client_id,
            "changesets": [{"client_version": version, "last_server_version": 0,
                            "timestamp": 1_900_000_000_000 + version, "ops": ops}]}


@pytest.mark.postgres
async def test_writes_through_one_process_reach_clients_of_the_other(
        postgres_url: str, http: httpx.AsyncClient) -> None:
    rows = demo_rows()["Item"]
    moved = next(r for r in rows if r["team"] == "north"
                 and r["owner_id"] not in (USERS["alice"].id, USERS["bob"].id))
    async with serving(postgres_url) as local, server_process(postgres_url, local.app_id) as remote:
        alice = await new_client(local, http, "alice")
        bob = await new_client(remote, http, "bob")  # type: ignore[arg-type]
        carol_remote = await new_client(remote, http, "carol")  # type: ignore[arg-type]
        # a token issued by one process is good at the other (the secret is in the store)
        carol_local = await new_client(local, http, token=carol_remote.token)
        for client in (alice, bob, carol_remote, carol_local):
            assert (await client.submit(1, {"Item": ["TRUEPREDICATE"]})).status_code == 200
        async with alice.stream() as alice_frames, bob.stream() as bob_frames:
            await alice.sync(alice_frames)
            await bob.sync(bob_frames)
            assert moved["_id"] in alice.replica.pks("Item")
            assert moved["_id"] not in bob.replica.pks("Item")

            # through the subprocess: north → south leaves alice's view, enters bob's
            answer = await carol_remote.post("sync/upload", upload(carol_remote, 1, [
                {"op": "set", "type": "Item", "pk": moved["_id"], "field": "team",
                 "value": "south"}]))
            assert answer.status_code == 200 and answer.json()["compensating"] == []
            version = answer.json()["server_version"]
            assert await pushes(alice, alice_frames, version, "Item") == ([], [moved["_id"]])
            assert await pushes(bob, bob_frames, version, "Item") == ([moved["_id"]], [])

            # through this process: a new south item reaches bob at the other one
            created = "66cc00000000000000000001"
            answer = await carol_local.post("sync/upload", upload(carol_local, 1, [
                {"op": "create", "type": "Item", "pk": created,
                 "doc": {"_id": created, "owner_id": USERS["carol"].id, "summary": "hi",
                         "team": "south", "tags": []}}]))
            assert answer.status_code == 200 and answer.json()["compensating"] == []
            version = answer.json()["server_version"]
            assert await pushes(bob, bob_frames, version, "Item") == ([created], [])
            assert bob.replica.docs["Item"][created]["summary"] == "hi"

            # SIGTERM drains the subprocess: its sessions are told to reconnect elsewhere
            remote.process.send_signal(signal.SIGTERM)
            bye = await bob_frames.until(lambda h: h["t"] == "error")
            assert (bye[-1][0]["code"], bye[-1][0]["action"]) == (200, "Transient")
            async with asyncio.timeout(30):
                errors = (await remote.process.stderr.read()).decode()  # type: ignore[union-attr]
                assert await remote.process.wait() == 0
            assert "Traceback" not in errors and "ERROR" not in errors, errors
            # … and this process goes on serving
            version = (await alice.post("sync/mark", {"client_id": alice.client_id})).json()
            assert version["server_version"] >= answer.json()["server_version"]
        assert await login(local, http, "bob")
