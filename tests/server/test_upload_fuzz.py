"""Random uploads, well-formed and not: the server answers 200 or 400 (or 409), never a 500.

Whatever a client sends — random operations of every kind with values that fit
their fields, values that almost do, and junk — a 400 writes nothing, and after a
200 every document it touched is one a client can read and load into its DuckDB
cache. At the end a fresh client bootstraps everything the uploads left behind.
Bounded (``max_examples``) so that it runs in seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import httpx
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realm_jupyter.cache import ddl
from realm_jupyter.documents import from_plain, to_plain, validate_document
from realm_jupyter.operations import KINDS
from realm_jupyter.wire import PROTOCOL_VERSION, rows_to_arrow
from tests.support.servers import ServerUnderTest

from .conftest import demo_rows, login

T = TypeVar("T")
TYPES = ("Order", "Item")
PKS = {name: [str(row["_id"]) for row in demo_rows()[name][:3]] + [str(ObjectId()) for _ in range(3)]
       for name in TYPES}
FIELDS = {
    "Order": ["region", "store_id", "status", "channel", "amount", "quantity", "discount",
              "is_gift", "ordered_at", "customer", "customer.city", "skus"],
    "Item": ["owner_id", "summary", "isComplete", "status", "priority", "team", "tags",
             "created_at"],
}
GOOD = {  # values that fit, per field
    "region": st.sampled_from(["north", "south"]), "channel": st.sampled_from(["web", "app"]),
    "status": st.text(max_size=8), "owner_id": st.text(max_size=8), "summary": st.text(max_size=20),
    "team": st.sampled_from(["north", "east"]), "customer.city": st.text(max_size=8),
    "store_id": st.integers(-(2**63), 2**63 - 1), "quantity": st.integers(-5, 5),
    "priority": st.integers(1, 5),
    "amount": st.decimals(min_value=-(10**28), max_value=10**28, places=4,
                          allow_nan=False).map(str),
    "discount": st.floats(allow_nan=False, allow_infinity=False),
    "is_gift": st.booleans(), "isComplete": st.booleans(),
    "ordered_at": st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31),
                               timezones=st.just(dt.UTC)).map(lambda d: d.isoformat()),
    "created_at": st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat()),
    "customer": st.fixed_dictionaries({}, optional={"name": st.text(max_size=5),
                                                    "city": st.text(max_size=5)}),
    "skus": st.lists(st.text(max_size=4), max_size=3),
    "tags": st.lists(st.text(max_size=4), max_size=3),
}
JUNK_TEXT = st.sampled_from(["zz", "0000-01-01T00:00:00Z", "1e6145", "NaN", "Infinity",
                             "1" * 40, "0.1234567891", "\x00", "abc", "", "2024-02-30",
                             "66aa00000000000000000c01", "-0"])
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | JUNK_TEXT | st.text(max_size=6)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["name", "city", "planet", "_id"]), inner, max_size=3),
    max_leaves=6)


REQUIRED = {"Order": ["region", "store_id", "status", "amount", "ordered_at"],
            "Item": ["owner_id", "summary"]}
INTEGERS = {"Order": ["store_id", "quantity"], "Item": ["priority"]}
LISTS = {"Order": ["skus"], "Item": ["tags"]}
LIST_KINDS = sorted(KINDS - {"create", "delete", "set", "add_integer"})


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = JUNK) -> st.SearchStrategy[Any]:
    """``good`` fourteen times in fifteen."""
    return st.integers(0, 14).flatmap(lambda n: bad if n == 0 else good)


@st.composite
def operations(draw: st.DrawFn) -> dict[str, Any]:
    """An operation that fits most of the time, with a junk part now and then."""
    object_type = draw(st.sampled_from(TYPES))
    kind = draw(mostly(st.sampled_from(sorted(KINDS)), st.text(max_size=4)))
    pk: Any = draw(mostly(st.sampled_from(PKS[object_type])))
    op: dict[str, Any] = {"op": kind, "type": object_type, "pk": pk}
    fields = FIELDS[object_type]
    if kind == "create":
        names = set(REQUIRED[object_type]) | draw(st.sets(st.sampled_from(
            [f for f in fields if "." not in f])))
        doc = {name: draw(mostly(GOOD[name])) for name in sorted(names)}
        doc["_id"] = draw(mostly(st.just(pk)))
        if draw(st.integers(0, 9)) == 0:
            doc["colour"] = "red"
        op["doc"] = doc
    elif kind == "add_integer":
        op["field"] = draw(mostly(st.sampled_from(INTEGERS[object_type]), st.sampled_from(fields)))
        op["value"] = draw(mostly(st.integers(-10, 10)))
    elif kind in LIST_KINDS:
        op["field"] = draw(mostly(st.sampled_from(LISTS[object_type]), st.sampled_from(fields)))
        if kind in ("list_insert", "list_set", "set_add", "set_remove"):
            op["value"] = draw(mostly(st.text(max_size=4)))
        if kind in ("list_insert", "list_set", "list_erase", "list_move"):
            op["index"] = draw(mostly(st.integers(0, 3), st.integers(-3, 2**40) | JUNK))
        if kind == "list_move":
            op["to"] = draw(mostly(st.integers(0, 3)))
    elif kind != "delete":
        field = draw(mostly(st.sampled_from(fields), st.sampled_from(["_id", "nosuch", "a.b"])))
        op["field"] = field
        op["value"] = draw(mostly(GOOD.get(field, JUNK)))
    return op


@st.composite
def changesets(draw: st.DrawFn) -> dict[str, Any]:
    changeset: dict[str, Any] = {
        "timestamp": draw(mostly(st.integers(0, 2**63 - 1))),
        "last_server_version": draw(mostly(st.integers(0, 5))),
        "ops": draw(st.lists(operations(), min_size=1, max_size=3)),
    }
    if draw(st.integers(0, 19)) == 0:
        changeset.pop(draw(st.sampled_from(sorted(changeset))))
    return changeset


def loads_into_duckdb(server: ServerUnderTest, object_type: str,
                      documents: list[dict[str, Any]]) -> None:
    """What a client's cache does with these documents (cache.apply: wire rows → typed table)."""
    object_schema = server.service.app.schema[object_type]
    table = rows_to_arrow(object_schema, [to_plain(d) for d in documents])
    connection = duckdb.connect()
    try:
        connection.execute(ddl.create_table_sql(object_schema))
        connection.register("incoming", table)
        connection.execute(f"INSERT INTO {ddl.quote(object_type)} "
                           f"{ddl.ingest_select_sql(object_schema, 'incoming')}")
        assert connection.execute(f"SELECT count(*) FROM {ddl.quote(object_type)}"
                                  ).fetchall() == [(len(documents),)]
    finally:
        connection.close()


async def test_random_uploads_answer_200_or_400_and_leave_loadable_documents(
        demo_server: ServerUnderTest, tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient() as http:
        token = await login(demo_server, http, "carol")  # admin: most writes apply
    base = f"{demo_server.url}/api/client/v2.0/app/{demo_server.app_id}"
    headers = {"Authorization": f"Bearer {token}"}
    versions = itertools.count(1)
    answers: Counter[int] = Counter()

    def on_server_loop(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(30)

    def fuzz() -> None:
        with httpx.Client(timeout=30, headers=headers,
                          limits=httpx.Limits(max_connections=1)) as http:
            client_id = http.post(f"{base}/sync/clients", json={}).json()["client_id"]
            answer = http.post(f"{base}/sync/query", json={
                "protocol": PROTOCOL_VERSION, "client_id": client_id, "version": 1,
                "queries": {name: ["TRUEPREDICATE"] for name in TYPES}})
            assert answer.status_code == 200, answer.text

            def latest() -> int:
                return int(http.post(f"{base}/sync/mark", json={"client_id": client_id}
                                     ).json()["server_version"])

            @settings(max_examples=60, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow])
            @given(st.lists(changesets(), min_size=1, max_size=2))
            def one_upload(drawn: list[dict[str, Any]]) -> None:
                for changeset in drawn:
                    if "client_version" not in changeset:
                        changeset["client_version"] = next(versions)
                before = latest()
                answer = http.post(f"{base}/sync/upload", json={
                    "protocol": PROTOCOL_VERSION, "client_id": client_id, "changesets": drawn})
                # 409: a last_server_version inside the trimmed history asks for a client reset
                assert answer.status_code in (200, 400, 409), answer.text
                answers[answer.status_code] += 1
                if answer.status_code != 200:
                    assert latest() == before, answer.text
                    return
                for object_type in TYPES:
                    object_schema = demo_server.service.app.schema[object_type]
                    keys = []
                    for changeset in drawn:
                        for op in changeset["ops"]:
                            if op["type"] == object_type:
                                keys.append(from_plain(object_schema, {"_id": op["pk"]})["_id"])
                    found = on_server_loop(demo_server.store.get_documents(object_type, keys))
                    documents = [validate_document(object_schema, d) for d in found.values()]
                    if documents:
                        loads_into_duckdb(demo_server, object_type, documents)

            one_upload()

    await asyncio.to_thread(fuzz)
    assert answers[200] and answers[400], answers  # both paths were taken

    # a fresh client bootstraps whatever the uploads left, into a real cache
    async with demo_server.realm("carol@example.com", tmp_path / "after.duckdb") as realm:
        for object_type in TYPES:
            object_schema = demo_server.service.app.schema[object_type]
            candidates = {str(row["_id"]) for row in demo_rows()[object_type]}
            candidates |= {*PKS[object_type], "66aa00000000000000000c01"}
            keys = [from_plain(object_schema, {"_id": pk})["_id"] for pk in candidates]
            held = await demo_server.store.get_documents(object_type, keys)
            frame = await realm.subscribe(object_type, timeout=60)
            assert {str(pk) for pk in frame["_id"]} == {str(pk) for pk in held}
