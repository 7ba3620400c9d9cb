"""The cache fails under a running realm: a broken file at open, a disk that fills up.

Real parts only: a real server over loopback HTTP, a real DuckDB file, and for the full
disk a real tmpfs of one megabyte (``tests/support/disks.py``) that the bootstrap of
a second subscription overflows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from realm_jupyter.cache import Cache
from realm_jupyter.client import Realm
from realm_jupyter.errors import CacheError, RealmJupyterError, SyncTimeoutError
from tests.client.support import ALICE
from tests.support.disks import resize, small_filesystem
from tests.support.servers import serving

#: Long enough never to be reached when the code is right; a hang fails instead of blocking.
GUARD = 120.0


async def test_a_damaged_cache_file_at_open_is_one_cache_error(tmp_path: Path) -> None:
    async with serving(f"sqlite:///{tmp_path / 'store.sqlite3'}") as server:
        path = tmp_path / "cache.duckdb"
        async with server.realm(ALICE.email, path) as realm:
            await realm.subscribe("Item", "TRUEPREDICATE")
            await realm.subscribe("Order", "TRUEPREDICATE")
        size = path.stat().st_size
        with path.open("r+b") as file:  # keep the header, lose the rest
            file.truncate(max(size // 2, 4096 * 3))
            file.seek(4096 * 3)
            file.write(os.urandom(4096))
        user = await server.login(ALICE.email)
        try:
            with pytest.raises(CacheError) as caught:
                await Realm.open(user, cache=path)
        finally:
            await user.app.aclose()
        message = str(caught.value)
        assert "\n" not in message and str(path) in message and "delete it to resync" in message
        for leftover in path.parent.glob(path.name + "*"):  # the .wal, the .tmp spill folder
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        async with server.realm(ALICE.email, path) as realm:  # the advice works
            await realm.subscribe("Item", "TRUEPREDICATE")
            assert len(realm.df("Item")) > 0


async def test_a_full_disk_stops_sync_with_one_cache_error_and_keeps_what_was_committed(
        tmp_path: Path) -> None:
    reported: list[RealmJupyterError] = []

    def on_error(realm: Realm, error: RealmJupyterError) -> None:
        reported.append(error)

    with small_filesystem(tmp_path / "disk", "1m") as disk:
        path = disk / "cache.duckdb"
        async with serving(f"sqlite:///{tmp_path / 'store.sqlite3'}", demo_size=20_000) as server, \
                server.realm(ALICE.email, path, on_error=on_error) as realm:
            items = await realm.subscribe("Item", "TRUEPREDICATE", timeout=GUARD)
            assert len(items) > 0
            # Alice's Orders are about 2 MB in the cache: the bootstrap cannot fit.
            with pytest.raises(CacheError) as caught:
                await realm.subscribe("Order", "TRUEPREDICATE", timeout=GUARD)
            assert not isinstance(caught.value, SyncTimeoutError)
            message = str(caught.value)
            assert "\n" not in message and str(path) in message and "is full" in message
            assert "continues in the background" not in message
            assert caught.value.hint and "resume" in caught.value.hint
            assert reported == [caught.value]  # reported once, the same error
            assert realm.session.state.value == "inactive"
            # a later wait does not wait for what cannot come either
            with pytest.raises(CacheError):
                await asyncio.wait_for(realm.subscriptions.wait_for_synchronization(), GUARD)
            with pytest.raises(CacheError):
                await realm.session.wait_for_download(GUARD)
            assert realm.df("Item").equals(items)  # what was committed is still there
            assert reported == [caught.value]
            # space freed: resuming finishes the subscription from where the cache is
            resize(disk, "64m")
            realm.session.resume()
            await realm.subscriptions.wait_for_synchronization(GUARD)
            orders = len(realm.df("Order"))
            assert orders > 0 and realm.df("Item").equals(items)
            assert reported == [caught.value]
        reopened = Cache(path, read_only=True)
        try:
            rows = reopened.execute('SELECT count(*) FROM "Order"').fetchall()[0][0]
            assert rows == orders
        finally:
            reopened.close()
