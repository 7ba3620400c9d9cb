"""Local writes: refused without a subscription, visible at once, uploaded, compensated."""

from __future__ import annotations

import pytest

from realm_jupyter.client import Realm
from realm_jupyter.errors import (
    CompensatingWriteError,
    NoSubscriptionForWriteError,
    RealmJupyterError,
    WriteError,
)
from tests.client.conftest import Clients
from tests.client.support import ALICE, CAROL, server_documents
from tests.support.servers import ServerUnderTest
from tests.support.waiting import eventually


def item(realm: Realm, pk: object) -> dict[str, object]:
    rows = realm.query("Item", "_id == $0", pk).to_dict("records")
    assert len(rows) == 1, rows
    return rows[0]


async def test_a_type_without_subscription_cannot_be_written(clients: Clients) -> None:
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Order", "region == 'north'")
    log = len(alice.changes())
    with pytest.raises(NoSubscriptionForWriteError, match="Item"), alice.write() as tx:
        tx.create("Item", {"owner_id": ALICE.id, "summary": "nope", "team": "north"})
    with pytest.raises(NoSubscriptionForWriteError), alice.write() as tx:
        tx.update("Order", "64a47fe90300000007000101", {"status": "placed"})
        tx.create("Item", {"owner_id": ALICE.id, "summary": "nope", "team": "north"})
    assert alice.writes.pending_count() == 0 and len(alice.changes()) == log
    assert alice.count("Item") == 0
    with pytest.raises(WriteError), alice.write() as tx:
        tx.add_integer("Order", "64a47fe90300000007000101", "region", 1)
    await alice.subscribe("Item", "team == 'north'", wait="never")
    with alice.write() as tx:  # the latest set counts, complete or not
        tx.create("Item", {"owner_id": ALICE.id, "summary": "now fine", "team": "north"})
    assert alice.writes.pending_count() == 1 and alice.count("Item", "summary == 'now fine'") == 1


async def test_local_writes_show_at_once_and_reach_other_clients(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item", "team == 'north'")
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Item", "team == 'north'")
    alice.session.pause()  # nothing leaves before we look

    with alice.write() as tx:
        pk = tx.create("Item", {"owner_id": ALICE.id, "summary": "Plan the sprint",
                                "team": "north", "status": "open", "priority": 2,
                                "tags": ["planning"]})
        tx.add_integer("Item", pk, "priority", 2)
        tx.list_append("Item", pk, "tags", "team")
    assert item(alice, pk)["priority"] == 4 and item(alice, pk)["tags"] == ["planning", "team"]
    assert alice.writes.pending_count() == 1
    local = alice.changes().iloc[-1]
    assert (local["origin"], local["operation"], local["pk"]) == ("local", "upsert", f'"{pk}"')

    alice.session.resume()
    await alice.session.wait_for_upload(20)
    await carol.session.wait_for_download(20)
    assert item(carol, pk)["priority"] == 4 and item(carol, pk)["tags"] == ["planning", "team"]
    stored = (await server_documents(demo_server.store, "Item"))[str(pk)]
    assert stored["summary"] == "Plan the sprint" and stored["owner_id"] == ALICE.id

    with alice.write() as tx:
        tx.update("Item", pk, {"status": "done", "isComplete": True})
        tx.list_insert("Item", pk, "tags", 0, "first")
        tx.list_erase("Item", pk, "tags", 2)
    await alice.session.wait_for_upload(20)
    await carol.session.wait_for_download(20)
    seen = item(carol, pk)
    assert (seen["status"], seen["isComplete"], seen["tags"]) == ("done", True, ["first", "planning"])

    with alice.write() as tx:
        tx.delete("Item", pk)
    assert alice.count("Item", "_id == $0", pk) == 0
    await alice.session.wait_for_upload(20)
    await carol.session.wait_for_download(20)
    assert carol.count("Item", "_id == $0", pk) == 0
    assert str(pk) not in await server_documents(demo_server.store, "Item")


async def test_compensating_writes_are_rolled_back_and_reported_once(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    errors: list[RealmJupyterError] = []

    def on_error(realm: Realm, error: RealmJupyterError) -> None:
        errors.append(error)

    alice = await clients.open(ALICE.email, on_error=on_error)
    await alice.subscribe("Item", "team == 'north'")
    others = alice.query("Item", "owner_id != $0", ALICE.id)
    theirs, original = others["_id"].iloc[0], others["summary"].iloc[0]

    with alice.write() as tx:
        outside = tx.create("Item", {"owner_id": ALICE.id, "summary": "filed under south",
                                     "team": "south", "status": "open"})
        tx.update("Item", theirs, {"summary": "not mine to change"})
        fine = tx.create("Item", {"owner_id": ALICE.id, "summary": "a legal write",
                                  "team": "north"})
    assert alice.count("Item", "_id == $0", outside) == 1  # optimistic, until the server says
    assert item(alice, theirs)["summary"] == "not mine to change"
    await alice.session.wait_for_upload(20)
    await alice.session.wait_for_download(20)
    await eventually(lambda: len(errors) >= 1, what="the error handler")

    assert len(errors) == 1 and isinstance(errors[0], CompensatingWriteError)
    reported = {(w.object_type, str(w.primary_key)): w.reason for w in errors[0].writes}
    assert set(reported) == {("Item", str(outside)), ("Item", str(theirs))}
    assert "object is outside of the current query view" in reported[("Item", str(outside))]
    assert "not allowed" in reported[("Item", str(theirs))]
    assert alice.count("Item", "_id == $0", outside) == 0  # rolled back locally
    assert item(alice, theirs)["summary"] == original
    assert item(alice, fine)["summary"] == "a legal write"
    server = await server_documents(demo_server.store, "Item")
    assert str(outside) not in server and server[str(theirs)]["summary"] == original
    rejected = alice.rejected_writes()
    assert sorted(rejected["primary_key"]) == sorted([str(outside), str(theirs)])
    assert set(rejected["object_type"]) == {"Item"} and rejected["reason"].str.len().min() > 0

    alice.session.pause()
    alice.session.resume()
    await alice.session.wait_for_download(20)
    await alice.close()
    alice = await clients.open(ALICE.email, on_error=on_error)
    await alice.session.wait_for_download(20)
    with alice.write() as tx:
        tx.update("Item", fine, {"status": "done"})
    await alice.session.wait_for_upload(20)
    await alice.session.wait_for_download(20)
    assert len(errors) == 1 and len(alice.rejected_writes()) == 2

