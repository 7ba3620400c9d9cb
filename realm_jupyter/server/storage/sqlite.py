"""The SQLite store: one file in WAL mode, the default for one machine.

Writes go through ``sqlite3`` (one writer at a time, ``BEGIN IMMEDIATE``). Reads
for bootstraps go through the ADBC SQLite driver, which hands rows over as Arrow
record batches without touching them in Python.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ...errors import StorageError
from ...query.values import fold
from ...schema import ObjectSchema
from . import layout
from .base import HistoryEntry, Snapshot
from .sql import SQLStore, history_entry

__all__ = ["SQLiteStore"]

_DDL = [
    "CREATE TABLE IF NOT EXISTS _realm_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _realm_counter (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _realm_users (id TEXT PRIMARY KEY, provider TEXT NOT NULL, "
    "email TEXT UNIQUE, password_hash TEXT, custom_data TEXT, created_at INTEGER NOT NULL, "
    "disabled INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS _realm_api_keys (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
    "name TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, "
    "disabled INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS _realm_refresh_tokens (token_hash TEXT PRIMARY KEY, "
    "user_id TEXT NOT NULL, expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS _realm_clients (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
    "desired_version INTEGER NOT NULL, desired_queries TEXT NOT NULL, view_hash TEXT, "
    "upload_version INTEGER NOT NULL, created_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _realm_history (version INTEGER PRIMARY KEY, object_type TEXT NOT "
    "NULL, pk TEXT NOT NULL, doc TEXT, prev TEXT, client_id TEXT, client_version INTEGER, "
    "ts INTEGER NOT NULL, revert INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS _realm_clocks (object_type TEXT NOT NULL, pk TEXT NOT NULL, "
    "clock TEXT NOT NULL, PRIMARY KEY (object_type, pk))",
    "CREATE INDEX IF NOT EXISTS _realm_history_ts ON _realm_history (ts)",
]


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///path`` URL."""
    if not url.startswith("sqlite:///"):
        raise StorageError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file)")
    path = url.removeprefix("sqlite:///")
    if path in ("", ":memory:"):
        raise StorageError("the SQLite store needs a file (several connections share it)")
    return Path(path)


class SQLiteStore(SQLStore):
    """A store in one SQLite file (``sqlite:///path``)."""

    dialect = "sqlite"
    mark = "?"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        except sqlite3.Error as error:
            raise StorageError(f"cannot open {self.path}: {error}") from error
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.create_function("realm_fold", 1, _fold, deterministic=True)
        return conn

    def _internal_ddl(self) -> list[str]:
        return _DDL

    def _begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def snapshot(self) -> Snapshot:
        with self._write_lock:
            return _SQLiteSnapshot(self)

    async def bulk_load(self, object_schema: ObjectSchema, table: pa.Table) -> int:
        from .bulk import bulk_load

        return await bulk_load(self, object_schema, table)


def _fold(value: Any) -> Any:
    return fold(value) if isinstance(value, str) else value


class _SQLiteSnapshot(Snapshot):
    """Two connections opened together under the write lock: ADBC for Arrow, sqlite3 for the rest."""

    def __init__(self, store: SQLiteStore) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        self.store = store
        self.rows = store._connect()
        self.rows.execute("BEGIN")
        self.version = int(self.rows.execute(
            "SELECT version FROM _realm_counter WHERE id = 1").fetchone()[0])
        self.arrow = adbc.connect(str(store.path))  # not autocommit: one read transaction
        cursor = self.arrow.cursor()
        cursor.execute("SELECT version FROM _realm_counter WHERE id = 1")
        arrow_version = cursor.fetchone()
        cursor.close()
        if arrow_version is None or int(arrow_version[0]) != self.version:
            self.close()
            raise StorageError("could not open a consistent SQLite snapshot")

    def history(self, after: int, limit: int) -> list[HistoryEntry]:
        rows = self.rows.execute(
            "SELECT version, object_type, pk, doc, prev, client_id, client_version, ts FROM "
            "_realm_history WHERE version > ? AND version <= ? ORDER BY version LIMIT ?",
            (after, self.version, limit)).fetchall()
        return [history_entry(row) for row in rows]

    def count(self, object_schema: ObjectSchema, where: str, params: Sequence[Any]) -> int:
        row = self.rows.execute(f"SELECT count(*) FROM {layout.quote(object_schema.name)} "
                                f"WHERE {where}", tuple(params)).fetchone()
        return int(row[0])

    def _filter(self, object_schema: ObjectSchema, where: str, params: Sequence[Any],
                after: Any) -> tuple[str, list[Any]]:
        pk = layout.quote(object_schema.primary_key)
        condition, values = f"({where})", list(params)
        if after is not None:
            condition += f" AND {pk} > ?"
            values.append(after)
        return condition, values

    def batches(self, object_schema: ObjectSchema, where: str, params: Sequence[Any], *,
                functions: frozenset[str] = frozenset(), hidden: frozenset[str] = frozenset(),
                after: Any = None, batch_rows: int = 50_000) -> Iterator[pa.Table]:
        condition, values = self._filter(object_schema, where, params, after)
        table = layout.quote(object_schema.name)
        pk = layout.quote(object_schema.primary_key)
        columns = layout.select_columns_sql(object_schema, "sqlite", hidden)
        select = f"SELECT {columns} FROM {table} WHERE {condition} ORDER BY {pk}"
        if functions:  # user-defined functions live only in sqlite3 connections
            yield from self._python_batches(object_schema, select, values, batch_rows)
            return
        cursor = self.arrow.cursor()
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cursor.execute(f"SELECT * FROM (SELECT {layout.witness_sql(object_schema)}) "
                       f"UNION ALL SELECT * FROM ({select})", parameters=values)
        reader = cursor.fetch_record_batch()
        first = True
        try:
            for batch in reader:
                if first:
                    batch, first = batch.slice(1), False
                if batch.num_rows:
                    yield layout.to_wire(object_schema, batch)
        finally:
            cursor.close()

    def _python_batches(self, object_schema: ObjectSchema, select: str, values: list[Any],
                        batch_rows: int) -> Iterator[pa.Table]:
        cursor = self.rows.execute(select, values)
        storage = layout.sqlite_arrow_schema(object_schema)
        while True:
            rows = cursor.fetchmany(batch_rows)
            if not rows:
                return
            columns = list(zip(*rows, strict=True))
            arrays = [pa.array(column, type=field.type) for column, field in zip(columns, storage,
                                                                                 strict=True)]
            yield layout.to_wire(object_schema, pa.Table.from_arrays(arrays, schema=storage))

    def pks(self, object_schema: ObjectSchema, where: str, params: Sequence[Any], *,
            functions: frozenset[str] = frozenset(), after: Any = None,
            batch_rows: int = 50_000) -> Iterator[list[Any]]:
        condition, values = self._filter(object_schema, where, params, after)
        pk = layout.quote(object_schema.primary_key)
        cursor = self.rows.execute(f"SELECT {pk} FROM {layout.quote(object_schema.name)} "
                                   f"WHERE {condition} ORDER BY {pk}", values)
        while True:
            rows = cursor.fetchmany(batch_rows)
            if not rows:
                return
            yield [row[0] for row in rows]

    def close(self) -> None:
        for conn in (getattr(self, "rows", None), getattr(self, "arrow", None)):
            if conn is None:
                continue
            with contextlib.suppress(Exception):  # closing anyway
                conn.rollback()
            conn.close()

