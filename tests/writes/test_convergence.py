"""Convergence: random concurrent operations from several clients, in random orders, end identical.

Three clients — two devices of Alice and Carol (an admin) — hold the same three
items. Each example runs random writes on random clients while they are offline,
with random moments where one client comes online, syncs and goes offline again.
At the end everyone syncs, and every replica and the server's store must agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realm_jupyter.client import Realm
from tests.support.postgres import PostgresCluster
from tests.support.servers import serving
from tests.writes.conftest import settle

CLIENTS = ("alice@example.com", "alice@example.com", "carol@example.com")
ITEMS = 3

_databases = (f"converge_{n}" for n in itertools.count())

client = st.integers(0, len(CLIENTS) - 1)
item = st.integers(0, ITEMS - 1)
operation = st.one_of(
    st.tuples(st.just("set_status"), client, item, st.sampled_from(["open", "in_progress", "done"])),
    st.tuples(st.just("set_priority"), client, item, st.integers(1, 5)),
    st.tuples(st.just("add"), client, item, st.integers(-3, 3)),
    st.tuples(st.just("insert"), client, item, st.tuples(st.integers(0, 3), st.sampled_from("abc"))),
    st.tuples(st.just("erase"), client, item, st.integers(0, 3)),
    st.tuples(st.just("clear"), client, item, st.none()),
    st.tuples(st.just("delete"), client, item, st.none()),
    st.tuples(st.just("sync"), client, st.just(0), st.none()),
)


def _apply(realm: Realm, kind: str, pk: Any, value: Any) -> None:
    current = realm.query("Item", "_id == $0", pk)
    if current.empty and kind not in ("sync",):
        return  # deleted here: nothing to change
    with realm.write() as tx:
        if kind == "set_status":
            tx.update("Item", pk, {"status": value})
        elif kind == "set_priority":
            tx.update("Item", pk, {"priority": value})
        elif kind == "add":
            tx.add_integer("Item", pk, "priority", value)
        elif kind == "insert":
            tx.list_insert("Item", pk, "tags", value[0], value[1])
        elif kind == "erase":
            tx.list_erase("Item", pk, "tags", value)
        elif kind == "clear":
            tx.list_clear("Item", pk, "tags")
        elif kind == "delete":
            tx.delete("Item", pk)


def _state(realm: Realm, pks: list[Any]) -> list[Any]:
    out = []
    for pk in pks:
        frame = realm.query("Item", "_id == $0", pk)
        if frame.empty:
            out.append(None)
            continue
        row = frame.iloc[0]
        out.append((row["status"], int(row["priority"]), list(row["tags"])))
    return out


async def _server_state(server: Any, pks: list[Any]) -> list[Any]:
    found = await server.store.get_documents("Item", pks)
    return [None if pk not in found else
            (found[pk]["status"], found[pk]["priority"], list(found[pk]["tags"])) for pk in pks]


async def _scenario(store_url: str, workdir: Path, operations: list[Any]) -> None:
    async with serving(store_url) as server, contextlib.AsyncExitStack() as stack:
        realms = []
        for n, email in enumerate(CLIENTS):
            realm = await stack.enter_async_context(server.realm(email, workdir / f"{n}.duckdb"))
            await realm.subscribe("Item", "owner_id == $0", "6650000000000000a11ce001")
            realms.append(realm)
        pks = []
        with realms[0].write() as tx:
            for n in range(ITEMS):
                pks.append(tx.create("Item", {"owner_id": realms[0].user.id, "summary": f"item {n}",
                                              "status": "open", "priority": 3, "tags": ["x"]}))
        await settle(*realms)
        await settle(*realms)
        for realm in realms:
            realm.session.pause()
        for kind, who, index, value in operations:
            realm = realms[who]
            if kind == "sync":
                realm.session.resume()
                await settle(realm)
                realm.session.pause()
            else:
                _apply(realm, kind, pks[index], value)
        for realm in realms:
            realm.session.resume()
        for _ in range(2):  # uploads land, then everyone downloads everything
            await settle(*realms)
        expected = await _server_state(server, pks)
        for realm in realms:
            assert _state(realm, pks) == expected


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(operations=st.lists(operation, min_size=1, max_size=14))
def test_replicas_converge(backend: str, request: pytest.FixtureRequest,
                           operations: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        if backend == "sqlite":
            url = f"sqlite:///{workdir / 'store.sqlite3'}"
        else:
            cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
            url = cluster.create_database(next(_databases))
        asyncio.run(_scenario(url, workdir, operations))
