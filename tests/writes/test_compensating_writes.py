"""Compensating writes (reference §2.7 and behaviours 30–34, 38): reverted, rolled back, reported once."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from realm_jupyter.client import Realm
from realm_jupyter.errors import CompensatingWriteError, RealmJupyterError
from tests.support.servers import serving
from tests.writes.conftest import settle

KEYED_APP = Path(__file__).parents[1] / "fixtures" / "apps" / "keyed"


def collect(errors: list[RealmJupyterError]) -> Any:
    return lambda realm, error: errors.append(error)


def reverted(errors: list[RealmJupyterError]) -> list[Any]:
    return [w for e in errors if isinstance(e, CompensatingWriteError) for w in e.writes]


async def test_a_create_outside_the_view_is_reverted_and_reported(make_clients: Any) -> None:
    errors: list[RealmJupyterError] = []
    async with make_clients("alice@example.com", on_error=collect(errors)) as (alice,):
        await alice.subscribe("Item", "owner_id == $0", alice.user.id)
        with alice.write() as tx:
            pk = tx.create("Item", {"owner_id": "someone-else", "summary": "not mine"})
        assert len(alice.query("Item", "_id == $0", pk)) == 1  # optimistic
        await settle(alice)
        assert alice.query("Item", "_id == $0", pk).empty
        (write,) = reverted(errors)
        assert write.object_type == "Item" and write.primary_key == str(pk)
        assert write.reason.endswith("object is outside of the current query view")
        assert write.reason.startswith(f'write to ObjectID("{pk}") in table "Item" not allowed')
        rejected = alice.rejected_writes()
        assert list(rejected["object_type"]) == ["Item"]


async def test_a_readable_but_not_writable_object_is_restored(make_clients: Any) -> None:
    errors: list[RealmJupyterError] = []
    async with make_clients("alice@example.com", on_error=collect(errors)) as (alice,):
        orders = await alice.subscribe("Order", "region == 'north'")
        pk, quantity = orders["_id"].iloc[0], int(orders["quantity"].iloc[0])
        with alice.write() as tx:
            tx.update("Order", pk, {"quantity": quantity + 100})
        assert int(alice.query("Order", "_id == oid(" + pk + ")")["quantity"].iloc[0]) == quantity + 100
        await settle(alice)
        assert int(alice.query("Order", "_id == oid(" + pk + ")")["quantity"].iloc[0]) == quantity
        (write,) = reverted(errors)
        assert write.object_type == "Order" and "not allowed" in write.reason


async def test_an_illegal_write_does_not_take_legal_writes_with_it(make_clients: Any,
                                                                   demo_server: Any) -> None:
    errors: list[RealmJupyterError] = []
    async with make_clients("alice@example.com", on_error=collect(errors)) as (alice,):
        orders = await alice.subscribe("Order", "region == 'north'")
        mine = await alice.subscribe("Item", "owner_id == $0", alice.user.id)
        order_pk, item_pk = orders["_id"].iloc[0], mine["_id"].iloc[0]
        before = await demo_server.store.get_documents("Order", [_oid(order_pk)])
        with alice.write() as tx:
            tx.update("Order", order_pk, {"quantity": 999})     # illegal
            tx.update("Order", order_pk, {"discount": 0.5})     # same object: lost with it
            tx.update("Item", item_pk, {"summary": "still mine"})  # legal, stands
        await settle(alice)
        after = await demo_server.store.get_documents("Order", [_oid(order_pk)])
        assert after == before
        item = await demo_server.store.get_documents("Item", [_oid(item_pk)])
        assert item[_oid(item_pk)]["summary"] == "still mine"
        assert alice.query("Item", "_id == oid(" + item_pk + ")")["summary"].tolist() == ["still mine"]
        assert len(reverted(errors)) == 1


async def test_a_compensating_write_is_reported_once_even_across_reopen(
        demo_server: Any, tmp_path: Path) -> None:
    first: list[RealmJupyterError] = []
    cache = tmp_path / "alice.duckdb"
    async with demo_server.realm("alice@example.com", cache, on_error=collect(first)) as alice:
        await alice.subscribe("Item", "owner_id == $0", alice.user.id)
        with alice.write() as tx:
            tx.create("Item", {"owner_id": "someone-else", "summary": "nope"})
        await settle(alice)
        assert len(reverted(first)) == 1
        reported_at = alice.cache.cursor_version
    second: list[RealmJupyterError] = []
    async with demo_server.realm("alice@example.com", cache, on_error=collect(second)) as alice:
        await settle(alice)
        assert alice.cache.cursor_version >= reported_at
        assert second == []
        assert len(alice.rejected_writes()) == 1


@pytest.fixture
async def keyed_server(store_url: str) -> Any:
    async with serving(store_url, KEYED_APP, demo_size=None) as server:
        auth = server.service.auth
        await auth.add_user("ann@example.com", "ann-secret")
        await auth.add_user("ben@example.com", "ben-secret")
        yield server


@pytest.mark.parametrize(("object_type", "key"), [("Counter", 123456), ("Tag", "short"),
                                                  ("Doc", uuid.UUID(int=7))])
async def test_the_primary_key_comes_back_in_its_own_type(keyed_server: Any, tmp_path: Path,
                                                          object_type: str, key: Any) -> None:
    errors: list[RealmJupyterError] = []
    user = await keyed_server.login("ann@example.com", "ann-secret")
    realm = await Realm.open(user, cache=tmp_path / "ann.duckdb", on_error=collect(errors))
    try:
        await realm.subscribe(object_type, "store_id == 1 AND owner == $0", user.id)
        with realm.write() as tx:
            tx.create(object_type, {"_id": key, "store_id": 1, "owner": "ben"})  # not hers
        await settle(realm)
        (write,) = reverted(errors)
        expected = str(key) if isinstance(key, uuid.UUID) else key
        assert write.primary_key == expected
        shown = {int: str(key), str: f'"{key}"'}.get(type(key), f"UUID({key})")
        assert f"write to {shown} in table \"{object_type}\"" in write.reason
    finally:
        await realm.close()
        await user.app.aclose()


async def test_changing_the_indexed_queryable_field_is_reverted(keyed_server: Any,
                                                                tmp_path: Path) -> None:
    errors: list[RealmJupyterError] = []
    user = await keyed_server.login("ann@example.com", "ann-secret")
    realm = await Realm.open(user, cache=tmp_path / "ann.duckdb", on_error=collect(errors))
    try:
        await realm.subscribe("Counter", "store_id IN {1, 2} AND owner == $0", user.id)
        with realm.write() as tx:
            tx.create("Counter", {"_id": 1, "store_id": 1, "owner": user.id, "value": 0})
        await settle(realm)
        assert errors == []
        with realm.write() as tx:
            tx.update("Counter", 1, {"store_id": 2})
        await settle(realm)
        assert realm.query("Counter", "_id == 1")["store_id"].tolist() == [1]
        (write,) = reverted(errors)
        assert "indexed queryable field" in write.reason
    finally:
        await realm.close()
        await user.app.aclose()


def _oid(text: str) -> Any:
    from bson import ObjectId

    return ObjectId(text)
