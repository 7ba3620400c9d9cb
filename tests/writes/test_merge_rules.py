"""Realm's merge rules, each as a two-client offline scenario (reference §5.12, behaviours 49–57).

Alice and Carol both hold an object; both go offline (pause), each writes, Alice
first (so Carol's write is *later*); both come back. Every replica — both caches
and the server's store — must end identical and as the rule says.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from bson import ObjectId

from realm_jupyter.client import Realm
from tests.writes.conftest import settle

ALICE, CAROL = "alice@example.com", "carol@example.com"


async def _item(realm: Realm, **fields: Any) -> ObjectId:
    with realm.write() as tx:
        pk = tx.create("Item", {"owner_id": realm.user.id, "summary": "shared task",
                                "status": "open", "priority": 3, "team": "north", **fields})
    return pk


def _row(realm: Realm, pk: ObjectId) -> dict[str, Any] | None:
    frame = realm.query("Item", "_id == $0", pk)
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    row["tags"] = list(row["tags"])
    return {k: (None if v is not None and not isinstance(v, list) and pd.isna(v) else v)
            for k, v in row.items()}


async def _server_row(demo_server: Any, pk: ObjectId) -> dict[str, Any] | None:
    found = await demo_server.store.get_documents("Item", [pk])
    return found.get(pk)


async def _offline(alice: Realm, carol: Realm, first: Any, second: Any) -> None:
    alice.session.pause()
    carol.session.pause()
    first(alice)
    second(carol)
    alice.session.resume()
    await alice.session.wait_for_upload(30)
    carol.session.resume()
    await settle(alice, carol)


@pytest.fixture
async def pair(make_clients: Any) -> Any:
    async with make_clients(ALICE, CAROL) as (alice, carol):
        await alice.subscribe("Item", "owner_id == $0", alice.user.id)
        await carol.subscribe("Item")
        yield alice, carol


async def _shared(alice: Realm, carol: Realm, **fields: Any) -> ObjectId:
    pk = await _item(alice, **fields)
    await settle(alice, carol)
    assert _row(carol, pk) is not None
    return pk


async def _converged(demo_server: Any, pk: ObjectId, alice: Realm, carol: Realm) -> dict[str, Any] | None:
    a, c = _row(alice, pk), _row(carol, pk)
    assert a == c
    server = await _server_row(demo_server, pk)
    assert (server is None) == (a is None)
    if a is not None and server is not None:
        assert server["status"] == a["status"] and server["priority"] == a["priority"]
        assert server["tags"] == a["tags"] and server["summary"] == a["summary"]
    return a


async def test_later_set_of_a_field_wins(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol)
    await _offline(alice, carol,
                   lambda r: _commit(r, pk, {"status": "in_progress", "summary": "alice's words"}),
                   lambda r: _commit(r, pk, {"status": "done"}))
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None
    assert row["status"] == "done"            # Carol's later set
    assert row["summary"] == "alice's words"  # no conflict on this field


def _commit(realm: Realm, pk: ObjectId, changes: dict[str, Any]) -> None:
    with realm.write() as tx:
        tx.update("Item", pk, changes)


async def test_delete_wins_over_a_later_concurrent_edit(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol)

    def delete(realm: Realm) -> None:
        with realm.write() as tx:
            tx.delete("Item", pk)

    await _offline(alice, carol, delete, lambda r: _commit(r, pk, {"status": "done"}))
    assert await _converged(demo_server, pk, alice, carol) is None


async def test_concurrent_integer_adds_sum(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol, priority=0)

    def add(realm: Realm) -> None:
        with realm.write() as tx:
            tx.add_integer("Item", pk, "priority", 1)

    await _offline(alice, carol, add, add)
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None and row["priority"] == 2


async def test_an_add_folds_into_an_earlier_set(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol, priority=0)

    def add(realm: Realm) -> None:
        with realm.write() as tx:
            tx.add_integer("Item", pk, "priority", 1)

    await _offline(alice, carol, lambda r: _commit(r, pk, {"priority": 10}), add)
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None and row["priority"] == 11


async def test_a_later_set_discards_an_earlier_add(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol, priority=0)

    def add(realm: Realm) -> None:
        with realm.write() as tx:
            tx.add_integer("Item", pk, "priority", 1)

    await _offline(alice, carol, add, lambda r: _commit(r, pk, {"priority": 10}))
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None and row["priority"] == 10


async def test_concurrent_inserts_at_one_index_are_both_kept_earlier_first(
        pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol, tags=["x", "y"])

    def insert(value: str) -> Any:
        def write(realm: Realm) -> None:
            with realm.write() as tx:
                tx.list_insert("Item", pk, "tags", 1, value)
        return write

    await _offline(alice, carol, insert("from-alice"), insert("from-carol"))
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None and row["tags"] == ["x", "from-alice", "from-carol", "y"]


async def test_concurrent_erases_of_one_element_remove_it_once(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol, tags=["a", "b", "c"])

    def erase(realm: Realm) -> None:
        with realm.write() as tx:
            tx.list_erase("Item", pk, "tags", 1)

    await _offline(alice, carol, erase, erase)
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None and row["tags"] == ["a", "c"]


async def test_an_erase_beats_a_concurrent_set_of_the_element(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol, tags=["a", "b", "c"])

    def erase(realm: Realm) -> None:
        with realm.write() as tx:
            tx.list_erase("Item", pk, "tags", 1)

    def change(realm: Realm) -> None:
        with realm.write() as tx:
            tx.list_set("Item", pk, "tags", 1, "B")

    await _offline(alice, carol, change, erase)
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None and row["tags"] == ["a", "c"]


async def test_clear_wins_over_concurrent_inserts(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = await _shared(alice, carol, tags=["a", "b"])

    def clear(realm: Realm) -> None:
        with realm.write() as tx:
            tx.list_clear("Item", pk, "tags")

    def insert(realm: Realm) -> None:
        with realm.write() as tx:
            tx.list_insert("Item", pk, "tags", 0, "new")

    await _offline(alice, carol, insert, clear)
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None and row["tags"] == []


async def test_creates_of_one_primary_key_merge_field_by_field(pair: Any, demo_server: Any) -> None:
    alice, carol = pair
    pk = ObjectId()

    def create(summary: str, **fields: Any) -> Any:
        def write(realm: Realm) -> None:
            with realm.write() as tx:
                tx.create("Item", {"_id": pk, "owner_id": alice.user.id, "summary": summary,
                                   "team": "north", **fields})
        return write

    # Carol's create is later; Alice's set status for real, Carol left it out (a default).
    await _offline(alice, carol, create("from alice", status="open"), create("from carol"))
    row = await _converged(demo_server, pk, alice, carol)
    assert row is not None
    assert row["summary"] == "from carol"   # later real value
    assert row["status"] == "open"          # a default never beats a real value
