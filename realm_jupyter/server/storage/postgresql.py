"""The PostgreSQL store: several server processes share one database.

Writes use psycopg 3; bootstraps read through the ADBC PostgreSQL driver (binary
COPY into Arrow) inside a REPEATABLE READ transaction. Events travel between
processes with ``LISTEN/NOTIFY`` on one channel; each process feeds what it hears
into its in-process broadcaster, its own notifications included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from ...errors import StorageError
from ...schema import ObjectSchema
from . import layout
from .base import Event, HistoryEntry, Snapshot
from .rows import history_entry
from .sql import SQLStore

__all__ = ["PostgresStore"]

logger = logging.getLogger(__name__)
CHANNEL = "realm_events"

_DDL = [
    "CREATE TABLE IF NOT EXISTS _realm_meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _realm_counter (id integer PRIMARY KEY, version bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _realm_users (id text PRIMARY KEY, provider text NOT NULL, "
    "email text UNIQUE, password_hash text, custom_data jsonb, created_at bigint NOT NULL, "
    "disabled boolean NOT NULL DEFAULT false)",
    "CREATE TABLE IF NOT EXISTS _realm_api_keys (id text PRIMARY KEY, user_id text NOT NULL, "
    "name text NOT NULL, key_hash text NOT NULL UNIQUE, created_at bigint NOT NULL, "
    "disabled boolean NOT NULL DEFAULT false)",
    "CREATE TABLE IF NOT EXISTS _realm_refresh_tokens (token_hash text PRIMARY KEY, "
    "user_id text NOT NULL, expires_at bigint NOT NULL, revoked boolean NOT NULL DEFAULT false)",
    "CREATE TABLE IF NOT EXISTS _realm_clients (id text PRIMARY KEY, user_id text NOT NULL, "
    "desired_version bigint NOT NULL, desired_queries jsonb NOT NULL, view_hash text, "
    "upload_version bigint NOT NULL, created_at bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _realm_history (version bigint PRIMARY KEY, object_type text NOT "
    "NULL, pk text NOT NULL, doc jsonb, prev jsonb, client_id text, client_version bigint, "
    "ts bigint NOT NULL, revert boolean NOT NULL DEFAULT false, reason text)",
    "CREATE TABLE IF NOT EXISTS _realm_clocks (object_type text NOT NULL, pk text NOT NULL, "
    "clock text NOT NULL, PRIMARY KEY (object_type, pk))",
    "CREATE INDEX IF NOT EXISTS _realm_history_ts ON _realm_history (ts)",
]


class PostgresStore(SQLStore):
    """A store in a PostgreSQL database (``postgresql://user@host:port/db``)."""

    dialect = "postgresql"
    mark = "%s"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def _connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url)
        except psycopg.Error as error:
            raise StorageError(f"cannot connect to PostgreSQL: {error}") from error

    def _internal_ddl(self) -> list[str]:
        return _DDL

    def _begin_write(self, conn: Any) -> None:
        """psycopg opens the transaction itself; the counter row lock serialises writers."""

    def _json(self) -> str:
        return "%s::jsonb"

    def _for_update(self) -> str:
        return " FOR UPDATE"

    async def open(self, schema: Mapping[str, ObjectSchema],
                   queryable: Mapping[str, frozenset[str]]) -> None:
        await super().open(schema, queryable)
        self._listener = asyncio.create_task(self._listen(), name="realm-store-listen")
        await asyncio.wait_for(self._listening.wait(), timeout=30)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await super().close()

    async def _listen(self) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    async for notice in conn.notifies():
                        kind, _, value = notice.payload.partition(":")
                        self._broadcaster.publish(Event(kind, value))
            except psycopg.Error as error:
                logger.warning("lost the PostgreSQL notification connection (%s); reconnecting",
                               error)
                await asyncio.sleep(1.0)

    async def publish(self, event: Event) -> None:
        payload = f"{event.kind}:{event.value}"
        await self._run(lambda: self._query("SELECT pg_notify(%s, %s)", (CHANNEL, payload)))

    def snapshot(self) -> Snapshot:
        return _PostgresSnapshot(self)

    async def bulk_load(self, object_schema: ObjectSchema, table: pa.Table,
                        compact: bool | None = None) -> int:
        from .bulk import bulk_load

        return await bulk_load(self, object_schema, table, compact)


class _PostgresSnapshot(Snapshot):
    """One ADBC connection in a REPEATABLE READ transaction; parameters are ``$n``."""

    def __init__(self, store: PostgresStore) -> None:
        import adbc_driver_postgresql.dbapi as adbc

        self.store = store
        try:
            self.conn = adbc.connect(store.url)
        except Exception as error:
            raise StorageError(f"cannot connect to PostgreSQL: {error}") from error
        store._snapshot_opened()
        self._closed = False
        try:
            cursor = self.conn.cursor()
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT version FROM _realm_counter WHERE id = 1")
            self.version = int(cursor.fetchone()[0])
            cursor.close()
        except BaseException:
            self.close()
            raise

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, parameters=list(params) or None)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def history(self, after: int, limit: int) -> list[HistoryEntry]:
        rows = self._rows("SELECT version, object_type, pk, doc::text, prev::text, client_id, "
                          "client_version, ts, revert, reason FROM _realm_history WHERE version > $1 AND "
                          "version <= $2 ORDER BY version LIMIT $3", (after, self.version, limit))
        return [history_entry(row) for row in rows]

    def count(self, object_schema: ObjectSchema, where: str, params: Sequence[Any],
              after: Any = None) -> int:
        condition, values, _ = self._filter(object_schema, where, params, after)
        rows = self._rows(f"SELECT count(*) FROM {layout.quote(object_schema.name)} "
                          f"WHERE {condition}", values)
        return int(rows[0][0])

    def _filter(self, object_schema: ObjectSchema, where: str, params: Sequence[Any],
                after: Any) -> tuple[str, list[Any], str]:
        pk = layout.quote(object_schema.primary_key)
        order = f'{pk} COLLATE "C"' if object_schema.primary_key_property.type.value in (
            "string", "objectId", "uuid") else pk
        condition, values = f"({where})", list(params)
        if after is not None:
            values.append(after)
            condition += f" AND {order} > ${len(values)}"
        return condition, values, order

    def batches(self, object_schema: ObjectSchema, where: str, params: Sequence[Any], *,
                functions: frozenset[str] = frozenset(), hidden: frozenset[str] = frozenset(),
                after: Any = None, batch_rows: int = 50_000,
                batch_bytes: int | None = None) -> Iterator[pa.Table]:
        condition, values, order = self._filter(object_schema, where, params, after)
        columns = layout.select_columns_sql(object_schema, "postgresql", hidden)
        cursor = self.conn.cursor()
        if batch_bytes is not None:  # the driver's batches, and so what one stream holds
            cursor.adbc_statement.set_options(
                **{"adbc.postgresql.batch_size_hint_bytes": str(batch_bytes)})
        try:
            cursor.execute(f"SELECT {columns} FROM {layout.quote(object_schema.name)} "
                           f"WHERE {condition} ORDER BY {order}", parameters=values or None)
            for table in layout.rebatch(cursor.fetch_record_batch(), batch_rows, batch_bytes):
                yield layout.to_wire(object_schema, table)
        finally:
            cursor.close()

    def pks(self, object_schema: ObjectSchema, where: str, params: Sequence[Any], *,
            functions: frozenset[str] = frozenset(), after: Any = None,
            batch_rows: int = 50_000) -> Iterator[list[Any]]:
        condition, values, order = self._filter(object_schema, where, params, after)
        pk = layout.quote(object_schema.primary_key)
        rows = self._rows(f"SELECT {pk} FROM {layout.quote(object_schema.name)} WHERE {condition} "
                          f"ORDER BY {order}", values)
        for start in range(0, len(rows), batch_rows):
            yield [row[0] for row in rows[start : start + batch_rows]]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with contextlib.suppress(Exception):
                self.conn.rollback()
            self.conn.close()
        finally:
            self.store._snapshot_closed()
