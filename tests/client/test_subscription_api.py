"""The subscription API (reference §7, behaviours 1–16 and 25–28) against a real server."""

from __future__ import annotations

import asyncio
import time

import pytest

from realm_jupyter.client import MutableSubscriptionSet, SubscriptionSetState
from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.errors import QueryError, SubscriptionError, SyncTimeoutError
from realm_jupyter.server.appdir import load_app
from tests.client.conftest import Clients
from tests.client.support import ALICE, CAROL, assert_same_documents, expected_view, frame_documents
from tests.support.servers import ServerUnderTest

S = SubscriptionSetState
SCHEMA = load_app(DEMO_APP_DIR).schema


def test_add_replaces_dedupes_and_refuses_by_name() -> None:
    m = MutableSubscriptionSet([], SCHEMA)
    first = m.add("Item", "status == $0", "open")
    assert m.add("Item", "status == 'open'").id == first.id and len(m) == 1  # unnamed dedupe
    assert first.query == "status == 'open'" and first.name is None
    a = m.add("Item", "priority > 3", name="a")
    b = m.add("Item", "priority > 3", name="b")
    assert a.id != b.id and len(m) == 3  # same query, two names
    assert m.add("Item", "priority > 3", name="a").id == a.id and len(m) == 3
    with pytest.raises(SubscriptionError, match="Duplicate subscription with name: a"):
        m.add("Item", "priority > 4", name="a")
    time.sleep(0.002)  # distinct timestamps for updated_at (not synchronisation)
    replaced = m.add("Order", "TRUEPREDICATE", name="a", update=True)
    assert (replaced.id, replaced.created_at) == (a.id, a.created_at)
    assert replaced.updated_at > a.updated_at
    assert [(s.name, s.object_type) for s in m if s.name == "a"] == [("a", "Order")]
    assert m.add("UserProfile").query == "TRUEPREDICATE"
    with pytest.raises(QueryError):
        m.add("Item", "no_such_field == 1")
    with pytest.raises(ValueError):
        m.add("NoSuchType")
    assert len(m) == 4


def test_removals() -> None:
    m = MutableSubscriptionSet([], SCHEMA)
    m.add("Item", "status == 'open'")
    m.add("Item", "status == 'done'", name="done")
    m.add("Order", "region == 'north'")
    m.add("Order", "region == 'south'", name="south")
    assert m.remove_by_query("Item", "status == 'done'") == 1  # named ones too
    assert m.clear(unnamed_only=True) == 2
    assert [s.name for s in m] == ["south"]
    m.add("Item", "status == 'open'")
    assert m.remove_by_type("Order") == 1 and [s.object_type for s in m] == ["Item"]
    assert not m.remove_by_name("south")
    assert m.remove(next(iter(m))) and m.clear() == 0


async def test_versions_states_and_find(clients: Clients) -> None:
    alice = await clients.open(ALICE.email)
    zero = alice.subscriptions
    assert zero.version == 0 and len(zero) == 0
    await zero.wait_for_synchronization(20)
    assert zero.state is S.COMPLETE
    await alice.session.wait_for_download(10)  # nothing in view: nothing to wait for

    async with alice.subscriptions.update() as m:
        m.add("Item", "status == 'open'", name="open")
        m.add("Order", "region == 'north'")
    one = alice.subscriptions
    assert (one.version, one.state) == (1, S.PENDING)
    await one.wait_for_synchronization(20)
    assert one.state is S.COMPLETE and zero.state is S.SUPERSEDED
    await zero.wait_for_synchronization(1)  # a superseded set resolves waiters
    found = one.find("Item", "status == $0", "open")
    assert found is not None and found.name == "open"  # find() sees named subscriptions
    assert one.find_by_name("open") == found and one.find_by_name("nope") is None
    assert one.find("Order", "region == 'north'") is not None

    async with alice.subscriptions.update() as m:
        m.clear()
    assert alice.subscriptions.version == 2
    async with alice.subscriptions.update():
        pass
    assert alice.subscriptions.version == 3
    with pytest.raises(RuntimeError):
        async with alice.subscriptions.update() as m:
            m.add("Item", "status == 'done'")
            raise RuntimeError("nothing is committed")
    assert alice.subscriptions.version == 3
    await alice.subscriptions.wait_for_synchronization(20)
    assert one.state is S.SUPERSEDED and list(alice.subscriptions) == []


async def test_subscribe_wait_modes(clients: Clients, demo_server: ServerUnderTest) -> None:
    carol = await clients.open(CAROL.email)
    await carol.subscriptions.wait_for_synchronization(20)
    frame = await carol.subscribe("Item", "status == 'open'")
    assert carol.subscriptions.state is S.COMPLETE and carol.subscriptions.version == 1
    expected = await expected_view(demo_server.store, CAROL.email, "Item",
                                   lambda d: d["status"] == "open")
    assert_same_documents(frame_documents("Item", frame), expected)
    again = await carol.subscribe("Item", "status == 'open'")  # first_time: nothing new
    assert carol.subscriptions.version == 1 and len(again) == len(frame)
    await carol.subscribe("Item", "status == 'open'", wait="always")
    assert carol.subscriptions.version == 1

    carol.session.pause()
    quick = await carol.subscribe("Order", "region == 'east'", name="east", wait="never")
    assert quick.empty and carol.subscriptions.state is S.PENDING
    with pytest.raises(SyncTimeoutError):
        await carol.subscribe("Order", "region == 'west'", name="east", timeout=0.2)
    assert carol.subscriptions.version == 3  # the timeout did not undo the change
    with pytest.raises(SyncTimeoutError):
        await carol.subscribe("Order", "region == 'west'", name="east", wait="always",
                              timeout=0.1)
    with pytest.raises(SubscriptionError, match="Duplicate"):
        await carol.subscribe("Order", "region == 'south'", name="east", update=False)
    carol.session.resume()
    await carol.subscriptions.wait_for_synchronization(20)
    west = await carol.subscribe("Order", "region == 'west'", name="east")
    assert set(west["region"]) == {"west"} and carol.count("Order") == len(west)

    started = asyncio.get_running_loop().time()
    assert carol.unsubscribe("east") == 1
    assert asyncio.get_running_loop().time() - started < 0.5
    assert carol.subscriptions.state is S.PENDING and carol.count("Order") == len(west)
    assert carol.unsubscribe(object_type="Item", query="status == 'open'") == 1
    with pytest.raises(ValueError):
        carol.unsubscribe()
    await carol.subscriptions.wait_for_synchronization(20)
    assert carol.row_counts()["Order"] == 0 and carol.row_counts()["Item"] == 0


async def test_a_rejected_set_errors_and_leaves_the_active_set(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item", "status == 'open'")
    active = alice.subscriptions.version
    before = alice.df("Item")
    async with alice.subscriptions.update() as m:
        m.add("Item", "summary == 'Fix login timeout'", name="bad")
    with pytest.raises(SubscriptionError, match="'summary' is not a queryable field") as caught:
        await alice.subscriptions.wait_for_synchronization(20)
    assert caught.value.version == active + 1
    assert alice.subscriptions.state is S.ERROR
    assert "summary" in (alice.subscriptions.error or "")
    assert alice.subscription_store.active.version == active
    await alice.session.wait_for_download(20)
    assert alice.df("Item").equals(before)

    async with alice.subscriptions.update() as m:
        m.remove_by_name("bad")
        m.add("Item", "status == 'done'")
    await alice.subscriptions.wait_for_synchronization(20)
    assert alice.subscription_store.active.version == alice.subscriptions.version == active + 2
    expected = await expected_view(demo_server.store, ALICE.email, "Item",
                                   lambda d: d["status"] in ("open", "done"))
    assert_same_documents(frame_documents("Item", alice.df("Item")), expected)


async def test_two_invalid_sets_made_offline_both_error(clients: Clients) -> None:
    alice = await clients.open(ALICE.email)
    alice.session.pause()
    zero = alice.subscriptions
    async with alice.subscriptions.update() as m:
        m.add("Item", "status == 'open' SORT(priority ASC)")
    one = alice.subscriptions
    async with alice.subscriptions.update() as m:
        m.clear()
        m.add("Order", "customer.city == 'Oslo'")
    two = alice.subscriptions
    alice.session.resume()
    with pytest.raises(SubscriptionError, match="SORT"):
        await one.wait_for_synchronization(20)
    with pytest.raises(SubscriptionError, match="dotted paths"):
        await two.wait_for_synchronization(20)
    assert (one.state, two.state) == (S.ERROR, S.ERROR)
    await zero.wait_for_synchronization(20)  # version 0 still completes when connected
    assert zero.state is S.COMPLETE
    assert alice.subscription_store.active.version == 0 and alice.subscriptions.version == 2
