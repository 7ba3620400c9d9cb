"""Subscribe, read, change: the client against a real server, compared with the server's data."""

from __future__ import annotations

import collections
import decimal

import pandas as pd
import pyarrow as pa

from realm_jupyter.client import SubscriptionSetState
from tests.client.conftest import Clients
from tests.client.support import (
    ALICE,
    CAROL,
    assert_same_documents,
    expected_view,
    frame_documents,
    server_documents,
)
from tests.support.servers import ServerUnderTest


def everything(doc: object) -> bool:
    return True


async def test_subscriptions_bring_exactly_the_readable_matching_documents(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    alice = await clients.open(ALICE.email)
    store = demo_server.store

    items = await alice.subscribe("Item", "status == 'open'")
    expected = await expected_view(store, ALICE.email, "Item", lambda d: d["status"] == "open")
    assert expected and len(expected) < len(await server_documents(store, "Item"))
    assert_same_documents(frame_documents("Item", items), expected)

    orders = await alice.subscribe("Order", "TRUEPREDICATE", name="orders")
    expected_orders = await expected_view(store, ALICE.email, "Order", everything)
    assert_same_documents(frame_documents("Order", orders), expected_orders)
    assert orders["customer"].isna().all()  # the field rule hides it from members

    profiles = await alice.subscribe("UserProfile")
    assert profiles["user_id"].tolist() == [ALICE.id]
    # Items of the first subscription are still there, and nothing else.
    assert_same_documents(frame_documents("Item", alice.df("Item")), expected)

    carol = await clients.open(CAROL.email)
    north = await carol.subscribe("Order", "region == $0", "north")
    expected_north = await expected_view(store, CAROL.email, "Order",
                                         lambda d: d["region"] == "north")
    assert_same_documents(frame_documents("Order", north), expected_north)
    assert north["customer"].notna().all()


async def test_dataframes_have_real_dtypes(clients: Clients) -> None:
    carol = await clients.open(CAROL.email)
    orders = await carol.subscribe("Order")
    items = await carol.subscribe("Item")
    assert not any(pd.api.types.is_object_dtype(d) for d in [*orders.dtypes, *items.dtypes])
    for frame, column in ((orders, "_id"), (orders, "region"), (items, "summary")):
        assert pd.api.types.is_string_dtype(frame[column].dtype), column
    assert orders["store_id"].dtype == "int64" and items["priority"].dtype == "int64"
    assert orders["discount"].dtype == "float64" and orders["is_gift"].dtype == bool
    assert isinstance(orders["ordered_at"].dtype, pd.DatetimeTZDtype)
    assert str(orders["ordered_at"].dt.tz) == "UTC"
    arrow = {name: orders[name].dtype for name in ("amount", "customer", "skus")}
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in arrow.values())
    assert pa.types.is_decimal(arrow["amount"].pyarrow_dtype)
    assert pa.types.is_struct(arrow["customer"].pyarrow_dtype)
    assert pa.types.is_list(arrow["skus"].pyarrow_dtype)
    assert isinstance(orders["amount"].iloc[0], decimal.Decimal)
    assert set(orders["customer"].iloc[0]) == {"name", "city", "country"}


async def test_local_queries_sql_and_indexes(clients: Clients, demo_server: ServerUnderTest) -> None:
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Order")
    docs = list((await expected_view(demo_server.store, CAROL.email, "Order", everything)).values())
    city = collections.Counter(d["customer"]["city"] for d in docs).most_common(1)[0][0]

    top = carol.query("Order", "customer.city == $0 SORT(amount DESC) LIMIT(5)", city)
    in_city = sorted((d for d in docs if d["customer"]["city"] == city),
                     key=lambda d: d["amount"], reverse=True)
    assert [decimal.Decimal(a).normalize() for a in top["amount"]] == \
        [d["amount"] for d in in_city[:5]]
    assert (top["customer"].map(lambda c: c["city"]) == city).all()

    distinct = carol.query("Order", "TRUEPREDICATE DISTINCT(region)")
    assert sorted(distinct["region"]) == sorted({d["region"] for d in docs})
    many_skus = carol.query("Order", "skus.@count >= 3")
    assert len(many_skus) == sum(len(d["skus"]) >= 3 for d in docs) > 0
    assert carol.count("Order", "region == 'south'") == sum(d["region"] == "south" for d in docs)
    assert carol.count("Order", "TRUEPREDICATE LIMIT(3)") == 3
    assert carol.count("Order", "TRUEPREDICATE DISTINCT(region)") == len(distinct)

    by_region = carol.sql('SELECT region, count(*) AS n FROM "Order" GROUP BY region ORDER BY region')
    assert dict(zip(by_region["region"], by_region["n"], strict=True)) == \
        dict(collections.Counter(d["region"] for d in docs))
    assert by_region["n"].dtype == "int64"

    indexed = carol.df("Order", index=True)
    assert indexed.index.name == "_id" and "_id" not in indexed.columns
    assert indexed.index.tolist() == sorted(d["_id"] for d in docs)
    assert carol.query("Order", "region == 'west'", index=True).index.name == "_id"


async def test_unsubscribe_shrinks_the_cache(clients: Clients, demo_server: ServerUnderTest) -> None:
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item", "status == 'open'")
    await alice.subscribe("Item", "status == 'done'", name="done")
    both = await expected_view(demo_server.store, ALICE.email, "Item",
                               lambda d: d["status"] in ("open", "done"))
    assert_same_documents(frame_documents("Item", alice.df("Item")), both)

    assert alice.unsubscribe("done") == 1
    assert alice.subscriptions.state is SubscriptionSetState.PENDING  # it did not wait
    assert alice.unsubscribe("done") == 0
    await alice.subscriptions.wait_for_synchronization(20)
    await alice.session.wait_for_download(20)
    open_only = await expected_view(demo_server.store, ALICE.email, "Item",
                                    lambda d: d["status"] == "open")
    assert len(open_only) < len(both)
    assert_same_documents(frame_documents("Item", alice.df("Item")), open_only)
    removed = alice.changes().query("operation == 'remove' and object_type == 'Item'")
    assert removed["rows"].sum() == len(both) - len(open_only)

    alice.unsubscribe(all=True)
    await alice.subscriptions.wait_for_synchronization(20)
    assert alice.row_counts() == {"Item": 0, "Order": 0, "UserProfile": 0}


async def test_writes_of_another_client_arrive(clients: Clients, demo_server: ServerUnderTest) -> None:
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item", "team == 'north'")
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Item")
    changed: list[set[str]] = []
    alice.session.add_change_listener(changed.append)

    with carol.write() as tx:
        pk = tx.create("Item", {"owner_id": CAROL.id, "summary": "Visit the north office",
                                "team": "north", "status": "open", "priority": 2})
    await carol.session.wait_for_upload(20)
    await alice.session.wait_for_download(20)
    row = alice.query("Item", "_id == $0", pk)
    assert row["summary"].tolist() == ["Visit the north office"]
    assert {"Item"} in changed

    with carol.write() as tx:
        tx.update("Item", pk, {"status": "done"})
    await carol.session.wait_for_upload(20)
    await alice.session.wait_for_download(20)
    assert alice.query("Item", "_id == $0", pk)["status"].tolist() == ["done"]

    with carol.write() as tx:
        tx.update("Item", pk, {"team": "south"})  # leaves Alice's view
    await carol.session.wait_for_upload(20)
    await alice.session.wait_for_download(20)
    assert alice.count("Item", "_id == $0", pk) == 0
    expected = await expected_view(demo_server.store, ALICE.email, "Item",
                                   lambda d: d.get("team") == "north")
    assert_same_documents(frame_documents("Item", alice.df("Item")), expected)
