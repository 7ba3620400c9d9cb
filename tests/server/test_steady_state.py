"""Steady state: documents move in and out of view, sets change, streams drop and resume."""

from __future__ import annotations

import httpx
import pytest

import realm_jupyter.server.session as session_module
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import ServerUnderTest

from .conftest import USERS, demo_rows, may_read, new_client, server_put, split_upserts

ALICE_ID = USERS["alice"].id


def item(pk: str, **fields: object) -> dict[str, object]:
    return {"_id": pk, "owner_id": "someone-else", "summary": "new", "status": "open",
            "priority": 3, "team": "north", "tags": [], **fields}


def readable_items(user: str, match: object = None) -> set[str]:
    return {r["_id"] for r in demo_rows()["Item"] if may_read(user, "Item", r)
            and (match is None or match(r))}  # type: ignore[operator]


async def test_documents_move_out_of_and_into_view(demo_server: ServerUnderTest,
                                                   http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["status == 'open'"]})
    async with alice.stream() as frames:
        await alice.sync(frames)
        rows = demo_rows()["Item"]
        theirs = next(r for r in rows if r["team"] == "north" and r["owner_id"] != ALICE_ID
                      and r["status"] == "open")
        # out of view by leaving the team's region (the read rule) …
        version = await server_put(demo_server, "Item", theirs["_id"],
                                   lambda d: d.update(team="east"))
        (header, payload), = await frames.until(lambda h: h["t"] == "changes"
                                                and h["server_version"] >= version)
        assert header["removes"] == {"Item": [theirs["_id"]]} and header["upserts"] == []
        # … back into view, with the new state
        version = await server_put(demo_server, "Item", theirs["_id"],
                                   lambda d: d.update(team="north", summary="back"))
        (header, payload), = await frames.until(lambda h: h["t"] == "changes"
                                                and h["server_version"] >= version)
        assert header["removes"] == {}
        (back,) = split_upserts(header, payload)["Item"]
        assert (back["_id"], back["summary"], back["team"]) == (theirs["_id"], "back", "north")
        # out of view by no longer matching the subscription, then deleted while outside
        await server_put(demo_server, "Item", theirs["_id"], lambda d: d.update(status="done"))
        version = await server_put(demo_server, "Item", theirs["_id"], delete=True)
        changes = await frames.until(lambda h: h["t"] == "changes"
                                     and h["server_version"] >= version)
        assert [h["removes"] for h, _ in changes if h["removes"]] == [{"Item": [theirs["_id"]]}]
        # a new readable document arrives once; an unreadable one never
        pk = "66aa000000000000000000a1"
        await server_put(demo_server, "Item", pk, document=item(pk, team="south"))
        version = await server_put(demo_server, "Item", pk[:-1] + "2",
                                   document=item(pk[:-1] + "2", owner_id=ALICE_ID, team="west"))
        changes = await frames.until(lambda h: h["t"] == "changes"
                                     and h["server_version"] >= version)
        arrived = [row["_id"] for h, p in changes for row in split_upserts(h, p).get("Item", [])]
        assert arrived == [pk[:-1] + "2"]


async def test_another_users_upload_moves_a_document_out_of_view(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    carol = await new_client(demo_server, http, "carol")
    await alice.submit(1, {"Item": ["TRUEPREDICATE"]})
    await carol.submit(1, {"Item": ["TRUEPREDICATE"]})  # writes go to carol's view
    rows = demo_rows()["Item"]
    target = next(r for r in rows if r["team"] == "north" and r["owner_id"] != ALICE_ID)
    async with alice.stream() as frames:
        await alice.sync(frames)
        assert target["_id"] in alice.replica.pks("Item")
        answer = await carol.post("sync/upload", {
            "protocol": PROTOCOL_VERSION, "client_id": carol.client_id,
            "changesets": [{"client_version": 1, "last_server_version": 0,
                            "timestamp": 1_900_000_000_000,
                            "ops": [{"op": "set", "type": "Item", "pk": target["_id"],
                                     "field": "team", "value": "south"}]}]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["compensating"] == []
        version = answer.json()["server_version"]
        await frames.until(lambda h: h["t"] == "changes" and h["server_version"] >= version,
                           replica=alice.replica)
        assert target["_id"] not in alice.replica.pks("Item")
        assert alice.replica.removed[("Item", target["_id"])] == 1


async def test_changing_and_dropping_subscriptions(demo_server: ServerUnderTest,
                                                   http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["status == 'open'"]})
    async with alice.stream() as frames:
        await alice.sync(frames)
        assert alice.replica.pks("Item") == readable_items("alice", lambda r: r["status"] == "open")
        # a diff: only what is new arrives, only what left is removed
        before = dict(alice.replica.received)
        await alice.submit(2, {"Item": ["priority >= 4"]})
        seen = await alice.sync(frames, 2)
        high = readable_items("alice", lambda r: r["priority"] >= 4)
        opened = readable_items("alice", lambda r: r["status"] == "open")
        assert alice.replica.pks("Item") == high
        begin = next(h for h, _ in seen if h["t"] == "bootstrap_begin")
        assert begin["kind"] == "diff"
        assert begin["totals"]["rows"] == len(high - opened)
        assert begin["totals"]["removes"] == len(opened - high)
        again = {k for k, n in alice.replica.received.items() if n > before.get(k, 0)}
        assert again == {("Item", pk) for pk in high - opened}
        # unsubscribing from everything removes everything
        await alice.submit(3, {})
        await alice.sync(frames, 3)
        assert alice.replica.pks("Item") == set() and alice.replica.active == 3


async def test_a_bad_query_fails_only_its_own_version(demo_server: ServerUnderTest,
                                                      http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["status == 'open'"]})
    async with alice.stream() as frames:
        await alice.sync(frames)
        held = alice.replica.pks("Item")
        bad = await alice.submit(2, {"Item": ["priority >= 4"], "Order": ["amount > 1 SORT(amount ASC)"]})
        assert bad.status_code == 400
        body = bad.json()
        assert (body["error_code"], body["version"], body["object_type"]) == ("BadQuery", 2, "Order")
        assert body["construct"] == "SORT" and body["position"] == 11 and "SORT" in body["error"]
        client = await demo_server.store.get_client(alice.client_id)
        assert client.desired_version == 1 and dict(client.desired_queries) == {
            "Item": ["status == 'open'"]}
        good = await alice.submit(3, {"Item": ["priority >= 4"]})
        assert good.status_code == 200
        seen = await alice.sync(frames, 3)
        assert not any(h.get("version") == 2 for h, _ in seen)
        assert alice.replica.pks("Item") == readable_items("alice", lambda r: r["priority"] >= 4)
        assert alice.replica.pks("Item") != held
        stale = await alice.submit(2, {"Item": ["TRUEPREDICATE"]})  # older than 3: ignored
        assert stale.status_code == 200
        assert (await demo_server.store.get_client(alice.client_id)).desired_version == 3


async def test_unsupported_constructs_are_named(demo_server: ServerUnderTest,
                                                http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    cases = [  # (type, query, construct, a word the message must contain, position)
        ("Item", "summary == 'x'", None, "summary", 0),
        ("Item", "status == 'open' AND tags.@count > 1", "@count", "@count", 21),
        ("Order", "customer.city == 'Lisbon'", "dotted path", "customer.city", 0),
        ("Item", "{'bug', 'ux'} IN tags", "list-vs-list", "list", None),
        ("Item", "status == 'open' SORT(priority DESC)", "SORT", "SORT", 17),
        ("Item", "status == 'open' LIMIT(5)", "LIMIT", "LIMIT", 17),
        ("Item", "status = = 'open'", None, "", None),
        ("Item", "nonexistent == 1", None, "nonexistent", None),
        ("Nothing", "TRUEPREDICATE", None, "Nothing", None),
    ]
    for version, (object_type, query, construct, word, position) in enumerate(cases, start=1):
        response = await alice.submit(version, {object_type: [query]})
        assert response.status_code == 400, query
        body = response.json()
        assert body["error_code"] == "BadQuery" and body["version"] == version, query
        assert word in body["error"], (query, body)
        if construct is not None:
            assert body["construct"] == construct, (query, body)
        if position is not None:
            assert body["position"] == position, (query, body)
    # what a client may subscribe to is published, and agrees with the refusals above
    schema = await http.get(f"{alice.base}/sync/schema", headers=alice.headers)
    assert schema.status_code == 200
    queryable = schema.json()["queryable_fields"]
    assert set(queryable) == {"Item", "Order", "UserProfile"}
    assert {"_id", "status", "priority", "tags", "owner_id", "team"} <= set(queryable["Item"])
    assert "summary" not in queryable["Item"] and "customer" not in queryable["Order"]
    assert set(schema.json()["schema"]) >= {"Item", "Order", "UserProfile"}
    big = "status == 'open' OR " * 14_000 + "status == 'open'"
    body = (await alice.submit(len(cases) + 1, {"Item": [big]})).json()
    assert "LimitsExceeded" in body["error"]
    assert (await demo_server.store.get_client(alice.client_id)).desired_version == 0
    # an active set the server would refuse (a tampered client, or an app whose queryable
    # fields changed) ends the stream with a reset, never with a broken response
    latest = await alice.latest()
    for object_type, query, *_ in cases:
        active = {"version": 1, "queries": {object_type: [query]}}
        async with alice.stream(active=active, cursor=latest) as frames:
            (error, _), = await frames.until(lambda h: h["t"] == "error")
        assert (error["code"], error["action"]) == (226, "ClientReset"), (query, error)


async def test_a_resumed_stream_downloads_nothing_twice(demo_server: ServerUnderTest,
                                                        http: httpx.AsyncClient,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["TRUEPREDICATE"], "Order": ["TRUEPREDICATE"]})
    async with alice.stream() as frames:
        await alice.sync(frames)
    first = sum(alice.replica.received.values())
    # while alice is away: one change in view, one document leaves, one arrives
    rows = demo_rows()
    changed = next(r for r in rows["Order"] if r["region"] == "north")
    leaving = next(r for r in rows["Item"] if r["team"] == "north" and r["owner_id"] != ALICE_ID)
    await server_put(demo_server, "Order", changed["_id"], lambda d: d.update(quantity=77))
    await server_put(demo_server, "Item", leaving["_id"], lambda d: d.update(team="west"))
    pk = "66aa000000000000000000b1"
    await server_put(demo_server, "Item", pk, document=item(pk))
    async with alice.stream() as frames:
        seen = await alice.catch_up(frames)
    assert not any(h["t"].startswith("bootstrap") or h["t"] == "batch" for h, _ in seen)
    assert sum(alice.replica.received.values()) == first + 2
    twice = {k for k, n in alice.replica.received.items() if n > 1}
    assert twice == {("Order", changed["_id"])}
    assert alice.replica.docs["Order"][changed["_id"]]["quantity"] == 77
    assert leaving["_id"] not in alice.replica.pks("Item") and pk in alice.replica.pks("Item")
    # once more, with nothing new: nothing at all but a hello and keep-alive pings
    monkeypatch.setattr(session_module, "PING_SECONDS", 0.2)
    async with alice.stream() as frames:
        assert await alice.catch_up(frames) == []
        hello, _ = await frames.next()
        ping, _ = await frames.next()
    assert hello == {"t": "hello", "server_version": alice.replica.cursor,
                     "trimmed_through": await demo_server.store.trimmed_through(),
                     "protocol": PROTOCOL_VERSION}
    assert ping == {"t": "ping", "server_version": alice.replica.cursor}
