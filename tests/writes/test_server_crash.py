"""A server killed (SIGKILL) while a client uploads: nothing acknowledged is lost, nothing doubles."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from realm_jupyter.client import App, Credentials, Realm, writes
from realm_jupyter.demo.launcher import _free_port, wait_for_server
from tests.support.postgres import PostgresCluster

WRITES = 60


def _serve(store_url: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "realm_jupyter", "serve", "--port", str(port), "--store", store_url,
         "--demo-size", "tiny"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _scenario(store_url: str, tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(store_url, port)
    await asyncio.to_thread(wait_for_server, url, server)
    app = App(url, "realm-jupyter-demo")
    user = await app.log_in(Credentials.email_password("alice@example.com", "alice-demo"))
    realm = await Realm.open(user, cache=tmp_path / "alice.duckdb")
    try:
        await realm.subscribe("Item", "owner_id == $0", user.id)
        for n in range(WRITES):
            with realm.write() as tx:
                tx.create("Item", {"owner_id": user.id, "summary": f"crash-test {n}"})
        # Small upload batches keep a request in flight most of the time.
        await realm.session.wait_for(lambda: realm.writes.acked_version() >= WRITES // 4, 60,
                                     "the first uploads")
        server.send_signal(signal.SIGKILL)  # mid-upload
        server.wait()
        acknowledged = realm.writes.acked_version()
        assert acknowledged < WRITES, "everything was uploaded before the kill: no crash tested"
        server = _serve(store_url, port)
        await asyncio.to_thread(wait_for_server, url, server)
        await realm.session.wait_for_upload(120)
        await realm.session.wait_for_download(120)
        summaries = sorted(realm.query("Item", "summary BEGINSWITH 'crash-test '")["summary"])
        assert summaries == sorted(f"crash-test {n}" for n in range(WRITES))
    finally:
        await realm.close()
        await app.aclose()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    await _check_store(store_url)


async def _check_store(store_url: str) -> None:
    """Each write exists once on the server, with one history entry."""
    from realm_jupyter.demo import DEMO_APP_DIR
    from realm_jupyter.server.appdir import load_app
    from realm_jupyter.server.storage import open_store

    config = load_app(DEMO_APP_DIR)
    store = open_store(store_url)
    await store.open(config.schema.types, {})
    try:
        history = await store.history(0, 100_000)
        created = [e for e in history if e.doc is not None and e.prev is None
                   and str(e.doc.get("summary", "")).startswith("crash-test ")]
        assert len(created) == WRITES
        assert len({e.pk for e in created}) == WRITES
    finally:
        await store.close()


@pytest.fixture(autouse=True)
def small_upload_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writes, "UPLOAD_BATCH", 3)


async def test_sqlite_server_killed_mid_upload(tmp_path: Path) -> None:
    await _scenario(f"sqlite:///{tmp_path / 'store.sqlite3'}", tmp_path)


@pytest.mark.postgres
async def test_postgresql_server_killed_mid_upload(tmp_path: Path,
                                                   postgres_cluster: PostgresCluster) -> None:
    await _scenario(postgres_cluster.create_database(f"crash_{os.getpid()}"), tmp_path)
