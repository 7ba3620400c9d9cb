"""Applying what the server sends: change frames, staged bootstrap batches, the bootstrap's end.

Everything is columnar: a wire-schema Arrow table is registered with DuckDB and
turned into the table's types by one ``INSERT … SELECT``; no row is touched in
Python. Each function here is one transaction, so the cache moves from one
consistent server version to the next.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from ..schema import ObjectSchema
from . import ddl
from .store import META, Cache

__all__ = ["apply_bootstrap", "apply_changes", "discard_staged", "stage_batch", "stage_removes"]

_names = (f"__realm_batch_{n}" for n in itertools.count())
#: Up to this many primary keys (and rows) are bound as parameters rather than registered
#: as an Arrow table: registering and unregistering costs DuckDB ~0.7 ms, which dominated
#: applying a steady-state frame of a few documents (benchmark B2).
_BOUND_KEYS = 16


@contextmanager
def _registered(conn: duckdb.DuckDBPyConnection, table: pa.Table) -> Iterator[str]:
    name = next(_names)
    conn.register(name, table)
    try:
        yield name
    finally:
        conn.unregister(name)


@contextmanager
def _rows(conn: duckdb.DuckDBPyConnection, table: pa.Table
          ) -> Iterator[tuple[str, list[Any] | None]]:
    """``table`` as a relation for SQL: ``(source, params)``.

    A steady-state frame's few rows are a ``VALUES`` list of bound parameters; larger
    tables are registered with DuckDB (zero-copy, but ~0.7 ms to register).
    """
    if table.num_rows > _BOUND_KEYS:
        with _registered(conn, table) as name:
            yield name, None
        return
    names = ", ".join(ddl.quote(name) for name in table.column_names)
    row = f"({', '.join('?' * table.num_columns)})"
    yield (f"(VALUES {', '.join([row] * table.num_rows)}) AS __realm_rows({names})",
           [value for record in table.to_pylist() for value in record.values()])


def _pk_values(object_schema: ObjectSchema, pks: Sequence[Any]) -> pa.Table:
    from ..wire import arrow_type

    prop = object_schema.primary_key_property
    return pa.table({"pk": pa.array(list(pks), type=arrow_type(prop))})


def _delete_pks(conn: duckdb.DuckDBPyConnection, table: str, object_schema: ObjectSchema,
                pks: Sequence[Any]) -> None:
    if not pks:
        return
    column = ddl.quote(object_schema.primary_key)
    if len(pks) <= _BOUND_KEYS:  # a steady-state frame: bound keys, no registered table
        conn.execute(f"DELETE FROM {table} WHERE {column} IN ({', '.join('?' * len(pks))})",
                     list(pks))
        return
    with _registered(conn, _pk_values(object_schema, pks)) as keys:
        conn.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT pk FROM {keys})")


def _log(conn: duckdb.DuckDBPyConnection, server_version: int | None, object_type: str,
         operation: str, pks: Sequence[Any] | None, rows: int, origin: str) -> None:
    if pks is None:
        conn.execute(f"INSERT INTO {META}.changes VALUES (?, now(), ?, NULL, ?, ?, ?)",
                     [server_version, object_type, operation, rows, origin])
        return
    if not pks:
        return
    keys = [orjson.dumps(pk).decode() for pk in pks]
    conn.execute(f"INSERT INTO {META}.changes SELECT ?, now(), ?, unnest(?::VARCHAR[]), ?, 1, ?",
                 [server_version, object_type, keys, operation, origin])


def replace_rows(conn: duckdb.DuckDBPyConnection, cache: Cache, object_schema: ObjectSchema,
                 pks: Sequence[Any], table: pa.Table | None) -> None:
    """Delete the objects ``pks`` and insert ``table`` (wire schema) in their place."""
    target = cache.table(object_schema.name)
    _delete_pks(conn, target, object_schema, pks)
    if table is not None and table.num_rows:
        with _rows(conn, table) as (source, params):
            conn.execute(f"INSERT INTO {target} {ddl.ingest_select_sql(object_schema, source)}",
                         params)


def apply_changes(cache: Cache, server_version: int, upserts: Mapping[str, pa.Table],
                  removes: Mapping[str, Sequence[Any]], *, origin: str = "server",
                  after: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> None:
    """Apply one ``changes`` frame and move the cursor, in one transaction.

    ``after(conn)`` runs last inside the same transaction (replaying pending writes).
    """
    assert cache.schema is not None
    with cache.transaction() as conn:
        for object_type, table in upserts.items():
            object_schema = cache.schema[object_type]
            pks = table.column(object_schema.primary_key).to_pylist()
            replace_rows(conn, cache, object_schema, pks, table)
            _log(conn, server_version, object_type, "upsert", pks, len(pks), origin)
        for object_type, pks in removes.items():
            object_schema = cache.schema[object_type]
            _delete_pks(conn, cache.table(object_type), object_schema, pks)
            _log(conn, server_version, object_type, "remove", pks, len(pks), origin)
        if after is not None:
            after(conn)
        cache.set_meta("cursor", server_version)


def begin_bootstrap(cache: Cache, header: Mapping[str, Any]) -> None:
    """Record a bootstrap (or its resumption); other staged data is dropped."""
    current = staged_bootstrap(cache)
    same = current is not None and (current["version"], current["kind"],
                                    current["first_snapshot"]) == (
        header["version"], header["kind"], header["first_snapshot"])
    with cache.transaction() as conn:
        if not same:
            _clear_staging(cache, conn)
            conn.execute(f"INSERT INTO {META}.bootstrap VALUES (?, ?, ?, ?, NULL, NULL, 0, ?)",
                         [header["version"], header["kind"], header["first_snapshot"],
                          header["snapshot"], orjson.dumps(header.get("totals", {})).decode()])
        else:
            conn.execute(f"UPDATE {META}.bootstrap SET snapshot = ?", [header["snapshot"]])


def staged_bootstrap(cache: Cache) -> dict[str, Any] | None:
    rows = cache.execute(
        f"SELECT version, kind, first_snapshot, snapshot, step, after, received, totals "
        f"FROM {META}.bootstrap").fetchall()
    if not rows:
        return None
    row = rows[0]
    return {"version": row[0], "kind": row[1], "first_snapshot": row[2], "snapshot": row[3],
            "step": row[4], "after": None if row[5] is None else orjson.loads(row[5]),
            "received": row[6], "totals": orjson.loads(row[7])}


def stage_batch(cache: Cache, object_type: str, table: pa.Table, step: int, after: Any) -> None:
    """Keep one bootstrap batch (durably) and remember how far the bootstrap got."""
    assert cache.schema is not None
    object_schema = cache.schema[object_type]
    with cache.transaction() as conn, _registered(conn, table) as source:
        conn.execute(f"INSERT INTO {cache.stage_table(object_type)} "
                     f"{ddl.ingest_select_sql(object_schema, source)}")
        conn.execute(f"UPDATE {META}.bootstrap SET step = ?, after = ?, received = received + ?",
                     [step, orjson.dumps(after).decode(), table.num_rows])


def stage_removes(cache: Cache, object_type: str, pks: Sequence[Any], step: int,
                  after: Any) -> None:
    with cache.transaction() as conn:
        rows = pa.table({"object_type": pa.array([object_type] * len(pks), pa.string()),
                         "pk": pa.array([orjson.dumps(pk).decode() for pk in pks], pa.string())})
        with _registered(conn, rows) as source:
            conn.execute(f"INSERT INTO {META}.staged_removes SELECT * FROM {source}")
        conn.execute(f"UPDATE {META}.bootstrap SET step = ?, after = ?",
                     [step, orjson.dumps(after).decode()])


def apply_bootstrap(cache: Cache, version: int, replay_from: int,
                    on_commit: Any = None) -> dict[str, int]:
    """Apply everything staged for ``version`` atomically; return rows added per type.

    ``on_commit(conn)`` runs inside the same transaction (the subscription set's state
    change goes with the data).
    """
    assert cache.schema is not None
    staged = staged_bootstrap(cache)
    if staged is None or staged["version"] != version:
        raise ValueError(f"no staged bootstrap for version {version}")
    added: dict[str, int] = {}
    with cache.transaction() as conn:
        full = staged["kind"] == "full"
        for object_schema in cache.schema:
            target = cache.table(object_schema.name)
            stage = cache.stage_table(object_schema.name)
            pk = ddl.quote(object_schema.primary_key)
            rows = int(conn.execute(f"SELECT count(*) FROM {stage}").fetchall()[0][0])
            if full:
                # Everything staged replaces everything held: swap the tables, copy nothing.
                conn.execute(f"DROP TABLE {target}")
                conn.execute(f"ALTER TABLE {stage} RENAME TO {target}")
                conn.execute(ddl.create_table_sql(object_schema,
                                                  name=cache.stage_name(object_schema.name)))
            else:
                removes = conn.execute(
                    f"SELECT pk FROM {META}.staged_removes WHERE object_type = ?",
                    [object_schema.name]).fetchall()
                _delete_pks(conn, target, object_schema, [orjson.loads(r[0]) for r in removes])
                if removes:
                    _log(conn, None, object_schema.name, "remove", None, len(removes), "bootstrap")
                conn.execute(f"DELETE FROM {target} WHERE {pk} IN (SELECT {pk} FROM {stage})")
                if rows:
                    conn.execute(f"INSERT INTO {target} SELECT * FROM {stage}")
            if rows:
                _log(conn, None, object_schema.name, "bootstrap", None, rows, "bootstrap")
            added[object_schema.name] = rows
        _clear_staging(cache, conn)
        cache.set_meta("cursor", replay_from)
        if on_commit is not None:
            on_commit(conn)
    return added


def discard_staged(cache: Cache) -> None:
    with cache.transaction() as conn:
        _clear_staging(cache, conn)


def _clear_staging(cache: Cache, conn: duckdb.DuckDBPyConnection) -> None:
    assert cache.schema is not None
    for object_schema in cache.schema:
        conn.execute(f"DELETE FROM {cache.stage_table(object_schema.name)}")
    conn.execute(f"DELETE FROM {META}.staged_removes")
    conn.execute(f"DELETE FROM {META}.bootstrap")
