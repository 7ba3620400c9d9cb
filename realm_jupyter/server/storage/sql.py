"""The store logic both SQL backends share; backends supply connections and spellings.

Blocking DB-API calls run on worker threads (``asyncio.to_thread``) from a small
connection pool, so the server's event loop never waits on the database. Writes
are serialised by a row lock on ``_realm_counter`` (and, for SQLite, by the
file's single writer): the next server version is read, used and stored in one
transaction, so versions become visible in order.
"""

from __future__ import annotations

import abc
import asyncio
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
import pyarrow as pa

from ...documents import plain_value
from ...errors import StorageError
from ...schema import ObjectSchema
from . import layout
from .base import (
    ApiKeyRecord,
    ClientRecord,
    Event,
    HistoryEntry,
    RefreshTokenRecord,
    Store,
    UserRecord,
)
from .events import Broadcaster, Subscription
from .rows import Transaction, decode_json, history_entry, now_ms, select_documents

__all__ = ["SQLStore", "now_ms"]

T = TypeVar("T")
DBConnection = Any


class SQLStore(Store):
    """Shared implementation over a DB-API driver (sqlite3 or psycopg)."""

    #: placeholder of the DB-API driver
    mark = "?"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        self.schema: dict[str, ObjectSchema] = {}
        self._pool: queue.SimpleQueue[DBConnection] = queue.SimpleQueue()
        self._pool_size = pool_size
        self._created = 0
        self._pool_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._broadcaster = Broadcaster()

    # ------------------------------------------------------------------ backend hooks

    @abc.abstractmethod
    def _connect(self) -> DBConnection:
        """A new DB-API connection, configured."""

    @abc.abstractmethod
    def _internal_ddl(self) -> list[str]:
        """CREATE statements for the ``_realm_*`` tables."""

    @abc.abstractmethod
    def _begin_write(self, conn: DBConnection) -> None:
        """Start a write transaction that excludes other writers."""

    def _json(self) -> str:
        """Placeholder for a JSON-column parameter."""
        return self.mark

    # ------------------------------------------------------------------ plumbing

    def _acquire(self) -> DBConnection:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            return self._connect()

    def _release(self, conn: DBConnection) -> None:
        self._pool.put(conn)

    @contextmanager
    def _connection(self) -> Iterator[DBConnection]:
        conn = self._acquire()
        try:
            yield conn
        except Exception:
            try:
                conn.rollback()
            except Exception:  # a broken connection is dropped below
                conn.close()
                raise
            self._release(conn)
            raise
        else:
            self._release(conn)

    async def _run(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(fn)
        except StorageError:
            raise
        except Exception as error:
            if _is_driver_error(error):
                raise StorageError(f"{self.dialect} store failed: {error}") from error
            raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            cursor = conn.execute(sql, tuple(params))
            rows = cursor.fetchall() if cursor.description else []
            conn.commit()
            return [tuple(r) for r in rows]

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._connection() as conn:
            cursor = conn.execute(sql, tuple(params))
            conn.commit()
            return int(cursor.rowcount or 0)

    def sql(self, text: str) -> str:
        """Our SQL is written with ``?``; convert for drivers that use ``%s``."""
        return text if self.mark == "?" else text.replace("?", self.mark)

    # ------------------------------------------------------------------ lifecycle

    async def open(self, schema: Mapping[str, ObjectSchema],
                   queryable: Mapping[str, frozenset[str]]) -> None:
        self.schema = dict(schema)

        def create() -> None:
            with self._connection() as conn:
                for statement in self._internal_ddl():
                    conn.execute(statement)
                conn.execute(self.sql("INSERT INTO _realm_counter (id, version) VALUES (1, 0) "
                                      "ON CONFLICT (id) DO NOTHING"))
                for object_schema in self.schema.values():
                    conn.execute(layout.create_table_sql(object_schema, self.dialect))
                    for statement in layout.index_sql(object_schema,
                                                      queryable.get(object_schema.name, frozenset()),
                                                      self.dialect):
                        conn.execute(statement)
                conn.commit()

        await self._run(create)

    async def close(self) -> None:
        while True:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                break
            await asyncio.to_thread(conn.close)

    # ------------------------------------------------------------------ meta

    async def get_meta(self, key: str) -> str | None:
        rows = await self._run(lambda: self._query(
            self.sql("SELECT value FROM _realm_meta WHERE key = ?"), (key,)))
        return rows[0][0] if rows else None

    async def set_meta(self, key: str, value: str, *, only_if_absent: bool = False) -> str:
        action = "NOTHING" if only_if_absent else "UPDATE SET value = excluded.value"
        statement = self.sql(f"INSERT INTO _realm_meta (key, value) VALUES (?, ?) "
                             f"ON CONFLICT (key) DO {action}")

        def run() -> str:
            self._execute(statement, (key, value))
            rows = self._query(self.sql("SELECT value FROM _realm_meta WHERE key = ?"), (key,))
            return str(rows[0][0])

        return await self._run(run)

    async def delete_meta(self, key: str) -> None:
        statement = self.sql("DELETE FROM _realm_meta WHERE key = ?")
        await self._run(lambda: self._execute(statement, (key,)))

    # ------------------------------------------------------------------ users and credentials

    _USER_COLUMNS = "id, provider, email, password_hash, custom_data, created_at, disabled"

    def _user(self, row: tuple[Any, ...]) -> UserRecord:
        return UserRecord(id=row[0], provider=row[1], email=row[2], password_hash=row[3],
                          custom_data=decode_json(row[4]) or {}, created_at=int(row[5]),
                          disabled=bool(row[6]))

    async def create_user(self, user: UserRecord) -> None:
        statement = self.sql(f"INSERT INTO _realm_users ({self._USER_COLUMNS}) "
                             f"VALUES (?, ?, ?, ?, {self._json()}, ?, ?)")
        params = (user.id, user.provider, user.email, user.password_hash,
                  orjson.dumps(plain_value(dict(user.custom_data))).decode(), user.created_at,
                  user.disabled)
        try:
            await self._run(lambda: self._execute(statement, params))
        except StorageError as error:
            raise StorageError(f"user {user.email or user.id} already exists") from error

    async def get_user(self, user_id: str) -> UserRecord | None:
        rows = await self._run(lambda: self._query(
            self.sql(f"SELECT {self._USER_COLUMNS} FROM _realm_users WHERE id = ?"), (user_id,)))
        return self._user(rows[0]) if rows else None

    async def find_user_by_email(self, email: str) -> UserRecord | None:
        rows = await self._run(lambda: self._query(
            self.sql(f"SELECT {self._USER_COLUMNS} FROM _realm_users WHERE email = ?"), (email,)))
        return self._user(rows[0]) if rows else None

    async def add_api_key(self, key: ApiKeyRecord) -> None:
        statement = self.sql("INSERT INTO _realm_api_keys (id, user_id, name, key_hash, created_at, "
                             "disabled) VALUES (?, ?, ?, ?, ?, ?)")
        await self._run(lambda: self._execute(statement, (key.id, key.user_id, key.name,
                                                          key.key_hash, key.created_at,
                                                          key.disabled)))

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        rows = await self._run(lambda: self._query(self.sql(
            "SELECT id, user_id, name, key_hash, created_at, disabled FROM _realm_api_keys "
            "WHERE key_hash = ?"), (key_hash,)))
        if not rows:
            return None
        r = rows[0]
        return ApiKeyRecord(r[0], r[1], r[2], r[3], int(r[4]), bool(r[5]))

    async def add_refresh_token(self, token: RefreshTokenRecord) -> None:
        statement = self.sql("INSERT INTO _realm_refresh_tokens (token_hash, user_id, expires_at, "
                             "revoked) VALUES (?, ?, ?, ?)")
        await self._run(lambda: self._execute(statement, (token.token_hash, token.user_id,
                                                          token.expires_at, token.revoked)))

    async def find_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        rows = await self._run(lambda: self._query(self.sql(
            "SELECT token_hash, user_id, expires_at, revoked FROM _realm_refresh_tokens "
            "WHERE token_hash = ?"), (token_hash,)))
        if not rows:
            return None
        r = rows[0]
        return RefreshTokenRecord(r[0], r[1], int(r[2]), bool(r[3]))

    async def revoke_refresh_token(self, token_hash: str) -> None:
        statement = self.sql("UPDATE _realm_refresh_tokens SET revoked = ? WHERE token_hash = ?")
        await self._run(lambda: self._execute(statement, (True, token_hash)))

    # ------------------------------------------------------------------ clients

    async def create_client(self, client_id: str, user_id: str) -> None:
        statement = self.sql("INSERT INTO _realm_clients (id, user_id, desired_version, "
                             f"desired_queries, upload_version, created_at) VALUES (?, ?, 0, "
                             f"{self._json()}, 0, ?)")
        await self._run(lambda: self._execute(statement, (client_id, user_id, "{}", now_ms())))

    async def get_client(self, client_id: str) -> ClientRecord | None:
        rows = await self._run(lambda: self._query(self.sql(
            "SELECT id, user_id, desired_version, desired_queries, view_hash, upload_version, "
            "created_at FROM _realm_clients WHERE id = ?"), (client_id,)))
        if not rows:
            return None
        r = rows[0]
        return ClientRecord(r[0], r[1], int(r[2]), decode_json(r[3]) or {}, r[4], int(r[5]),
                            int(r[6]))

    async def set_desired_queries(self, client_id: str, version: int,
                                  queries: Mapping[str, list[str]]) -> None:
        statement = self.sql(f"UPDATE _realm_clients SET desired_version = ?, desired_queries = "
                             f"{self._json()} WHERE id = ? AND desired_version < ?")
        params = (version, orjson.dumps(dict(queries)).decode(), client_id, version)
        await self._run(lambda: self._execute(statement, params))

    async def set_view_hash(self, client_id: str, view_hash: str) -> None:
        statement = self.sql("UPDATE _realm_clients SET view_hash = ? WHERE id = ?")
        await self._run(lambda: self._execute(statement, (view_hash, client_id)))

    async def set_upload_version(self, client_id: str, client_version: int) -> None:
        statement = self.sql("UPDATE _realm_clients SET upload_version = ? WHERE id = ? "
                             "AND upload_version < ?")
        await self._run(lambda: self._execute(statement, (client_version, client_id,
                                                          client_version)))

    # ------------------------------------------------------------------ documents and history

    async def has_clients(self) -> bool:
        """Whether any client ever registered (a fresh store can load without history)."""
        return bool(await self._run(lambda: self._query("SELECT 1 FROM _realm_clients LIMIT 1")))

    async def latest_version(self) -> int:
        rows = await self._run(lambda: self._query("SELECT version FROM _realm_counter WHERE id = 1"))
        return int(rows[0][0])

    async def write(self, work: Any, *, client_id: str | None = None,
                    client_version: int | None = None) -> tuple[Any, int]:
        def run() -> tuple[Any, int]:
            with self._write_lock, self._connection() as conn:
                self._begin_write(conn)
                row = conn.execute(self.sql("SELECT version FROM _realm_counter WHERE id = 1"
                                            + self._for_update())).fetchone()
                tx = Transaction(self, conn, int(row[0]), client_id, client_version)
                result = work(tx)
                if tx.version != int(row[0]):
                    conn.execute(self.sql("UPDATE _realm_counter SET version = ? WHERE id = 1"),
                                 (tx.version,))
                conn.commit()
                return result, tx.version

        result, version = await self._run(run)
        await self.publish(Event("history", str(version)))
        return result, version

    def _for_update(self) -> str:
        return ""

    async def get_documents(self, object_type: str,
                            pks: Sequence[Any]) -> dict[Any, dict[str, Any]]:
        def run() -> dict[Any, dict[str, Any]]:
            with self._connection() as conn:
                found = select_documents(self, conn, self.schema[object_type], pks)
                conn.commit()
                return found

        return await self._run(run)

    async def find_documents(self, object_type: str, field: str, value: Any,
                             limit: int = 10) -> list[dict[str, Any]]:
        object_schema = self.schema[object_type]
        prop = object_schema[field]
        columns = ", ".join(layout.quote(p.name) for p in object_schema)
        statement = (f"SELECT {columns} FROM {layout.quote(object_type)} WHERE "
                     f"{layout.quote(field)} = {self.mark} LIMIT {int(limit)}")
        rows = await self._run(lambda: self._query(
            statement, (layout.encode_value(prop, value, self.dialect),)))
        return [layout.decode_row(object_schema, row, self.dialect) for row in rows]

    async def history(self, after: int, limit: int = 10_000) -> list[HistoryEntry]:
        rows = await self._run(lambda: self._query(self.sql(
            "SELECT version, object_type, pk, doc, prev, client_id, client_version, ts, revert, reason "
            "FROM _realm_history WHERE version > ? ORDER BY version LIMIT ?"), (after, limit)))
        return [history_entry(row) for row in rows]

    async def trim_history(self, before_timestamp: int) -> int:
        def run() -> int:
            with self._write_lock, self._connection() as conn:
                self._begin_write(conn)
                conn.execute(self.sql("SELECT version FROM _realm_counter WHERE id = 1"
                                      + self._for_update())).fetchone()  # exclude writers
                row = conn.execute(self.sql("SELECT value FROM _realm_meta WHERE key = ?"),
                                   ("trimmed_through",)).fetchone()
                current = int(row[0]) if row else 0
                # Only history above the current trim point counts: a compacting bulk load
                # moves the point past entries it leaves behind, and it must never go back.
                row = conn.execute(self.sql("SELECT max(version) FROM _realm_history "
                                            "WHERE ts < ? AND version > ?"),
                                   (before_timestamp, current)).fetchone()
                trimmed = int(row[0]) if row and row[0] is not None else None
                if trimmed is not None:
                    conn.execute(self.sql("DELETE FROM _realm_history WHERE version <= ?"),
                                 (trimmed,))
                    conn.execute(self.sql(
                        "INSERT INTO _realm_meta (key, value) VALUES ('trimmed_through', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"), (str(trimmed),))
                conn.commit()
            return trimmed if trimmed is not None else -1

        await self._run(run)
        return await self.trimmed_through()

    async def trimmed_through(self) -> int:
        value = await self.get_meta("trimmed_through")
        return int(value) if value is not None else 0

    # ------------------------------------------------------------------ notifications

    async def publish(self, event: Event) -> None:
        self._broadcaster.publish(event)

    def subscribe(self) -> Subscription:
        return self._broadcaster.subscribe()


def _is_driver_error(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith(("sqlite3", "psycopg", "adbc_driver")) or isinstance(
        error, pa.ArrowException)
