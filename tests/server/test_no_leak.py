"""No leak (BRIEF §5): whatever the rules, documents and queries, a client only ever receives
documents that match one of its subscriptions AND that its user may read, and never a
field its role hides — in bootstraps, in steady-state changes and across set changes.

Each example writes an app directory with random roles, starts a server on it and
fills it with random documents. The expectation is computed here, by a small
MongoDB-filter and RQL evaluator written for this test (semantics in the docstrings).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from realm_jupyter.server.storage import Change, UserRecord
from tests.support.servers import serving

from .conftest import Replica, SyncClient, new_client, split_upserts

TEAMS, LEVELS, OWNERS, TAGS = ("x", "y", "z"), (0, 1, 2, 3), ("u1", "u2", "u3"), ("t1", "t2")
Query = tuple[str, Any]  # (RQL text, the same predicate in Python)
USERS = {"u1": {"role": "a", "teams": ["x"]}, "u2": {"role": "b", "teams": ["y", "z"]}}
SCHEMA = {"title": "Doc", "bsonType": "object", "required": ["_id"], "properties": {
    "_id": {"bsonType": "string"}, "owner": {"bsonType": "string"},
    "team": {"bsonType": "string"}, "level": {"bsonType": "int"},
    "tags": {"bsonType": "array", "items": {"bsonType": "string"}},
    "secret": {"bsonType": "string"}}}
SYNC = {"type": "flexible", "queryable_fields_names": ["owner", "team"],
        "collection_queryable_fields_names": {"Doc": ["level", "tags"]}}

# --------------------------------------------------------------------------- MongoDB filters

leaf_filters = st.one_of(
    st.just({}),
    st.builds(lambda v: {"team": v}, st.sampled_from(TEAMS)),
    st.builds(lambda v: {"team": {"$ne": v}}, st.sampled_from(TEAMS)),
    st.builds(lambda vs: {"team": {"$in": vs}}, st.lists(st.sampled_from(TEAMS), max_size=2)),
    st.builds(lambda vs: {"team": {"$nin": vs}}, st.lists(st.sampled_from(TEAMS), max_size=2)),
    st.builds(lambda op, n: {"level": {op: n}}, st.sampled_from(["$gt", "$gte", "$lt", "$lte",
                                                                   "$eq", "$ne"]),
              st.sampled_from(LEVELS)),
    st.just({"owner": "%%user.id"}),
    st.just({"team": {"$in": "%%user.custom_data.teams"}}),
    st.builds(lambda t: {"tags": t}, st.sampled_from(TAGS)),
)
filters = st.recursive(leaf_filters, lambda inner: st.builds(
    lambda op, parts: {op: parts}, st.sampled_from(["$or", "$and", "$nor"]),
    st.lists(inner, min_size=1, max_size=2)), max_leaves=4)


def expand(value: Any, user: str) -> Any:
    if value == "%%user.id":
        return user
    if value == "%%user.custom_data.teams":
        return USERS[user]["teams"]
    return value


def mongo(flt: dict[str, Any], doc: dict[str, Any], user: str) -> bool:
    """MongoDB: a null field equals nothing, is $ne/$nin everything, never $gt/$lt;
    an array field equals a value it contains."""
    for key, cond in flt.items():
        if key in ("$or", "$and", "$nor"):
            results = [mongo(part, doc, user) for part in cond]
            ok = any(results) if key == "$or" else all(results) if key == "$and" \
                else not any(results)
        elif isinstance(cond, dict):
            ok = all(field_op(doc.get(key), op, expand(arg, user)) for op, arg in cond.items())
        else:
            ok = field_op(doc.get(key), "$eq", expand(cond, user))
        if not ok:
            return False
    return True


def field_op(value: Any, op: str, arg: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    if op == "$eq":
        return arg in values
    if op == "$ne":
        return arg not in values
    if op in ("$in", "$nin"):
        hit = any(v in arg for v in values if v is not None)
        return hit if op == "$in" else not hit
    if value is None:
        return False
    return {"$gt": value > arg, "$gte": value >= arg, "$lt": value < arg,
            "$lte": value <= arg}[op]


# --------------------------------------------------------------------------- roles


@st.composite
def roles(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for index in range(draw(st.integers(1, 3))):
        read = draw(st.booleans())
        write = read and draw(st.booleans())  # write implies read
        role: dict[str, Any] = {
            "name": f"r{index}",
            "apply_when": draw(st.sampled_from([{}, {"%%user.custom_data.role": "a"},
                                                {"%%user.custom_data.role": "b"}])),
            "document_filters": {"read": draw(filters), "write": draw(filters)},
            "read": read, "write": write, "insert": write, "delete": write, "search": True,
            "additional_fields": {"read": draw(st.booleans()), "write": False},
        }
        if draw(st.booleans()):
            role["fields"] = {"secret": {"read": draw(st.booleans()), "write": False}}
        if draw(st.integers(0, 9)) == 0:  # a filter on a non-queryable field: not Sync-compatible
            role["document_filters"]["read"] = {"secret": "s"}
        out.append(role)
    return out


def access(role_list: list[dict[str, Any]], user: str) -> tuple[Any, set[str]] | None:
    """(readable(doc), hidden fields) for the first role that applies, None for no access."""
    for role in role_list:
        when = role["apply_when"]
        if when and USERS[user]["role"] != when["%%user.custom_data.role"]:
            continue
        filters_ = role["document_filters"]
        if "secret" in json.dumps(filters_):
            return None
        perms = {"secret": role.get("fields", {}).get("secret", role["additional_fields"])}
        perms.update({f: role["additional_fields"] for f in ("owner", "team", "level", "tags")})
        hidden = set() if role["read"] else {f for f, p in perms.items() if not p["read"]}
        can_read = role["read"] or len(hidden) < len(perms)

        def readable(doc: dict[str, Any], role: dict[str, Any] = role,
                     can_read: bool = can_read) -> bool:
            by_read = can_read and mongo(role["document_filters"]["read"], doc, user)
            return by_read or (role["write"] and mongo(role["document_filters"]["write"], doc,
                                                       user))

        return readable, hidden
    return None


# --------------------------------------------------------------------------- RQL subscriptions

atoms = st.one_of(
    st.builds(lambda op, v: (f"team {op} '{v}'", lambda d: (d["team"] == v) == (op == "==")),
              st.sampled_from(["==", "!="]), st.sampled_from(TEAMS)),
    st.builds(lambda op, n: (f"level {op} {n}", lambda d: d["level"] is not None and {
        ">": d["level"] > n, ">=": d["level"] >= n, "<": d["level"] < n, "==": d["level"] == n
    }[op]), st.sampled_from([">", ">=", "<", "=="]), st.sampled_from(LEVELS)),
    st.builds(lambda n: (f"level != {n}", lambda d: d["level"] != n), st.sampled_from(LEVELS)),
    st.just(("level == nil", lambda d: d["level"] is None)),
    st.builds(lambda t: (f"'{t}' IN tags", lambda d: t in d["tags"]), st.sampled_from(TAGS)),
    st.builds(lambda o: (f"owner == '{o}'", lambda d: d["owner"] == o), st.sampled_from(OWNERS)),
    st.builds(lambda vs: ("team IN {" + ", ".join(f"'{v}'" for v in vs) + "}",
                          lambda d: d["team"] in vs), st.lists(st.sampled_from(TEAMS),
                                                                min_size=1, max_size=2)),
    st.builds(lambda a, b: (f"level BETWEEN {{{a}, {b}}}", lambda d: d["level"] is not None
                            and a <= d["level"] <= b), st.sampled_from(LEVELS),
              st.sampled_from(LEVELS)),
    st.just(("TRUEPREDICATE", lambda d: True)),
)
queries = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(lambda a, b: (f"({a[0]}) AND ({b[0]})", lambda d: a[1](d) and b[1](d)), inner,
              inner),
    st.builds(lambda a, b: (f"({a[0]}) OR ({b[0]})", lambda d: a[1](d) or b[1](d)), inner, inner),
    st.builds(lambda a: (f"NOT ({a[0]})", lambda d: not a[1](d)), inner)), max_leaves=3)

documents = st.lists(st.fixed_dictionaries({
    "owner": st.sampled_from(OWNERS), "team": st.sampled_from((*TEAMS, None)),
    "level": st.sampled_from((*LEVELS, None)),
    "tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=2),
    "secret": st.just("s")}), min_size=1, max_size=12)


def write_app(root: Path, role_list: list[dict[str, Any]]) -> Path:
    files = {"root_config.json": {"app_id": "leak-test", "name": "leak-test"},
             "auth/providers.json": {"anon-user": {"name": "anon-user", "type": "anon-user"}},
             "data_sources/mongodb-atlas/db/Doc/schema.json": SCHEMA,
             "data_sources/mongodb-atlas/db/Doc/rules.json": {"database": "db",
                                                               "collection": "Doc",
                                                               "roles": role_list},
             "sync/config.json": SYNC}
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(content))
    return root


def plain(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value.startswith("[") else value


def check(replica: Replica, docs: dict[str, dict[str, Any]], want: Any,
          hidden: set[str]) -> None:
    held = replica.docs.get("Doc", {})
    assert set(held) == {pk for pk, d in docs.items() if want(d)}
    for row in held.values():
        assert all(row[f] is None for f in hidden), row


# Every example starts a server: a dozen of them, and no shrinking (it would take minutes);
# a failing example is printed as drawn.
@settings(max_examples=12, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(role_list=roles(), initial=documents, first=queries, second=queries,
       changes=st.lists(st.tuples(st.integers(0, 11), st.sampled_from((*TEAMS, None)),
                                  st.sampled_from((*LEVELS, None))), max_size=4))
async def test_no_document_outside_query_and_read_rule_ever_arrives(
        role_list: list[dict[str, Any]], initial: list[dict[str, Any]], first: Query,
        second: Query, changes: list[tuple[int, Any, Any]]) -> None:
    docs = {f"d{i:02d}": {"_id": f"d{i:02d}", **d} for i, d in enumerate(initial)}
    with tempfile.TemporaryDirectory() as tmp:
        app_dir = write_app(Path(tmp) / "app", role_list)
        async with serving(f"sqlite:///{tmp}/store.sqlite3", app_dir, demo_size=None) as server, \
                httpx.AsyncClient(timeout=20) as http:
            await server.store.write(lambda tx: [tx.put(Change("Doc", pk, d), None)
                                                 for pk, d in docs.items()])
            for user, data in USERS.items():
                await server.store.create_user(UserRecord(id=user, provider="local-userpass",
                                                          email=f"{user}@example.com",
                                                          custom_data=data))
            for user in USERS:
                rules = access(role_list, user)
                readable, hidden = rules if rules else ((lambda d: False), set())
                tokens = await server.service.auth.issue(user)
                client = await new_client(server, http, token=tokens.access_token)
                await follow(client, docs, readable, hidden, first, second, changes)


async def follow(client: SyncClient, docs: dict[str, dict[str, Any]], readable: Any,
                 hidden: set[str], first: Query, second: Query,
                 changes: list[tuple[int, Any, Any]]) -> None:
    """One user: bootstrap, another writer's changes, a second subscription."""
    def wanted(d: dict[str, Any]) -> bool:
        return bool(first[1](d) and readable(d))

    if uses_hidden(first[0], hidden):  # a filter on a field the role hides is refused
        await assert_refused(client, 1, first[0])
        return
    assert (await client.submit(1, {"Doc": [first[0]]})).status_code == 200
    async with client.stream() as frames:
        await client.sync(frames)
        check(client.replica, docs, wanted, hidden)
        states = {pk: [d] for pk, d in docs.items()}
        for index, team, level in changes:  # another writer moves documents
            pk = f"d{index % len(docs):02d}"
            before, docs[pk] = dict(docs[pk]), {**docs[pk], "team": team, "level": level}
            states[pk].append(docs[pk])
            await client.server.store.write(lambda tx, pk=pk, b=before: tx.put(
                Change("Doc", pk, docs[pk]), b))
        for header, payload in await client.catch_up(frames):
            for row in split_upserts(header, payload).get("Doc", []):
                assert all(row[f] is None for f in hidden), row
                # the row is one of the document's states, seen through the role
                assert any(wanted(state) for state in states[row["_id"]]
                           if all(plain(row[f]) == state[f] for f in state if f not in hidden)), row
        check(client.replica, docs, wanted, hidden)
        if uses_hidden(second[0], hidden):
            await assert_refused(client, 2, second[0])
            return
        await client.submit(2, {"Doc": [first[0], second[0]]})
        await client.sync(frames, 2)
        check(client.replica, docs, lambda d: bool((first[1](d) or second[1](d)) and readable(d)),
              hidden)


def uses_hidden(text: str, hidden: set[str]) -> bool:
    """Whether an RQL subscription of this test names a hidden field (values never look
    like field names here)."""
    return any(re.search(rf"\b{name}\b", text) for name in hidden)


async def assert_refused(client: SyncClient, version: int, text: str) -> None:
    response = await client.submit(version, {"Doc": [text]})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "BadQuery" and "may not filter on it" in body["error"], body
