"""``Realm``: an open cache kept in sync with the server, and the DataFrames it serves.

    user = await app.log_in(Credentials.email_password(email, password))
    realm = await Realm.open(user)
    items = await realm.subscribe("Item", "status == 'open' AND priority >= 3")
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pandas as pd

from ..cache import Cache, default_cache_path, to_pandas
from ..cache import apply as cache_apply
from ..cache.frames import key_ordered_frame
from ..cache.store import META, cache_error
from ..errors import CacheError, QueryError, RealmJupyterError, ServerUnavailableError
from ..query import parse
from ..schema import Schema
from .session import SyncSession
from .subscriptions import (
    MutableSubscriptionSet,
    Subscription,
    SubscriptionSet,
    SubscriptionStore,
    canonical_query,
)
from .user import User
from .writes import ClientResetMode, WriteQueue

if TYPE_CHECKING:
    from .snapshot import Identity
    from .snapshot_realm import SnapshotRealm

__all__ = ["Realm"]

logger = logging.getLogger(__name__)
WaitMode = Literal["first_time", "always", "never"]
InitialSubscriptions = Callable[[MutableSubscriptionSet], Any]
ErrorHandler = Callable[["Realm", RealmJupyterError], Any]


class Realm:
    """A synced cache. Open it with :meth:`Realm.open`; close it with :meth:`close`."""

    def __init__(self, user: User, cache: Cache, schema: Schema, queryable: dict[str, list[str]],
                 *, on_error: ErrorHandler | None = None,
                 client_reset: ClientResetMode = "recover_or_discard",
                 client_reset_callbacks: dict[str, Callable[..., Any]] | None = None) -> None:
        self.user = user
        self.app = user.app
        self.transport = user.app.transport
        self.cache = cache
        self.schema = schema
        self.queryable = queryable
        self.on_error = on_error
        self.client_reset_mode = client_reset
        self.client_reset_callbacks = client_reset_callbacks or {}
        self.subscription_store = SubscriptionStore(cache)
        self.writes = WriteQueue(self)
        self.session = SyncSession(self)
        self._registering = asyncio.Lock()
        self._handler_tasks: set[asyncio.Future[Any]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"Realm({self.cache.path.name}, user={self.user.id!r}, {self.session!r})"

    # ------------------------------------------------------------------ opening

    @classmethod
    async def open(cls, user: User, *, cache: str | Path | None = None,
                   initial_subscriptions: InitialSubscriptions | None = None,
                   rerun_on_open: bool = False, on_error: ErrorHandler | None = None,
                   client_reset: ClientResetMode = "recover_or_discard",
                   client_reset_callbacks: dict[str, Callable[..., Any]] | None = None,
                   timeout: float | None = None) -> Realm:
        """Open (or create) the cache for ``user`` and start syncing.

        With ``initial_subscriptions``, ``fn(mutable_set)`` runs when the cache is new
        (or on the first open in this process with ``rerun_on_open``) and ``open``
        returns once the latest set is complete.

        Raises:
            CacheLockedError: another process (or another realm here) holds the cache.
            CacheError: the cache file is damaged, or cannot be written (a read-only
                directory, a full disk): the message names the file and what to do.
            ServerUnavailableError: the server cannot be reached and nothing is cached.
            SubscriptionError: the server rejected the initial subscriptions.
            SyncTimeoutError: they did not complete within ``timeout`` seconds.
            In both cases the realm is closed again (its cache keeps the new set).
        """
        path = Path(cache) if cache is not None else default_cache_path(
            user.app.base_url, user.app.app_id, user.id)
        store = Cache(path)
        try:
            schema, queryable = await _fetch_schema(user, store)
            store.ensure_schema(schema)
            realm = cls(user, store, schema, queryable, on_error=on_error,
                        client_reset=client_reset, client_reset_callbacks=client_reset_callbacks)
        except duckdb.Error as error:  # a read outside Cache's own methods met a damaged file
            store.close()
            raise cache_error(path, error, "cannot open the cache") from error
        except BaseException:
            store.close()
            raise
        first_in_process = store.get_meta("opened_by_pid") != os.getpid()
        with store.transaction():
            store.set_meta("opened_by_pid", os.getpid())
            store.set_meta("user_id", user.id)
        realm.session.start()
        if initial_subscriptions is not None and (
                realm.subscription_store.latest.version == 0 or (rerun_on_open and first_in_process)):
            try:
                async with realm.subscriptions.update() as mutable:
                    result = initial_subscriptions(mutable)
                    if inspect.isawaitable(result):
                        await result
                await realm.subscriptions.wait_for_synchronization(timeout)
            except BaseException:
                await realm.close()  # the caller gets no realm: nothing may keep running
                raise
        return realm

    @classmethod
    def open_snapshot(cls, path: str | Path) -> SnapshotRealm:
        """Open a snapshot written by :meth:`save_snapshot`, with no server: read-only.

        Raises:
            SnapshotError: no manifest there, or a file is missing or was altered (named).
        """
        from .snapshot_realm import SnapshotRealm

        return SnapshotRealm(path)

    def save_snapshot(self, path: str | Path) -> dict[str, Any]:
        """Write a checkpoint-pinned snapshot of the cache to the directory ``path``.

        One Parquet file per object type plus ``manifest.json`` (app, server, user id,
        server version, subscriptions, schema, hashes — no secrets); returns the manifest.

        Raises:
            SnapshotError: ``path`` holds something else, or writing failed.
        """
        from . import snapshot

        return snapshot.save(self.cache, self._identity(), path)

    def _identity(self) -> Identity:
        from .snapshot import Identity

        return Identity(self.app.app_id, self.app.base_url, self.user.id)

    async def close(self) -> None:
        """Stop syncing and close the cache (the file stays, ready for the next open)."""
        if self._closed:
            return
        self._closed = True
        await self.session.close()
        self.cache.close()

    async def __aenter__(self) -> Realm:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ server plumbing

    @property
    def client_id(self) -> str | None:
        value = self.cache.get_meta("client_id")
        return None if value is None else str(value)

    @property
    def client_label(self) -> str:
        return self.client_id or self.cache.path.stem

    async def ensure_client_id(self) -> str:
        """The client id, registering this cache with the server the first time."""
        async with self._registering:
            client_id = self.client_id
            if client_id is None:
                answer = await self.authed("POST", "sync/clients", {})
                client_id = str(answer["client_id"])
                with self.cache.transaction():
                    self.cache.set_meta("client_id", client_id)
            return client_id

    async def authed(self, method: str, path: str, body: Any = None) -> Any:
        return await self.transport.authed(method, path, self.user.access_token, json=body)

    def report_error(self, error: RealmJupyterError) -> None:
        """Hand a sync error to the error handler (or log it); the session's status keeps it."""
        self.session.record_error(error)
        if self.on_error is None:
            logger.warning("sync error: %s", error)
            return
        try:
            result = self.on_error(self, error)
            if inspect.isawaitable(result):
                self.run_handler(result)
        except Exception:
            logger.exception("the sync error handler failed")

    def run_handler(self, awaitable: Any) -> None:
        """Run a user callback's coroutine as its own task, so that cancelling the session's
        tasks (a pause from inside the stream) cannot cut it short."""
        task = asyncio.ensure_future(awaitable)
        self._handler_tasks.add(task)
        task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Future[Any]) -> None:
        self._handler_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a sync callback failed", exc_info=task.exception())

    def clock_iso(self, loop_time: float) -> str:
        wall = time.time() - (asyncio.get_running_loop().time() - loop_time)
        return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat(timespec="milliseconds")

    def apply_download(self, server_version: int, upserts: dict[str, Any],
                       removes: dict[str, list[Any]], uploaded: int | None = None) -> None:
        self.writes.apply_download(server_version, upserts, removes, uploaded)

    def after_bootstrap(self) -> None:
        self.writes.after_bootstrap()

    async def client_reset(self, code: int, message: str, recovery_disabled: bool) -> None:
        from .reset import client_reset

        await client_reset(self, code, message, recovery_disabled)

    # ------------------------------------------------------------------ subscriptions

    @property
    def subscriptions(self) -> SubscriptionSet:
        """The latest subscription set (read-only; change it with ``update()``)."""
        latest = self.subscription_store.latest.version
        return SubscriptionSet(self.subscription_store, latest, self.schema, self._commit)

    def _commit(self, subscriptions: list[Subscription]) -> int:
        version = self.subscription_store.commit(subscriptions, self.writes.last_client_version())
        self.session.wake_queries()
        return version

    async def subscribe(self, object_type: str, query: str = "TRUEPREDICATE", *args: Any,
                        name: str | None = None, wait: WaitMode = "first_time",
                        timeout: float | None = None, update: bool = True) -> pd.DataFrame:
        """Subscribe to ``query`` on ``object_type`` and return the matching cached objects.

        ``wait``: ``first_time`` waits only when the subscription is new or changed,
        ``always`` waits every time, ``never`` returns at once. A named subscription
        with another query is replaced (``update=False`` refuses instead).

        Raises:
            QueryError: the query does not parse or does not fit the schema.
            SubscriptionError: the server rejected the query.
            SyncTimeoutError: not complete within ``timeout`` (sync continues).
        """
        text = canonical_query(query, args)
        current = self.subscriptions
        existing = current.find_by_name(name) if name else current.find(object_type, text)
        is_new = existing is None or existing.object_type != object_type or existing.query != text
        if is_new:
            async with current.update() as mutable:
                mutable.add(object_type, text, name=name, update=update)
        if wait == "always" or (wait == "first_time" and is_new):
            await self.subscriptions.wait_for_synchronization(timeout)
        return self.query(object_type, text)

    def unsubscribe(self, name: str | None = None, *, object_type: str | None = None,
                    query: str | None = None, all: bool = False) -> int:
        """Remove subscriptions by name, by type and query, by type, or all; returns how many.

        Does not wait: objects no other subscription covers leave the cache once the
        server has processed the new set.
        """
        mutable = MutableSubscriptionSet(list(self.subscriptions), self.schema)
        if all:
            removed = mutable.clear()
        elif name is not None:
            removed = int(mutable.remove_by_name(name))
        elif object_type is not None and query is not None:
            removed = mutable.remove_by_query(object_type, query)
        elif object_type is not None:
            removed = mutable.remove_by_type(object_type)
        else:
            raise ValueError("unsubscribe needs a name, an object type, or all=True")
        if removed:
            self._commit(mutable.subscriptions)
        return removed

    # ------------------------------------------------------------------ reading

    def df(self, object_type: str, *, index: bool = False) -> pd.DataFrame:
        """Every cached object of ``object_type`` (primary-key order)."""
        object_schema = self.schema[object_type]
        pk = object_schema.primary_key
        return key_ordered_frame(self.cache, object_type, pk, index=index)

    def query(self, object_type: str, query: str = "TRUEPREDICATE", *args: Any,
              index: bool = False) -> pd.DataFrame:
        """The full local query language over the cache (SORT, DISTINCT, LIMIT, @count…).

        Raises:
            QueryError: the query does not parse or does not fit the schema.
        """
        object_schema = self.schema[object_type]
        parsed = parse(query)
        compiled = parsed.compile(object_schema, None, "duckdb", *args)
        key = object_schema.primary_key
        try:
            if not parsed.modifiers:  # primary-key order, without a sorted copy of the rows
                return key_ordered_frame(self.cache, object_type, key, compiled.where,
                                         list(compiled.where_params), index=index)
            table = self.cache.arrow(compiled.sql, list(compiled.params))
        except CacheError as error:
            raise QueryError(f"the query failed in the cache: {error}", query=query) from error
        return to_pandas(table, key if index else None)

    def count(self, object_type: str, query: str = "TRUEPREDICATE", *args: Any) -> int:
        """How many rows ``query(object_type, query, *args)`` returns (DISTINCT and LIMIT
        included).

        Raises:
            QueryError: the query does not parse or does not fit the schema.
        """
        object_schema = self.schema[object_type]
        compiled = parse(query).compile(object_schema, None, "duckdb", *args)
        try:
            rows = self.cache.execute(f"SELECT count(*) FROM ({compiled.sql})",
                                      list(compiled.params)).fetchall()
        except CacheError as error:
            raise QueryError(f"the query failed in the cache: {error}", query=query) from error
        return int(rows[0][0])

    def sql(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """DuckDB SQL over the cache (one table per object type).

        Raises:
            CacheError: DuckDB refused the statement (its message).
        """
        return to_pandas(self.cache.arrow(sql, params))

    def changes(self, since: dt.datetime | int | None = None) -> pd.DataFrame:
        """Operations sync applied to the cache: time, type, key, operation, rows, origin.

        ``since`` is a time or a server version.
        """
        condition, params = "TRUE", list[Any]()
        if isinstance(since, int):
            condition, params = "server_version > ?", [since]
        elif isinstance(since, dt.datetime):
            condition, params = "applied_at > ?", [since]
        return to_pandas(self.cache.arrow(
            f"SELECT applied_at, server_version, object_type, pk, operation, rows, origin "
            f"FROM {META}.changes WHERE {condition} ORDER BY applied_at", params))

    def rejected_writes(self) -> pd.DataFrame:
        """Writes the server reverted (compensating writes): type, key, reason."""
        return to_pandas(self.cache.arrow(
            f"SELECT reported_at, object_type, primary_key, reason, server_version, client_version "
            f"FROM {META}.rejected_writes ORDER BY reported_at"))

    def row_counts(self) -> dict[str, int]:
        out = {}
        for object_schema in self.schema:
            rows = self.cache.execute(f"SELECT count(*) FROM "
                                      f"{self.cache.table(object_schema.name)}").fetchall()
            out[object_schema.name] = int(rows[0][0])
        return out

    # ------------------------------------------------------------------ writing

    def write(self) -> Any:
        """A write transaction: ``with realm.write() as tx: tx.create(...)``."""
        return self.writes.transaction()

    async def staged(self) -> dict[str, Any] | None:
        return cache_apply.staged_bootstrap(self.cache)


async def _fetch_schema(user: User, cache: Cache) -> tuple[Schema, dict[str, list[str]]]:
    """The app's schema from the server, or the cached one when the server is away."""
    try:
        answer = await user.app.transport.authed("GET", "sync/schema", user.access_token)
    except ServerUnavailableError:
        cached = cache.get_meta("schema")
        if cached is None:
            raise
        logger.info("server unreachable: opening the cache offline")
        return Schema.from_json(cached), dict(cache.get_meta("queryable", {}))
    schema = Schema.from_json(answer["schema"])
    queryable = {k: list(v) for k, v in answer.get("queryable_fields", {}).items()}
    with cache.transaction():
        cache.set_meta("queryable", queryable)
        cache.set_meta("indexed_queryable", answer.get("indexed_queryable_fields", []))
    return schema, queryable

