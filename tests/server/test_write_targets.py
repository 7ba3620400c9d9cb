"""Every upload operation writes the object it names, and only after that object's checks.

An operation's primary key is what the permission checks, the clocks and the
history use; a ``create`` whose document names another ``_id`` must be refused,
or a user who may insert could overwrite anyone's document.
"""

from __future__ import annotations

from typing import Any

import httpx

from realm_jupyter.documents import from_plain, plain_value
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import ServerUnderTest

from .conftest import USERS, demo_rows, new_client, plain

ALICE_ID = USERS["alice"].id
BOB_ID = USERS["bob"].id


async def stored(server: ServerUnderTest, object_type: str, pk: Any) -> dict[str, Any] | None:
    object_schema = server.service.app.schema[object_type]
    key = from_plain(object_schema, {"_id": pk})["_id"]
    return (await server.store.get_documents(object_type, [key])).get(key)


def changeset(version: int, ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"client_version": version, "last_server_version": 0, "timestamp": 1_900_000_000_000,
            "ops": ops}


async def test_a_create_whose_document_names_another_object_is_refused(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["TRUEPREDICATE"]})
    victim = next(r for r in demo_rows()["Item"] if r["owner_id"] == BOB_ID)
    own_pk = "66aa0000000000000000f001"
    forged = plain_value({**{k: plain(v) for k, v in victim.items()},
                          "owner_id": ALICE_ID, "summary": "hijacked"})
    answer = await alice.post("sync/upload", {
        "protocol": PROTOCOL_VERSION, "client_id": alice.client_id,
        "changesets": [changeset(1, [{"op": "create", "type": "Item", "pk": own_pk, "doc": forged}])]})
    assert answer.status_code == 400, answer.text
    assert "primary key" in answer.json()["error"]
    document = await stored(demo_server, "Item", victim["_id"])
    assert document is not None
    assert document["owner_id"] == BOB_ID and document["summary"] == victim["summary"]
    assert await stored(demo_server, "Item", own_pk) is None


async def test_a_create_with_matching_keys_still_inserts(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["TRUEPREDICATE"]})
    pk = "66aa0000000000000000f002"
    doc = {"_id": pk, "owner_id": ALICE_ID, "summary": "mine", "status": "open", "priority": 3,
           "team": "north", "tags": []}
    answer = await alice.post("sync/upload", {
        "protocol": PROTOCOL_VERSION, "client_id": alice.client_id,
        "changesets": [changeset(1, [{"op": "create", "type": "Item", "pk": pk, "doc": doc}])]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["compensating"] == []
    document = await stored(demo_server, "Item", pk)
    assert document is not None and document["summary"] == "mine"


async def test_every_operation_names_one_target_and_only_fields_of_it(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    carol = await new_client(demo_server, http, "carol")  # admin: may write any Item
    await carol.submit(1, {"Item": ["TRUEPREDICATE"], "Order": ["TRUEPREDICATE"]})
    mine, other = (str(row["_id"]) for row in demo_rows()["Item"][:2])
    before = await stored(demo_server, "Item", other)
    version = await carol.latest()
    bad = [
        ({"op": "set", "type": "Item", "pk": mine, "field": "_id", "value": other},
         "primary key cannot be changed"),
        ({"op": "delete", "type": "Item", "pk": mine, "doc": {"_id": other}}, "'doc'"),
        ({"op": "set", "type": "Item", "pk": mine, "field": "summary", "value": "x",
          "doc": {"_id": other}}, "'doc'"),
        ({"op": "set", "type": "Item", "pk": mine, "field": "summary._id", "value": other},
         "non-object"),
        ({"op": "list_insert", "type": "Item", "pk": mine, "field": "summary", "index": 0,
          "value": "x"}, "not a list"),
        ({"op": "set_add", "type": "Item", "pk": mine, "field": "priority", "value": 1},
         "not a list"),
        ({"op": "add_integer", "type": "Item", "pk": mine, "field": "summary", "value": 1},
         "add_integer"),
        ({"op": "list_erase", "type": "Item", "pk": mine, "field": "tags", "index": 0,
          "value": other}, "'value'"),
        ({"op": "set", "type": "Customer", "pk": mine, "field": "name", "value": "x"},
         "unknown object type"),
        ({"op": "set", "type": "Order", "pk": mine, "field": "customer.name._id", "value": "x"},
         "non-object"),
    ]
    for op, reason in bad:
        answer = await carol.post("sync/upload", {
            "protocol": PROTOCOL_VERSION, "client_id": carol.client_id,
            "changesets": [changeset(1, [op])]})
        assert answer.status_code == 400, (op, answer.text)
        assert reason in answer.json()["error"], (op, answer.text)
    assert await carol.latest() == version
    assert await stored(demo_server, "Item", other) == before


async def test_a_set_inside_an_embedded_object_writes_only_the_named_object(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    carol = await new_client(demo_server, http, "carol")
    await carol.submit(1, {"Order": ["TRUEPREDICATE"]})
    target, bystander = (str(row["_id"]) for row in demo_rows()["Order"][:2])
    untouched = await stored(demo_server, "Order", bystander)
    answer = await carol.post("sync/upload", {
        "protocol": PROTOCOL_VERSION, "client_id": carol.client_id,
        "changesets": [changeset(1, [{"op": "set", "type": "Order", "pk": target,
                                      "field": "customer.city", "value": "Oslo"}])]})
    assert answer.status_code == 200 and answer.json()["compensating"] == [], answer.text
    document = await stored(demo_server, "Order", target)
    assert document is not None and document["customer"]["city"] == "Oslo"
    assert await stored(demo_server, "Order", bystander) == untouched


def test_applying_an_operation_leaves_the_document_it_was_given_alone() -> None:
    from bson import ObjectId

    from realm_jupyter.demo import DEMO_APP_DIR
    from realm_jupyter.documents import validate_document
    from realm_jupyter.operations import Operation, apply_operation
    from realm_jupyter.server.appdir import load_app

    schema = load_app(DEMO_APP_DIR).schema["Order"]
    pk = ObjectId()
    original = validate_document(schema, {
        "_id": pk, "region": "north", "store_id": 1, "status": "placed", "amount": "1",
        "ordered_at": "2026-01-01T00:00:00Z", "customer": {"name": "Ada", "city": "Köln"},
        "skus": ["a"]})
    kept = {**original, "customer": dict(original["customer"]), "skus": list(original["skus"])}
    city = apply_operation(original, Operation("set", "Order", pk, "customer.city", "Oslo"), schema)
    skus = apply_operation(original, Operation("list_insert", "Order", pk, "skus", "b", 0), schema)
    assert original == kept
    assert city is not None and city["customer"] == {"name": "Ada", "city": "Oslo", "country": None}
    assert skus is not None and skus["skus"] == ["b", "a"]


async def test_thousands_of_operations_on_one_object_integrate_in_order(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    carol = await new_client(demo_server, http, "carol")
    await carol.submit(1, {"Item": ["TRUEPREDICATE"]})
    pk = str(demo_rows()["Item"][0]["_id"])
    count = 3000
    ops = [{"op": "list_clear", "type": "Item", "pk": pk, "field": "tags"}]
    ops += [{"op": "list_insert", "type": "Item", "pk": pk, "field": "tags", "index": n,
             "value": f"t{n}"} for n in range(count)]
    answer = await carol.post("sync/upload", {
        "protocol": PROTOCOL_VERSION, "client_id": carol.client_id,
        "changesets": [changeset(1, ops)]})
    assert answer.status_code == 200 and answer.json()["compensating"] == [], answer.text
    document = await stored(demo_server, "Item", pk)
    assert document is not None and document["tags"] == [f"t{n}" for n in range(count)]
