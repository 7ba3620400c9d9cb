"""Snapshots, batches, bulk loads and history trimming, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pyarrow as pa

from realm_jupyter.server.storage import Store
from realm_jupyter.server.storage.bulk import BULK_HISTORY_LIMIT
from realm_jupyter.wire import arrow_schema, rows_to_arrow

from .conftest import COUNTER, NOTE, note, put_all, putter, where

WIRE_NOTE = {"_id": "a", "n": 1, "body": "body of a", "secret": "secret of a", "price": "12.50",
             "flag": True, "ratio": 0.25, "tags": '["a","b"]', "meta": '{"k":"x","v":7}'}


def plain(value: Any) -> Any:
    """JSON columns compare as JSON (PostgreSQL spells jsonb text with spaces)."""
    return orjson.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def rows(tables: Any) -> list[dict[str, Any]]:
    return [row for table in tables for row in table.to_pylist()]


async def snapshot(store: Store) -> Any:
    return await asyncio.to_thread(store.snapshot)


async def test_a_snapshot_does_not_see_later_writes(store: Store) -> None:
    await put_all(store, [note("a"), note("b"), note("c")])
    snap = await snapshot(store)
    try:
        await put_all(store, [note("d"), note("a", n=50)])
        await store.write(putter("Note", "b", None))
        sql, params, functions = where(store, "TRUEPREDICATE")
        assert snap.version == 3
        assert snap.count(NOTE, sql, params) == 3
        seen = rows(snap.batches(NOTE, sql, params, functions=functions))
        assert [(r["_id"], r["n"]) for r in seen] == [("a", 1), ("b", 1), ("c", 1)]
        assert [h.version for h in snap.history(0, 100)] == [1, 2, 3]
        assert list(snap.pks(NOTE, sql, params)) == [["a", "b", "c"]]
    finally:
        await asyncio.to_thread(snap.close)
    later = await snapshot(store)
    try:
        assert later.version == 6
        assert [h.version for h in later.history(3, 100)] == [4, 5, 6]
        assert [h.version for h in later.history(0, 2)] == [1, 2]
        assert list(later.pks(NOTE, sql, params)) == [["a", "c", "d"]]
    finally:
        await asyncio.to_thread(later.close)


async def test_batches_come_in_wire_types_and_primary_key_order(store: Store) -> None:
    keys = ["b", "B", "a", "_x", "Z10", "Z9", "é", "ab"]
    await put_all(store, [note(k, n=i) for i, k in enumerate(keys)])
    snap = await snapshot(store)
    try:
        sql, params, functions = where(store, "TRUEPREDICATE")
        tables = list(snap.batches(NOTE, sql, params, functions=functions, batch_rows=3))
        assert [t.num_rows for t in tables] == [3, 3, 2]
        assert all(t.schema == arrow_schema(NOTE) for t in tables)
        ordered = sorted(keys, key=lambda k: k.encode())  # byte order, whatever the locale
        assert [r["_id"] for r in rows(tables)] == ordered
        first = next(r for r in rows(tables) if r["_id"] == "a")
        assert {k: plain(first[k]) for k in WIRE_NOTE} == {
            k: plain(v) for k, v in {**WIRE_NOTE, "n": keys.index("a")}.items()}
        assert first["when"].isoformat() == "2024-05-01T12:30:15.123000+00:00"
        # resuming after a key continues in the same order
        after = rows(snap.batches(NOTE, sql, params, functions=functions, after="Z9"))
        assert [r["_id"] for r in after] == ordered[ordered.index("Z9") + 1:]
        rest = ordered[ordered.index("Z9") + 1:]
        assert list(snap.pks(NOTE, sql, params, after="Z9", batch_rows=2)) == [
            rest[i : i + 2] for i in range(0, len(rest), 2)]
    finally:
        await asyncio.to_thread(snap.close)


async def test_integer_keys_order_numerically(store: Store) -> None:
    def work(tx: Any) -> None:
        from realm_jupyter.server.storage import Change

        for pk in (10, 9, 100, -1, 2):
            tx.put(Change("Counter", pk, {"_id": pk, "value": None}), None)

    await store.write(work)
    snap = await snapshot(store)
    try:
        sql, params, _ = where(store, "TRUEPREDICATE", COUNTER)
        assert [r["_id"] for r in rows(snap.batches(COUNTER, sql, params))] == [-1, 2, 9, 10, 100]
        assert list(snap.pks(COUNTER, sql, params, after=9)) == [[10, 100]]
        nulls = rows(snap.batches(COUNTER, sql, params))
        assert all(r["value"] is None for r in nulls)
    finally:
        await asyncio.to_thread(snap.close)


async def test_conditions_hidden_fields_and_case_folding(store: Store) -> None:
    await put_all(store, [note("a", n=1, body="Alpha"), note("b", n=5, body="beta", tags=[]),
                          note("c", n=None, body="ALPS", meta=None)])
    snap = await snapshot(store)
    try:
        sql, params, functions = where(store, "n >= 1")
        assert snap.count(NOTE, sql, params) == 2
        hidden = frozenset({"secret", "meta", "price"})
        seen = rows(snap.batches(NOTE, sql, params, functions=functions, hidden=hidden))
        assert [r["_id"] for r in seen] == ["a", "b"]
        assert all(r["secret"] is None and r["meta"] is None and r["price"] is None for r in seen)
        assert [r["body"] for r in seen] == ["Alpha", "beta"] and plain(seen[1]["tags"]) == []
        # a [c] query needs the store's own functions (SQLite) and still yields wire tables
        sql, params, functions = where(store, "body BEGINSWITH[c] 'al'")
        folded = list(snap.batches(NOTE, sql, params, functions=functions, hidden=hidden))
        assert [r["_id"] for r in rows(folded)] == ["a", "c"]
        assert all(t.schema == arrow_schema(NOTE) for t in folded)
        assert rows(folded)[1]["meta"] is None and rows(folded)[1]["n"] is None
        assert list(snap.pks(NOTE, sql, params, functions=functions)) == [["a", "c"]]
        assert snap.count(NOTE, sql, params) == 2
        sql, params, functions = where(store, "NOT (n >= 1)")  # a null n is "not >= 1"
        assert list(snap.pks(NOTE, sql, params, functions=functions)) == [["c"]]
    finally:
        await asyncio.to_thread(snap.close)


# --------------------------------------------------------------------------- bulk loads


def note_table(count: int, start: int = 0, n: int = 1) -> pa.Table:
    return rows_to_arrow(NOTE, [{"_id": f"bulk{i:06d}", "n": n, "body": "b", "tags": ["t"],
                                 "meta": {"k": "m", "v": i}, "price": "1.5",
                                 "when": "2024-01-01T00:00:00.000Z"}
                                for i in range(start, start + count)])


async def test_a_small_bulk_load_keeps_history_per_document(store: Store) -> None:
    await put_all(store, [note("bulk000001", n=0)])
    assert await store.has_clients() is False
    await store.create_client("c1", "u1")  # someone may be listening: keep every change
    assert await store.has_clients() is True
    version = await store.bulk_load(NOTE, note_table(3))
    assert version == 4
    history = await store.history(1)
    assert [(h.version, h.pk) for h in history] == [(2, "bulk000000"), (3, "bulk000001"),
                                                    (4, "bulk000002")]
    assert history[0].prev is None and history[1].prev["n"] == 0 and history[1].doc["n"] == 1
    assert history[1].doc["meta"] == {"k": "m", "v": 1} and history[1].doc["tags"] == ["t"]
    found = await store.get_documents("Note", ["bulk000001"])
    assert found["bulk000001"]["meta"] == {"k": "m", "v": 1}
    assert await store.trimmed_through() == 0


async def test_a_small_load_into_a_store_without_clients_compacts(store: Store) -> None:
    """Seeding a fresh store: no client can be behind, so no per-document history."""
    await put_all(store, [note("first")])
    assert await store.bulk_load(NOTE, note_table(3)) == 2
    assert (await store.trimmed_through(), await store.history(1)) == (2, [])
    assert len(await store.get_documents("Note", ["bulk000000", "bulk000002"])) == 2
    await store.create_client("c1", "u1")
    assert await store.bulk_load(NOTE, note_table(2, start=10), compact=True) == 3
    assert await store.history(2) == [] and await store.trimmed_through() == 3


async def test_a_large_bulk_load_compacts_history(store: Store) -> None:
    await store.create_client("c1", "u1")
    await put_all(store, [note("bulk000005", n=0), note("zzz")])
    count = BULK_HISTORY_LIMIT + 1
    version = await store.bulk_load(NOTE, note_table(count))
    assert version == 3  # one version for the whole load
    assert await store.latest_version() == 3
    assert await store.trimmed_through() == 3  # clients behind it must reset
    assert [h.version for h in await store.history(2)] == []
    snap = await snapshot(store)
    try:
        sql, params, _ = where(store, "TRUEPREDICATE")
        assert snap.count(NOTE, sql, params) == count + 1
        sql, params, _ = where(store, "n == 0")
        assert snap.count(NOTE, sql, params) == 0  # the existing document was replaced
    finally:
        await asyncio.to_thread(snap.close)
    found = await store.get_documents("Note", ["bulk000005", "bulk020000"])
    assert found["bulk000005"]["meta"] == {"k": "m", "v": 5}
    assert str(found["bulk020000"]["price"]) == "1.5" and found["bulk020000"]["tags"] == ["t"]
    assert await put_all(store, [note("after")]) == 4


# --------------------------------------------------------------------------- trimming


async def test_trimming_removes_old_history_and_moves_the_trim_point(store: Store) -> None:
    for n in range(4):
        await put_all(store, [note(f"t{n}", n=n)])
    history = await store.history(0)
    horizon = history[1].timestamp + 1
    expected = max(h.version for h in history if h.timestamp < horizon)
    assert await store.trim_history(horizon) == expected
    assert await store.trimmed_through() == expected
    assert [h.version for h in await store.history(0)] == [v for v in (1, 2, 3, 4) if v > expected]
    assert await store.trim_history(0) == expected  # nothing older: the point stays
    assert await store.trim_history(history[-1].timestamp + 1) == 4
    assert await store.history(0) == []
    assert await put_all(store, [note("new")]) == 5  # versions go on after the trim point


async def test_the_trim_point_never_moves_back(store: Store) -> None:
    await put_all(store, [note("old")])
    old = (await store.history(0))[0].timestamp
    await store.bulk_load(NOTE, note_table(BULK_HISTORY_LIMIT + 1))
    assert await store.trimmed_through() == 2
    # the hourly trim finds the entry of version 1 old enough: the point must stay at 2
    assert await store.trim_history(old + 1) == 2
    assert await store.trimmed_through() == 2
