"""The cache outlives the kernel: subscriptions, data, cursor, queued writes, the lock."""

from __future__ import annotations

import pytest
from bson import ObjectId

from realm_jupyter.client import Realm, SubscriptionSetState
from realm_jupyter.errors import CacheLockedError, SubscriptionError
from tests.client.conftest import Clients
from tests.client.processes import child, kill, read_line, spawn
from tests.client.support import (
    ALICE,
    CAROL,
    assert_same_documents,
    expected_view,
    frame_documents,
)
from tests.support.servers import PASSWORDS, ServerUnderTest


def described(realm: Realm) -> list[tuple[object, ...]]:
    return [(s.id, s.name, s.object_type, s.query, s.created_at, s.updated_at)
            for s in realm.subscriptions]


async def test_reopening_keeps_subscriptions_data_and_cursor(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item", "status == 'open'", name="open")
    await alice.subscribe("Order", "region == 'north'")
    async with alice.subscriptions.update() as m:
        m.add("Item", "status == 'done' SORT(priority ASC)", name="rejected")
    with pytest.raises(Exception, match="SORT"):
        await alice.subscriptions.wait_for_synchronization(20)
    before = described(alice)
    version, error = alice.subscriptions.version, alice.subscriptions.error
    orders = alice.df("Order")
    cursor, logged = alice.cache.cursor_version, len(alice.changes())
    await alice.close()

    carol = await clients.open(CAROL.email)
    await carol.subscribe("Item")
    with carol.write() as tx:
        pk = tx.create("Item", {"owner_id": CAROL.id, "summary": "while Alice was away",
                                "team": "north", "status": "open"})
    await carol.session.wait_for_upload(20)

    alice = await clients.open(ALICE.email)
    assert described(alice) == before
    assert (alice.subscriptions.version, alice.subscriptions.state) == (version, "error")
    assert alice.subscriptions.error == error
    assert alice.subscription_store.state(version - 1) is SubscriptionSetState.COMPLETE
    await alice.session.wait_for_download(20)
    assert alice.df("Order").equals(orders)
    expected = await expected_view(demo_server.store, ALICE.email, "Item",
                                   lambda d: d["status"] == "open")
    assert str(pk) in expected
    assert_same_documents(frame_documents("Item", alice.df("Item")), expected)
    # The reopened session resumed from its cursor: one new row in the log, no bootstrap.
    assert alice.cache.cursor_version > cursor
    new = alice.changes().iloc[logged:]
    assert new[["object_type", "pk", "operation", "origin"]].values.tolist() == [
        ["Item", f'"{pk}"', "upsert", "server"]]


async def test_a_cache_open_in_another_process_is_locked(clients: Clients) -> None:
    path = clients.path("held")
    alice = await clients.open(ALICE.email, "held")
    await alice.close()
    async with child("hold", str(path)) as holder:
        assert await read_line(holder) == "ready"
        with pytest.raises(CacheLockedError, match=f"PID {holder.pid}") as caught:
            await clients.open(ALICE.email, "held")
        assert caught.value.hint and "another" in str(caught.value)
        assert holder.stdin is not None
        holder.stdin.close()
        assert await holder.wait() == 0
    reopened = await clients.open(ALICE.email, "held")
    assert reopened.subscriptions.version == 0


async def test_a_write_survives_kill_9_and_is_uploaded_once(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    path = clients.path("crashed")
    writer = await spawn("write", demo_server.url, demo_server.app_id, ALICE.email,
                         PASSWORDS[ALICE.email], str(path))
    try:
        pk = ObjectId(await read_line(writer))
    finally:
        await kill(writer)
    assert await demo_server.store.get_documents("Item", [pk]) == {}

    ran: list[int] = []

    def initial(m: object) -> None:
        ran.append(1)
        m.add("Order", "region == 'north'", name="initial")  # type: ignore[attr-defined]

    # The cache was made by another process: rerun_on_open runs the initializer here,
    # and Realm.open returns once its set is complete.
    alice = await clients.open(ALICE.email, "crashed", initial_subscriptions=initial,
                               rerun_on_open=True)
    assert ran == [1] and alice.subscriptions.state is SubscriptionSetState.COMPLETE
    assert alice.subscriptions.version == 2 and alice.count("Order") > 0
    assert alice.count("Item", "_id == $0", pk) == 1  # the local write is still there
    await alice.session.wait_for_upload(20)
    stored = await demo_server.store.get_documents("Item", [pk])
    assert stored[pk]["summary"] == "written just before a crash"
    await alice.close()

    alice = await clients.open(ALICE.email, "crashed", initial_subscriptions=initial,
                               rerun_on_open=True)
    assert ran == [1] and alice.subscriptions.version == 2  # not the first open here
    await alice.session.wait_for_upload(20)
    await alice.session.wait_for_download(20)
    history = [e for e in await demo_server.store.history(0, 100_000) if str(e.pk) == str(pk)]
    assert [(e.client_id, e.client_version) for e in history] == [(alice.client_id, 1)]


async def test_initial_subscriptions_run_on_a_new_cache_only(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    calls: list[str] = []

    async def initial(m: object) -> None:
        calls.append("ran")
        m.add("Item", "status == 'open'", name="initial")  # type: ignore[attr-defined]

    async def rejected(m: object) -> None:
        m.add("Item", "summary == 'not queryable'")  # type: ignore[attr-defined]

    with pytest.raises(SubscriptionError, match="not a queryable field"):
        await clients.open(ALICE.email, "refused", initial_subscriptions=rejected)
    refused = await clients.open(ALICE.email, "refused")  # closed again: free to reopen
    assert refused.subscriptions.state is SubscriptionSetState.ERROR
    with pytest.raises(CacheLockedError, match="already open in this process"):
        await clients.open(ALICE.email, "refused")

    alice = await clients.open(ALICE.email, initial_subscriptions=initial)
    assert calls == ["ran"]
    assert (alice.subscriptions.version, alice.subscriptions.state) == (1, "complete")
    expected = await expected_view(demo_server.store, ALICE.email, "Item",
                                   lambda d: d["status"] == "open")
    assert_same_documents(frame_documents("Item", alice.df("Item")), expected)
    await alice.close()
    for rerun in (False, True):  # not new, and not the first open in this process
        alice = await clients.open(ALICE.email, initial_subscriptions=initial,
                                   rerun_on_open=rerun)
        assert calls == ["ran"] and alice.subscriptions.version == 1
        await alice.close()
