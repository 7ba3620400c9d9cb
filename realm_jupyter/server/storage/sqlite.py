"""The SQLite store: one file in WAL mode, the default for one machine.

Everything goes through the ADBC SQLite driver: small statements through a thin
``sqlite3``-style adapter (:class:`AdbcConnection`), bootstrap reads as Arrow
record batches that are never touched row by row in Python. Python's own
``sqlite3`` must not open the file in the same process: the driver carries its
own copy of SQLite, and two copies in one process drop each other's POSIX locks
and ignore each other's WAL read marks — "disk I/O error", and snapshots that see
later writes (https://www.sqlite.org/howtocorrupt.html, "multiple copies of SQLite").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ...errors import StorageError
from ...schema import ObjectSchema
from . import layout
from .base import Event, HistoryEntry, Snapshot
from .private import private_sqlite_files, read_or_create_secret, secret_path
from .rows import history_entry
from .sql import SQLStore

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)

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
    "ts INTEGER NOT NULL, revert INTEGER NOT NULL DEFAULT 0, reason TEXT)",
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


class _Result:
    """What a statement returned, fetched eagerly (``sqlite3`` cursor style)."""

    rowcount = -1

    def __init__(self, rows: list[tuple[Any, ...]], description: Any) -> None:
        self.rows = rows
        self.description = description

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        chunk, self.rows = self.rows[:size], self.rows[size:]
        return chunk


class AdbcConnection:
    """A ``sqlite3``-style connection over ADBC: ``execute``, ``commit``, ``rollback``.

    Autocommit at the driver; transactions are explicit ``BEGIN`` statements, so a
    write can take the file's write lock up front (``BEGIN IMMEDIATE``). Results are
    read in one batch, so the driver infers column types from every row.
    """

    def __init__(self, path: Path) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        try:
            self.raw = adbc.connect(str(path), autocommit=True)
        except Exception as error:
            raise StorageError(f"cannot open {path}: {error}") from error
        self.cursor = self.raw.cursor()
        self.cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_ONE_BATCH)})
        self.in_transaction = False
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                       f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"):
            self.execute(pragma)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        self.cursor.execute(sql, parameters=list(params) if params else None)
        description = self.cursor.description
        rows = [tuple(row) for row in self.cursor.fetchall()] if description else []
        keyword = sql.lstrip()[:6].upper()
        if keyword.startswith("BEGIN"):
            self.in_transaction = True
        elif keyword in ("COMMIT", "ROLLBA", "END"):
            self.in_transaction = False
        return _Result(rows, description)

    def commit(self) -> None:
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.cursor.close()
        self.raw.close()


_ONE_BATCH = 1 << 30
BUSY_TIMEOUT_MS = 30_000


class SQLiteStore(SQLStore):
    """A store in one SQLite file (``sqlite:///path``)."""

    dialect = "sqlite"
    mark = "?"

    #: How often to look for commits by other processes (a CLI import, a second server).
    WATCH_SECONDS = 0.25

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self._known_version = 0
        self._watcher: asyncio.Task[None] | None = None

    async def open(self, schema: Mapping[str, ObjectSchema],
                   queryable: Mapping[str, frozenset[str]]) -> None:
        await asyncio.to_thread(private_sqlite_files, self.path)
        await super().open(schema, queryable)
        self._known_version = await self.latest_version()
        self._watcher = asyncio.create_task(self._watch(), name="realm-store-watch")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await super().close()

    async def publish(self, event: Event) -> None:
        if event.kind == "history":
            self._known_version = max(self._known_version, int(event.value))
        await super().publish(event)

    async def _watch(self) -> None:
        """Turn other processes' commits into events for this process's sessions."""
        while True:
            await asyncio.sleep(self.WATCH_SECONDS)
            try:
                latest = await self.latest_version()
            except StorageError:
                continue
            if latest > self._known_version:
                await self.publish(Event("history", str(latest)))

    def _connect(self) -> AdbcConnection:
        return AdbcConnection(self.path)

    async def delete_meta(self, key: str) -> None:
        """Delete the row and overwrite its bytes: in the file (``secure_delete``) and in the
        WAL (a truncating checkpoint), so a secret moved out leaves no copy behind."""

        def run() -> None:
            with self._connection() as conn:
                conn.execute("PRAGMA secure_delete = ON")
                try:
                    conn.execute("DELETE FROM _realm_meta WHERE key = ?", (key,))
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    conn.execute("PRAGMA secure_delete = OFF")

        await self._run(run)

    async def signing_secret(self, candidate: str, *, given: str | None = None) -> str:
        """From ``given``, else ``<store file>.secret`` (0600); a secret an older version kept
        in ``_realm_meta`` is moved to that file and erased from the data file."""
        stored = await self.get_meta("signing_secret")
        if given is not None:
            secret = given
        else:
            secret = await asyncio.to_thread(read_or_create_secret, secret_path(self.path),
                                             stored or candidate)
        if stored is not None:
            await self.delete_meta("signing_secret")
            logger.info("moved the token signing secret out of %s", self.path)
        return secret

    def _internal_ddl(self) -> list[str]:
        return _DDL

    def _begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def snapshot(self) -> Snapshot:
        return _SQLiteSnapshot(self)

    async def bulk_load(self, object_schema: ObjectSchema, table: pa.Table,
                        compact: bool | None = None) -> int:
        from .bulk import bulk_load

        return await bulk_load(self, object_schema, table, compact)


def _skip_witness(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The record batches without the leading witness row (see ``layout.witness_sql``)."""
    first = True
    for batch in batches:
        if first:
            batch, first = batch.slice(1), False
        yield batch


class _SQLiteSnapshot(Snapshot):
    """One pooled connection in a read transaction: rows for metadata, Arrow for documents."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.rows: AdbcConnection = store._acquire()
        self._closed = False
        try:
            self.rows.execute("BEGIN")
            row = self.rows.execute("SELECT version FROM _realm_counter WHERE id = 1").fetchone()
            assert row is not None
            self.version = int(row[0])
        except BaseException:
            self.close()
            raise

    def history(self, after: int, limit: int) -> list[HistoryEntry]:
        rows = self.rows.execute(
            "SELECT version, object_type, pk, doc, prev, client_id, client_version, ts, revert, reason "
            "FROM _realm_history WHERE version > ? AND version <= ? ORDER BY version LIMIT ?",
            (after, self.version, limit)).fetchall()
        return [history_entry(row) for row in rows]

    def count(self, object_schema: ObjectSchema, where: str, params: Sequence[Any],
              after: Any = None) -> int:
        condition, values = self._filter(object_schema, where, params, after)
        row = self.rows.execute(f"SELECT count(*) FROM {layout.quote(object_schema.name)} "
                                f"WHERE {condition}", values).fetchone()
        assert row is not None
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
        pk = layout.quote(object_schema.primary_key)
        columns = layout.select_columns_sql(object_schema, "sqlite", hidden)
        select = (f"SELECT {columns} FROM {layout.quote(object_schema.name)} WHERE {condition} "
                  f"ORDER BY {pk}")
        cursor = self.rows.raw.cursor()  # same connection, same snapshot
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        try:
            cursor.execute(f"SELECT * FROM (SELECT {layout.witness_sql(object_schema)}) "
                           f"UNION ALL SELECT * FROM ({select})", parameters=values or None)
            for table in layout.rebatch(_skip_witness(cursor.fetch_record_batch()), batch_rows):
                yield layout.to_wire(object_schema, table)
        finally:
            cursor.close()

    def pks(self, object_schema: ObjectSchema, where: str, params: Sequence[Any], *,
            functions: frozenset[str] = frozenset(), after: Any = None,
            batch_rows: int = 50_000) -> Iterator[list[Any]]:
        condition, values = self._filter(object_schema, where, params, after)
        pk = layout.quote(object_schema.primary_key)
        result = self.rows.execute(f"SELECT {pk} FROM {layout.quote(object_schema.name)} "
                                   f"WHERE {condition} ORDER BY {pk}", values)
        while True:
            rows = result.fetchmany(batch_rows)
            if not rows:
                return
            yield [row[0] for row in rows]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.rows.rollback()
        except Exception:  # a broken connection does not go back into the pool
            self.rows.close()
            return
        self.store._release(self.rows)
