"""Every endpoint against bodies an attacker or a buggy client would send (BRIEF §5, bad input).

Whatever the body — arbitrary JSON, or the right shape with wrong values — the
server answers with a 4xx and a JSON error (never a 5xx, never a dropped
connection), writes nothing when it refuses, and keeps answering. One server per
test, reused across examples, so a request that corrupts state shows up in the
requests after it.
"""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realm_jupyter.operations import KINDS
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import ServerUnderTest

from .conftest import SyncClient, new_client

FUZZ = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-(2**80), 2**80)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
types = st.sampled_from(["Item", "Order", "UserProfile", "Nope", ""]) | st.text(max_size=6)
fields = st.sampled_from(["summary", "priority", "status", "tags", "team", "owner_id", "_id",
                          "amount", "address", "address.city", "items", "placed_at"]) | st.text(max_size=6)
odd_values = st.sampled_from(["zz", "0000-01-01T00:00:00Z", 1e300, 2**70, -(2**70), "NaN",
                              {"$numberDecimal": "1e6145"}, {"$date": "x"}, {"$oid": "zz"},
                              {"$numberLong": "1e3"}, [], {}, "", None])
values = odd_values | json_values


ALICE = "6650000000000000a11ce001"
ITEM = {"_id": "66aa0000000000000000f0f0", "owner_id": ALICE, "summary": "s", "status": "open",
        "priority": 3, "team": "north", "tags": ["a"]}
TEMPLATES = [
    {"op": "create", "type": "Item", "pk": ITEM["_id"], "doc": ITEM},
    {"op": "set", "type": "Item", "pk": ITEM["_id"], "field": "summary", "value": "t"},
    {"op": "add_integer", "type": "Item", "pk": ITEM["_id"], "field": "priority", "value": 1},
    {"op": "list_insert", "type": "Item", "pk": ITEM["_id"], "field": "tags", "index": 0, "value": "b"},
    {"op": "list_move", "type": "Item", "pk": ITEM["_id"], "field": "tags", "index": 0, "to": 1},
    {"op": "delete", "type": "Item", "pk": ITEM["_id"]},
]


@st.composite
def operations(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed operation with one or two parts (or one document field) made wrong."""
    op: dict[str, Any] = dict(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(["op", "type", "pk", "field", "value", "index", "to", "doc",
                                    "doc-field", "doc-field"]))
        if key == "doc-field":
            doc = dict(op.get("doc") or ITEM)
            doc[draw(fields)] = draw(values)
            op = {**op, "op": "create", "doc": doc}
        elif key == "op":
            op[key] = draw(st.sampled_from(sorted(KINDS)) | st.text(max_size=5))
        elif key == "type":
            op[key] = draw(types)
        elif key == "field":
            op[key] = draw(fields)
        else:
            op[key] = draw(values)
    return op


@st.composite
def uploads(draw: st.DrawFn, client_id: str) -> dict[str, Any]:
    changeset: dict[str, Any] = {"client_version": 1, "timestamp": 1_900_000_000_000,
                                 "last_server_version": 0,
                                 "ops": draw(st.lists(operations(), min_size=1, max_size=3))}
    if draw(st.integers(0, 3)) == 0:
        key = draw(st.sampled_from(["client_version", "timestamp", "last_server_version", "ops"]))
        changeset[key] = draw(st.integers(-2, 2**70) | values)
    body: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "client_id": client_id,
                            "changesets": [changeset]}
    if draw(st.integers(0, 5)) == 0:
        body[draw(st.sampled_from(["protocol", "client_id", "changesets"]))] = draw(values)
    return body


queries = st.sampled_from(["TRUEPREDICATE", "status == 'open'", "priority >= $0", "summary LIKE '*a*'",
                           "status == 'open' SORT(priority ASC)", "nope == 1", "status ==",
                           "priority IN {1, 2, 3}", "'x' IN tags", "(", "\x00"]) | st.text(max_size=40)


@st.composite
def query_bodies(draw: st.DrawFn, client_id: str) -> dict[str, Any]:
    return {"protocol": draw(st.just(PROTOCOL_VERSION) | values),
            "client_id": draw(st.just(client_id) | values),
            "version": draw(st.integers(-1, 2**70) | values),
            "queries": draw(st.dictionaries(types, st.lists(queries, max_size=3) | values, max_size=3)
                            | values)}


async def _fresh(server: ServerUnderTest, http: httpx.AsyncClient) -> SyncClient:
    return await new_client(server, http, "alice")


async def _still_serving(server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    health = await http.get(f"{server.url}/api/health")
    assert health.status_code == 200


def _refused_cleanly(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) and body["error"]


@FUZZ
@given(data=st.data())
async def test_uploads_never_fail_the_server_and_refusals_write_nothing(
        demo_server: ServerUnderTest, http: httpx.AsyncClient, data: st.DataObject) -> None:
    client = await _fresh(demo_server, http)
    await client.submit(1, {"Item": ["TRUEPREDICATE"], "Order": ["TRUEPREDICATE"]})
    before = await demo_server.store.latest_version()
    body = data.draw(uploads(client.client_id))
    response = await client.post("sync/upload", body)
    _refused_cleanly(response)
    if response.status_code >= 400:
        assert await demo_server.store.latest_version() == before
    await _still_serving(demo_server, http)


@FUZZ
@given(data=st.data())
async def test_query_submissions_never_fail_the_server(
        demo_server: ServerUnderTest, http: httpx.AsyncClient, data: st.DataObject) -> None:
    client = await _fresh(demo_server, http)
    response = await client.post("sync/query", data.draw(query_bodies(client.client_id)))
    _refused_cleanly(response)
    await _still_serving(demo_server, http)


ENDPOINTS = ["sync/clients", "sync/query", "sync/mark", "sync/upload", "sync/stream"]


@FUZZ
@given(path=st.sampled_from(ENDPOINTS), body=json_values | st.binary(max_size=40))
async def test_any_body_to_any_endpoint_is_answered_without_a_server_error(
        demo_server: ServerUnderTest, http: httpx.AsyncClient, path: str, body: Any) -> None:
    client = await _fresh(demo_server, http)
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    request = http.build_request("POST", f"{client.base}/{path}", content=content,
                                 headers={**client.headers, "Content-Type": "application/json"})
    response = await http.send(request, stream=True)
    try:
        if response.status_code != 200 or path != "sync/stream":
            await response.aread()
            _refused_cleanly(response)
    finally:
        await response.aclose()
    await _still_serving(demo_server, http)


@FUZZ
@given(body=json_values, provider=st.sampled_from(["local-userpass", "anon-user", "api-key", "nope"]))
async def test_login_bodies_never_fail_the_server(
        demo_server: ServerUnderTest, http: httpx.AsyncClient, body: Any, provider: str) -> None:
    url = f"{demo_server.url}/api/client/v2.0/app/{demo_server.app_id}/auth/providers/{provider}/login"
    response = await http.post(url, json=body)
    _refused_cleanly(response)
