"""Subscriptions as an attacker writes them, over real HTTP on both stores.

* a filter on a field the role hides would tell which documents hold which hidden
  value: refused at subscription time (as App Services does);
* a 12,500-term OR cannot run in the store and would cost 12,500 comparisons per
  changed document: refused with a clear ``BadQuery``; a 40,000-value ``IN`` (one
  comparison) compiles to one bound array and syncs;
* ``LIKE '*a*a*a*a*a*a*a*ab'`` against a long string backtracked for longer than
  anyone waits, on the event loop: now linear, and the server keeps answering.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from realm_jupyter.server.storage import Change, HistoryEntry, UserRecord
from realm_jupyter.server.views import YIELD_EVERY, ChangeBatch, FeedEntry, View, collect_changes
from tests.support.servers import ServerUnderTest, serving

from .conftest import TIMEOUT, SyncClient, new_client

SCHEMA = {"title": "Person", "bsonType": "object", "required": ["_id"], "properties": {
    "_id": {"bsonType": "string"}, "name": {"bsonType": "string"},
    "city": {"bsonType": "string"}, "n": {"bsonType": "long"},
    "summary": {"bsonType": "string"}}}
ROLES = [
    {"name": "admin", "apply_when": {"%%user.custom_data.role": "admin"},
     "document_filters": {"read": {}, "write": {}},
     "read": True, "write": True, "insert": True, "delete": True, "search": True},
    {"name": "member", "apply_when": {"%%user.custom_data.role": "member"},
     "document_filters": {"read": {}, "write": {"name": {"$in": []}}},
     "read": False, "write": False, "insert": False, "delete": False, "search": True,
     "fields": {"city": {"read": False, "write": False}},
     "additional_fields": {"read": True, "write": False}},
]
SYNC = {"type": "flexible", "queryable_fields_names": ["name", "city", "n", "summary"]}
PEOPLE = {f"p{i:02d}": {"_id": f"p{i:02d}", "name": f"person {i}",
                        "city": "Köln" if i % 3 == 0 else "Bonn", "n": i * 2_000,
                        "summary": None} for i in range(30)}


def write_app(root: Path) -> Path:
    files: dict[str, Any] = {
        "root_config.json": {"app_id": "query-attacks", "name": "query-attacks"},
        "auth/providers.json": {"anon-user": {"name": "anon-user", "type": "anon-user"}},
        "data_sources/mongodb-atlas/db/Person/schema.json": SCHEMA,
        "data_sources/mongodb-atlas/db/Person/rules.json": {
            "database": "db", "collection": "Person", "roles": ROLES},
        "sync/config.json": SYNC,
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(content))
    return root


@pytest.fixture
async def server(store_url: str, tmp_path: Path) -> AsyncIterator[ServerUnderTest]:
    async with serving(store_url, write_app(tmp_path / "app"), demo_size=None) as running:
        await running.store.write(lambda tx: [tx.put(Change("Person", pk, doc), None)
                                              for pk, doc in PEOPLE.items()])
        for role in ("admin", "member"):
            await running.store.create_user(UserRecord(id=role, provider="local-userpass",
                                                       email=f"{role}@example.com",
                                                       custom_data={"role": role}))
        yield running


async def client_of(server: ServerUnderTest, http: httpx.AsyncClient, user: str) -> SyncClient:
    tokens = await server.service.auth.issue(user)
    return await new_client(server, http, token=tokens.access_token)


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == "BadQuery", body
    return body


# --------------------------------------------------------------------------- hidden fields


async def test_a_subscription_may_not_filter_on_a_hidden_field(
        server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    member = await client_of(server, http, "member")
    text = "name BEGINSWITH 'person' AND city == 'Köln'"
    body = refusal(await member.submit(1, {"Person": [text]}))
    assert "'city'" in body["error"] and "may not filter on it" in body["error"], body
    assert body["construct"] == "unreadable field" and body["position"] == text.index("city")
    refusal(await member.submit(1, {"Person": ["name == 'x'", "NOT (city IN {'Bonn'})"]}))

    assert (await member.submit(1, {"Person": ["name BEGINSWITH 'person'"]})).status_code == 200
    async with member.stream() as frames:
        await member.sync(frames)
    held = member.replica.docs["Person"]
    assert set(held) == set(PEOPLE) and all(row["city"] is None for row in held.values())

    admin = await client_of(server, http, "admin")  # a role that may read city may filter
    assert (await admin.submit(1, {"Person": ["city == 'Köln'"]})).status_code == 200
    async with admin.stream() as frames:
        await admin.sync(frames)
    assert set(admin.replica.docs["Person"]) == {pk for pk, d in PEOPLE.items()
                                                 if d["city"] == "Köln"}


async def test_an_active_set_on_a_hidden_field_resets_the_client(
        server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    """A client that claims such a set as active (tampered, or the rules changed since)."""
    member = await client_of(server, http, "member")
    active = {"version": 1, "queries": {"Person": ["city == 'Köln'"]}}
    async with member.stream(active=active) as frames:
        header, _ = await frames.next()
    assert header["t"] == "error" and header["code"] == 226, header
    assert "city" in header["error"] and header["action"] == "ClientReset"


async def test_a_desired_set_accepted_before_the_rules_changed_gets_a_query_error(
        server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    """The set was accepted under a role that could read ``city``; this session's role
    cannot: the stream refuses the set (``query_error``) instead of serving it."""
    member = await client_of(server, http, "member")
    await server.store.set_desired_queries(member.client_id, 1, {"Person": ["city == 'Köln'"]})
    async with member.stream() as frames:
        frames_seen = await frames.until(lambda h: h["t"] == "query_error")
        assert not any(h["t"] in ("bootstrap_begin", "batch") for h, _ in frames_seen)
        header = frames_seen[-1][0]
        assert header["version"] == 1 and "'city'" in header["error"], header
        assert (await member.submit(2, {"Person": ["name == 'person 3'"]})).status_code == 200
        await member.sync(frames, 2)
    assert set(member.replica.docs["Person"]) == {"p03"}


# --------------------------------------------------------------------------- size


async def test_a_huge_or_is_refused_and_a_long_in_list_syncs(
        server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    admin = await client_of(server, http, "admin")
    huge_or = " OR ".join(f"n == {i}" for i in range(12_500))
    body = refusal(await admin.submit(1, {"Person": [huge_or]}))
    assert body["construct"] == "query size" and "1,000" in body["error"], body
    thousand = [" OR ".join(f"n == {i * 6 + k}" for i in range(1_000)) for k in range(6)]
    body = refusal(await admin.submit(1, {"Person": thousand}))  # 6,000 together
    assert "5,000" in body["error"], body

    listed = "n IN {" + ",".join(str(i) for i in range(40_000)) + "}"
    assert (await admin.submit(1, {"Person": [listed]})).status_code == 200
    async with admin.stream() as frames:
        await admin.sync(frames)
        assert set(admin.replica.docs["Person"]) == {pk for pk, d in PEOPLE.items()
                                                     if d["n"] < 40_000}
        # steady state: the evaluator decides, through the list's index
        await server.store.write(lambda tx: [
            tx.put(Change("Person", "q1", {"_id": "q1", "n": 39_999}), None),
            tx.put(Change("Person", "q2", {"_id": "q2", "n": 40_000}), None)])
        await admin.catch_up(frames)
    assert "q1" in admin.replica.docs["Person"] and "q2" not in admin.replica.docs["Person"]


# --------------------------------------------------------------------------- LIKE


async def test_a_backtracking_like_does_not_stall_the_server(
        server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    """With the former regex, evaluating the changed documents below would hold the
    event loop for longer than the health request waits."""
    admin = await client_of(server, http, "admin")
    assert (await admin.submit(1, {"Person": ["summary LIKE '*a*a*a*a*a*a*a*ab'"]})
            ).status_code == 200
    async with admin.stream() as frames:
        await admin.sync(frames)
        assert admin.replica.docs.get("Person", {}) == {}
        await server.store.write(lambda tx: [
            tx.put(Change("Person", "s1", {"_id": "s1", "summary": "a" * 400}), None),
            tx.put(Change("Person", "s2", {"_id": "s2", "summary": "a" * 400 + "b"}), None),
            tx.put(Change("Person", "s3", {"_id": "s3", "summary": "ab" * 30}), None)])
        health = await http.get(f"{server.url}/api/health", timeout=TIMEOUT)
        assert health.status_code == 200
        await admin.catch_up(frames)
    assert set(admin.replica.docs["Person"]) == {"s2", "s3"}


async def test_a_long_batch_of_evaluations_gives_the_loop_back(server: ServerUnderTest) -> None:
    """Order, not timing: another task runs before a session's batch is collected."""
    user = await server.store.get_user("admin")
    assert user is not None
    rules = await server.service.rules(user)
    view = View.build(rules, 1, {"Person": ["summary LIKE '*a*b' OR n > 5"]})
    count = 3 * YIELD_EVERY // (2 * view.cost("Person"))  # work for three slices
    docs = [{"_id": f"x{i}", "n": i, "summary": None} for i in range(count)]
    entries = [FeedEntry(HistoryEntry(i + 1, "Person", doc["_id"], doc, None), doc, None)
               for i, doc in enumerate(docs)]
    order: list[str] = []

    async def collect() -> ChangeBatch:
        batch = await collect_changes(entries, view, rules, count, None)
        order.append("collected")
        return batch

    async def probe() -> None:
        order.append("probe")

    collecting, probing = asyncio.create_task(collect()), asyncio.create_task(probe())
    batch = await collecting
    await probing
    assert order == ["probe", "collected"]
    assert set(batch.upserts["Person"]) == {f"x{i}" for i in range(6, count)}

