"""A client that goes away while its bootstrap snapshot is being opened leaks no connection."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from realm_jupyter.server import session
from realm_jupyter.server.storage import Snapshot, Store

WAIT = 10.0


async def test_a_snapshot_opened_after_its_client_left_is_closed(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release, closed = threading.Event(), threading.Event(), threading.Event()
    open_snapshot = store.snapshot

    def slow_to_open() -> Snapshot:
        entered.set()
        release.wait(WAIT)
        snapshot = open_snapshot()
        close = snapshot.close

        def close_and_tell() -> None:
            close()
            closed.set()

        monkeypatch.setattr(snapshot, "close", close_and_tell)
        return snapshot

    monkeypatch.setattr(store, "snapshot", slow_to_open)
    opening: asyncio.Task[Any] = asyncio.create_task(session._open_snapshot(store))
    assert await asyncio.to_thread(entered.wait, WAIT)
    opening.cancel()  # the client disconnects while the worker thread is still connecting
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert await asyncio.to_thread(closed.wait, WAIT), "the orphaned snapshot was never closed"
