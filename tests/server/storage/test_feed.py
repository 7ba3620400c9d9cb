"""The history feed every session of a process shares: the store's history, read once and cached."""

from __future__ import annotations

from realm_jupyter.schema import Schema
from realm_jupyter.server.feed import HistoryFeed
from realm_jupyter.server.storage import Store

from .conftest import SCHEMAS, note, put_all


async def versions(feed: HistoryFeed, after: int, latest: int) -> list[int]:
    return [e.entry.version for e in await feed.read(after, latest)]


async def test_the_feed_serves_any_range_of_history_before_and_after_eviction(store: Store) -> None:
    for n in range(30):
        await put_all(store, [note(f"n{n:02d}", n=n)])
    feed = HistoryFeed(store, Schema(SCHEMAS), capacity=10)
    assert await versions(feed, 20, 25) == [21, 22, 23, 24, 25]  # the first reader sets the start
    assert await versions(feed, 25, 25) == []
    assert await versions(feed, 5, 8) == [6, 7, 8]  # older than the cache: from the store
    assert await versions(feed, 24, 30) == list(range(25, 31))
    for n in range(30, 60):  # the cache evicts its oldest entries …
        await put_all(store, [note(f"n{n:02d}", n=n)])
    assert await versions(feed, 29, 60) == list(range(30, 61))
    assert await versions(feed, 21, 23) == [22, 23]  # … which are read from the store again
    assert await versions(feed, 55, 57) == [56, 57]
    entries = await feed.read(56, 57)
    assert entries[0].doc is not None and entries[0].doc["n"] == 56  # decoded documents
    assert entries[0] is (await feed.read(56, 57))[0]  # decoded once, shared by every session


async def test_a_compacting_load_leaves_a_gap_the_feed_steps_over(store: Store) -> None:
    from .test_reads import note_table

    await put_all(store, [note("a")])
    feed = HistoryFeed(store, Schema(SCHEMAS))
    assert await versions(feed, 0, 1) == [1]
    loaded = await store.bulk_load(SCHEMAS["Note"], note_table(3), compact=True)
    after = await put_all(store, [note("b")])
    assert await versions(feed, 1, after) == [after]  # no history for the load's version
    assert loaded == after - 1
