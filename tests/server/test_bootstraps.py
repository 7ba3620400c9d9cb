"""What a bootstrap sends: documents that match a subscription AND that the user may read.

The expectation comes from the generated demo data and the demo rules as the
test spells them (``conftest.may_read``), not from the server's rule engine;
``SessionRules``/``View`` only appear in a cross-check at the end.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from realm_jupyter.documents import from_plain
from realm_jupyter.server.views import View
from tests.support.servers import ServerUnderTest

from .conftest import (
    USERS,
    demo_rows,
    hidden_fields,
    may_read,
    new_client,
    plain,
    server_put,
    split_upserts,
)

Row = Mapping[str, Any]

#: Mixed subscriptions: several per type, overlapping, one type left out (UserProfile).
QUERIES: dict[str, list[str]] = {
    "Item": ["status == 'open'", "priority >= 4", "'security' IN tags"],
    "Order": ["store_id < 105", "channel == 'web' AND quantity > 2", "amount > 150.0"],
}
MATCHES: dict[str, list[Callable[[Row], bool]]] = {
    "Item": [lambda r: r["status"] == "open", lambda r: r["priority"] >= 4,
             lambda r: "security" in plain(r["tags"])],
    "Order": [lambda r: r["store_id"] < 105,
              lambda r: r["channel"] == "web" and r["quantity"] > 2,
              lambda r: decimal.Decimal(r["amount"]) > 150],
}


def expected(user: str, queries: Mapping[str, list[Callable[[Row], bool]]]
             ) -> dict[str, dict[Any, Row]]:
    rows = demo_rows()
    return {object_type: {row["_id"]: row for row in rows[object_type]
                          if any(match(row) for match in matches)
                          and may_read(user, object_type, row)}
            for object_type, matches in queries.items()}


def assert_same_rows(user: str, object_type: str, got: Row, want: Row) -> None:
    hidden = hidden_fields(user, object_type)
    for name, value in want.items():
        if name in hidden:
            assert got[name] is None, f"{object_type}.{name} must not reach {user}"
        else:
            assert plain(got[name]) == plain(value), (object_type, got["_id"], name)


async def test_a_bootstrap_holds_exactly_the_readable_matches(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    for user in ("alice", "bob", "carol"):
        await assert_bootstrap(demo_server, http, user)


async def assert_bootstrap(demo_server: ServerUnderTest, http: httpx.AsyncClient,
                           user: str) -> None:
    client = await new_client(demo_server, http, user)
    assert (await client.submit(1, QUERIES)).status_code == 200
    async with client.stream() as frames:
        seen = await client.sync(frames)
    want = expected(user, MATCHES)
    replica = client.replica
    assert replica.active == 1
    for object_type, rows in want.items():
        assert replica.pks(object_type) == set(rows), object_type
        for pk, row in rows.items():
            assert_same_rows(user, object_type, replica.docs[object_type][pk], row)
    assert replica.pks("UserProfile") == set()
    assert max(replica.received.values()) == 1  # overlapping subscriptions: sent once
    begin = next(h for h, _ in seen if h["t"] == "bootstrap_begin")
    assert begin["kind"] == "full" and begin["totals"]["rows"] == sum(map(len, want.values()))
    assert begin["totals"]["types"] == {t: len(rows) for t, rows in want.items()}
    # the data set is big enough for the rules to matter
    everything = demo_rows()
    if USERS[user].role == "member":
        assert any(not may_read(user, "Order", r) and any(m(r) for m in MATCHES["Order"])
                   for r in everything["Order"])


async def test_unreadable_documents_never_arrive_and_a_hidden_field_stays_null(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    everything = {t: ["TRUEPREDICATE"] for t in ("Item", "Order", "UserProfile")}
    await alice.submit(1, everything)
    async with alice.stream() as frames:
        await alice.sync(frames)
        rows = demo_rows()
        for object_type, docs in alice.replica.docs.items():
            assert all(may_read("alice", object_type, row) for row in docs.values())
            assert len(docs) == sum(may_read("alice", object_type, r) for r in rows[object_type])
        assert [p["user_id"] for p in alice.replica.docs["UserProfile"].values()] == [
            USERS["alice"].id]
        assert all(o["customer"] is None for o in alice.replica.docs["Order"].values())

        # a steady-state change keeps the field hidden, and unreadable changes never come
        north = next(r for r in rows["Order"] if r["region"] == "north")
        south = next(r for r in rows["Order"] if r["region"] == "south")
        await server_put(demo_server, "Order", south["_id"], lambda d: d.update(quantity=99))
        version = await server_put(demo_server, "Order", north["_id"],
                                   lambda d: d.update(quantity=42))
        changes = await frames.until(lambda h: h["t"] == "changes"
                                     and h["server_version"] >= version, replica=alice.replica)
        upserts = [split_upserts(h, p) for h, p in changes]
        orders = [row for batch in upserts for row in batch.get("Order", [])]
        assert [(o["_id"], o["quantity"], o["customer"]) for o in orders] == [
            (north["_id"], 42, None)]
    carol = await new_client(demo_server, http, "carol")
    await carol.submit(1, {"Order": [f"_id == oid({north['_id']})"]})
    async with carol.stream() as frames:
        await carol.sync(frames)
    (order,) = carol.replica.docs["Order"].values()
    assert plain(order["customer"]) == plain(north["customer"]) and order["quantity"] == 42


async def test_views_agree_with_the_independent_expectation(demo_server: ServerUnderTest) -> None:
    """Cross-check: the server's own view predicates say the same as ``may_read``."""
    service = demo_server.service
    rows = demo_rows()
    for user in USERS:
        record = await demo_server.store.get_user(USERS[user].id)
        rules = await service.rules(record)
        view = View.build(rules, 1, {t: ["TRUEPREDICATE"] for t in rows})
        for object_type, table in rows.items():
            object_schema = service.app.schema[object_type]
            for row in table:
                document = from_plain(object_schema, {k: plain(v) if object_schema[k].type.value
                                                      in ("object", "array") else v
                                                      for k, v in row.items()})
                assert view.contains(object_type, document) == may_read(user, object_type, row), (
                    user, object_type, row["_id"])
