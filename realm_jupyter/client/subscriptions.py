"""Subscription sets: versioned, persisted in the cache, with Realm's states.

``realm.subscriptions`` is the *latest* set, read-only and iterable. Changes go
through ``async with realm.subscriptions.update() as m:`` which commits a new
version (+1) in state ``pending``; the session sends it and walks it through
``bootstrapping → awaiting_mark → complete`` (or ``error``); when a version
becomes active every older one is ``superseded``. The transition table is
``docs/spec/subscriptions.md``; :func:`next_state` is its executable form.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import duckdb
from bson import ObjectId

from ..cache.store import Cache
from ..cache.subscriptions import (
    StoredSet,
    StoredSubscription,
    delete_versions,
    load_sets,
    save_set,
    set_state,
)
from ..errors import CacheError, RealmJupyterError, SubscriptionError, SyncTimeoutError
from ..query import Query, parse

if TYPE_CHECKING:
    from ..schema import Schema

__all__ = ["MutableSubscriptionSet", "Subscription", "SubscriptionEvent", "SubscriptionSet",
           "SubscriptionSetState", "SubscriptionStore", "next_state"]


class SubscriptionSetState(enum.StrEnum):
    UNCOMMITTED = "uncommitted"
    PENDING = "pending"
    BOOTSTRAPPING = "bootstrapping"
    AWAITING_MARK = "awaiting_mark"
    COMPLETE = "complete"
    ERROR = "error"
    SUPERSEDED = "superseded"


class SubscriptionEvent(enum.StrEnum):
    """What can happen to a committed set (``docs/spec/subscriptions.md``)."""

    REJECTED = "rejected"                # the server refused the set (BadQuery)
    BOOTSTRAP_BEGIN = "bootstrap_begin"  # the first bootstrap frame arrived
    BOOTSTRAP_END = "bootstrap_end"      # the staged bootstrap was applied
    MARK = "mark"                        # the server confirmed the client holds everything
    SUPERSEDE = "supersede"              # a newer version became active (or a reset discarded it)
    CONNECTED_EMPTY = "connected_empty"  # version 0 meets a server (nothing to download)


S, E = SubscriptionSetState, SubscriptionEvent
#: (state, event) → next state, for every committed state and every event.
TRANSITIONS: dict[tuple[SubscriptionSetState, SubscriptionEvent], SubscriptionSetState] = {
    (S.PENDING, E.REJECTED): S.ERROR,
    (S.PENDING, E.BOOTSTRAP_BEGIN): S.BOOTSTRAPPING,
    (S.PENDING, E.BOOTSTRAP_END): S.AWAITING_MARK,
    (S.PENDING, E.MARK): S.PENDING,
    (S.PENDING, E.SUPERSEDE): S.SUPERSEDED,
    (S.PENDING, E.CONNECTED_EMPTY): S.COMPLETE,
    (S.BOOTSTRAPPING, E.REJECTED): S.ERROR,
    (S.BOOTSTRAPPING, E.BOOTSTRAP_BEGIN): S.BOOTSTRAPPING,
    (S.BOOTSTRAPPING, E.BOOTSTRAP_END): S.AWAITING_MARK,
    (S.BOOTSTRAPPING, E.MARK): S.BOOTSTRAPPING,
    (S.BOOTSTRAPPING, E.SUPERSEDE): S.SUPERSEDED,
    (S.BOOTSTRAPPING, E.CONNECTED_EMPTY): S.BOOTSTRAPPING,
    (S.AWAITING_MARK, E.REJECTED): S.AWAITING_MARK,
    (S.AWAITING_MARK, E.BOOTSTRAP_BEGIN): S.AWAITING_MARK,
    (S.AWAITING_MARK, E.BOOTSTRAP_END): S.AWAITING_MARK,
    (S.AWAITING_MARK, E.MARK): S.COMPLETE,
    (S.AWAITING_MARK, E.SUPERSEDE): S.SUPERSEDED,
    (S.AWAITING_MARK, E.CONNECTED_EMPTY): S.AWAITING_MARK,
    (S.COMPLETE, E.REJECTED): S.COMPLETE,
    (S.COMPLETE, E.BOOTSTRAP_BEGIN): S.COMPLETE,
    (S.COMPLETE, E.BOOTSTRAP_END): S.COMPLETE,
    (S.COMPLETE, E.MARK): S.COMPLETE,
    (S.COMPLETE, E.SUPERSEDE): S.SUPERSEDED,
    (S.COMPLETE, E.CONNECTED_EMPTY): S.COMPLETE,
    (S.ERROR, E.REJECTED): S.ERROR,
    (S.ERROR, E.BOOTSTRAP_BEGIN): S.ERROR,
    (S.ERROR, E.BOOTSTRAP_END): S.ERROR,
    (S.ERROR, E.MARK): S.ERROR,
    (S.ERROR, E.SUPERSEDE): S.SUPERSEDED,
    (S.ERROR, E.CONNECTED_EMPTY): S.ERROR,
    (S.SUPERSEDED, E.REJECTED): S.SUPERSEDED,
    (S.SUPERSEDED, E.BOOTSTRAP_BEGIN): S.SUPERSEDED,
    (S.SUPERSEDED, E.BOOTSTRAP_END): S.SUPERSEDED,
    (S.SUPERSEDED, E.MARK): S.SUPERSEDED,
    (S.SUPERSEDED, E.SUPERSEDE): S.SUPERSEDED,
    (S.SUPERSEDED, E.CONNECTED_EMPTY): S.SUPERSEDED,
}
del S, E

#: States a waiter stops at.
SETTLED = frozenset({SubscriptionSetState.COMPLETE, SubscriptionSetState.ERROR,
                     SubscriptionSetState.SUPERSEDED})


def next_state(state: SubscriptionSetState, event: SubscriptionEvent) -> SubscriptionSetState:
    return TRANSITIONS[(state, event)]


@dataclass(frozen=True)
class Subscription:
    """One query on one object type, optionally named."""

    id: str
    name: str | None
    object_type: str
    query: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def _from_stored(cls, stored: StoredSubscription) -> Subscription:
        return cls(stored.id, stored.name, stored.object_type, stored.query, stored.created_at,
                   stored.updated_at)

    def _stored(self) -> StoredSubscription:
        return StoredSubscription(self.id, self.name, self.object_type, self.query,
                                  self.created_at, self.updated_at)


def canonical_query(query: str | Query, args: Sequence[Any]) -> str:
    """The text a subscription stores and sends: arguments bound, canonical spacing.

    Raises:
        QuerySyntaxError: the query does not parse.
        QueryError: an argument is missing or has no query form.
    """
    parsed = parse(query) if isinstance(query, str) else query
    return parsed.bind(*args).render()


class SubscriptionStore:
    """Every subscription set of one cache, their states, and waiters on them."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self._sets: dict[int, StoredSet] = load_sets(cache)
        self._superseded: set[int] = set()
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        #: Why sync stopped (a full disk, a damaged cache): waiters raise it, not wait on.
        self._failure: RealmJupyterError | None = None
        if not self._sets:
            initial = StoredSet(0, SubscriptionSetState.PENDING, None, 0)
            with cache.transaction() as conn:
                save_set(conn, initial)
            self._sets[0] = initial

    # ------------------------------------------------------------------ reading

    @property
    def latest(self) -> StoredSet:
        return self._sets[max(self._sets)]

    @property
    def active(self) -> StoredSet:
        """The highest version that is complete or awaiting its mark (else version 0)."""
        usable = [v for v, s in self._sets.items()
                  if s.state in (SubscriptionSetState.COMPLETE, SubscriptionSetState.AWAITING_MARK)]
        return self._sets[max(usable)] if usable else self._sets.get(0, StoredSet(0, "complete",
                                                                                  None, 0))

    def state(self, version: int) -> SubscriptionSetState:
        if version in self._superseded or (version not in self._sets and version < self.latest.version):
            return SubscriptionSetState.SUPERSEDED
        return SubscriptionSetState(self._sets[version].state)

    def get(self, version: int) -> StoredSet | None:
        return self._sets.get(version)

    def pending_versions(self, after: int) -> list[StoredSet]:
        """Committed sets newer than ``after`` still waiting to be sent, oldest first."""
        return [s for v, s in sorted(self._sets.items())
                if v > after and s.state in (SubscriptionSetState.PENDING,
                                             SubscriptionSetState.BOOTSTRAPPING)]

    def queries(self, stored: StoredSet) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for sub in stored.subscriptions:
            out.setdefault(sub.object_type, set()).add(sub.query)
        return {t: sorted(qs) for t, qs in sorted(out.items())}

    # ------------------------------------------------------------------ changing

    def commit(self, subscriptions: Sequence[Subscription], snapshot_client_version: int) -> int:
        version = self.latest.version + 1
        stored = StoredSet(version, SubscriptionSetState.PENDING, None, snapshot_client_version,
                           tuple(s._stored() for s in subscriptions))
        with self.cache.transaction() as conn:
            save_set(conn, stored)
        self._sets[version] = stored
        self._notify()
        return version

    def apply(self, version: int, event: SubscriptionEvent, error: str | None = None,
              conn: Any = None) -> SubscriptionSetState:
        """Run ``event`` on ``version`` (inside ``conn``'s transaction when given)."""
        if version not in self._sets:
            return self.state(version)
        current = SubscriptionSetState(self._sets[version].state)
        new = next_state(current, event)
        if new is SubscriptionSetState.SUPERSEDED:
            self._supersede([version], conn)
            return new
        if new is not current or error is not None:
            keep_error = error if new is SubscriptionSetState.ERROR else None

            def write(c: Any) -> None:
                set_state(c, version, new.value, keep_error)

            self._write(write, conn)
            self._sets[version] = replace(self._sets[version], state=new.value, error=keep_error)
        if new is SubscriptionSetState.AWAITING_MARK:
            self._supersede([v for v in self._sets if v < version], conn)
        self._notify()
        return new

    def _supersede(self, versions: list[int], conn: Any) -> None:
        versions = [v for v in versions if v in self._sets]
        if not versions:
            return
        self._write(lambda c: delete_versions(c, versions), conn)
        for version in versions:
            self._superseded.add(version)
            del self._sets[version]
        self._notify()

    def _write(self, fn: Callable[[Any], Any], conn: Any) -> None:
        if conn is not None:
            fn(conn)
        else:
            with self.cache.transaction() as c:
                fn(c)

    # ------------------------------------------------------------------ waiting

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        for callback in list(self._listeners):
            callback()

    def fail(self, error: RealmJupyterError) -> None:
        """Sync stopped for ``error``: every waiter (now or later) raises it until
        :meth:`recover`, since no set will move on by itself.

        A state change made inside a cache transaction that then failed to commit
        (a full disk at the end of a bootstrap) is in memory only: the sets are read
        back from the cache, so that what the session tells the server when it
        resumes is what the cache really holds.
        """
        self._failure = error
        with contextlib.suppress(CacheError, duckdb.Error):  # a damaged file: keep what we have
            stored = load_sets(self.cache)
            if stored:
                self._sets = stored
                self._superseded -= set(stored)
        self._notify()

    def recover(self) -> None:
        """Sync runs again (the session was resumed): waiters wait again."""
        self._failure = None

    async def wait(self, version: int, timeout: float | None = None) -> SubscriptionSetState:
        """Wait until ``version`` is complete (or superseded).

        Raises:
            SubscriptionError: the server rejected the set (its message).
            CacheError, SyncError: sync stopped (a full disk, a damaged cache…): the
                error it stopped for, at once rather than after ``timeout``.
            SyncTimeoutError: ``timeout`` seconds passed first; sync carries on.
        """
        async def settle() -> SubscriptionSetState:
            while True:
                state = self.state(version)
                if state is SubscriptionSetState.ERROR:
                    stored = self._sets[version]
                    raise SubscriptionError(stored.error or "the server rejected the query",
                                            version=version)
                if state in SETTLED:
                    return state
                if self._failure is not None:
                    raise self._failure
                await self._changed.wait()

        try:
            return await asyncio.wait_for(settle(), timeout)
        except TimeoutError:
            raise SyncTimeoutError(
                f"subscription set version {version} is still {self.state(version).value} after "
                f"{timeout:g} s; sync continues in the background",
                hint="re-run later, or pass a longer --timeout") from None


class SubscriptionSet:
    """A read-only view of one committed version (``realm.subscriptions`` is the latest)."""

    def __init__(self, store: SubscriptionStore, version: int, schema: Schema | None = None,
                 committer: Any = None) -> None:
        self._store = store
        self._version = version
        self._schema = schema
        self._committer = committer

    def __repr__(self) -> str:
        return (f"SubscriptionSet(version={self.version}, state={self.state.value!r}, "
                f"subscriptions={len(self)})")

    @property
    def version(self) -> int:
        return self._version

    @property
    def state(self) -> SubscriptionSetState:
        return self._store.state(self._version)

    @property
    def error(self) -> str | None:
        stored = self._store.get(self._version)
        return None if stored is None else stored.error

    def _subscriptions(self) -> list[Subscription]:
        stored = self._store.get(self._version)
        return [] if stored is None else [Subscription._from_stored(s) for s in stored.subscriptions]

    def __iter__(self) -> Iterator[Subscription]:
        return iter(self._subscriptions())

    def __len__(self) -> int:
        return len(self._subscriptions())

    def find(self, object_type: str, query: str | Query, *args: Any) -> Subscription | None:
        """The subscription (named or not) with this type and query."""
        text = canonical_query(query, args)
        return next((s for s in self if s.object_type == object_type and s.query == text), None)

    def find_by_name(self, name: str) -> Subscription | None:
        return next((s for s in self if s.name == name), None)

    async def wait_for_synchronization(self, timeout: float | None = None) -> None:
        """Wait until this version is complete.

        Raises:
            SubscriptionError: the server rejected it.
            CacheError: sync stopped because the cache could not be written (a full
                disk) or read (a damaged file); what was committed before stays.
            SyncTimeoutError: it did not complete within ``timeout`` seconds.
        """
        await self._store.wait(self._version, timeout)

    @asynccontextmanager
    async def update(self) -> AsyncIterator[MutableSubscriptionSet]:
        """Change subscriptions; leaving the block commits a new version.

        Raises:
            QueryError: a query does not parse or names an unknown type/property
                (nothing is committed).
        """
        if self._committer is None:
            raise SubscriptionError("this subscription set cannot be updated")
        mutable = MutableSubscriptionSet(self._subscriptions(), self._schema)
        yield mutable
        self._committer(mutable.subscriptions)


class MutableSubscriptionSet:
    """The subscriptions being edited inside ``update()``."""

    def __init__(self, subscriptions: list[Subscription], schema: Schema | None) -> None:
        self.subscriptions = list(subscriptions)
        self._schema = schema

    def __iter__(self) -> Iterator[Subscription]:
        return iter(self.subscriptions)

    def __len__(self) -> int:
        return len(self.subscriptions)

    def _check(self, object_type: str, text: str) -> None:
        if self._schema is None:
            return
        object_schema = self._schema[object_type]  # SchemaError (a ValueError) for unknown types
        parse(text).compile(object_schema, None, "duckdb")  # QueryError when it does not fit

    def add(self, object_type: str, query: str | Query = "TRUEPREDICATE", *args: Any,
            name: str | None = None, update: bool = False) -> Subscription:
        """Add a subscription, or return the existing identical one.

        A named subscription with another query is replaced when ``update`` is true and
        refused otherwise; identical unnamed queries are one subscription.

        Raises:
            QueryError: the query does not parse or does not fit the schema.
            SubscriptionError: ``name`` exists with another query and ``update`` is false.
        """
        text = canonical_query(query, args)
        self._check(object_type, text)
        now = dt.datetime.now(dt.UTC)
        if name is not None:
            for index, existing in enumerate(self.subscriptions):
                if existing.name != name:
                    continue
                if existing.object_type == object_type and existing.query == text:
                    return existing
                if not update:
                    raise SubscriptionError(f"Duplicate subscription with name: {name} "
                                            "(pass update=True to replace its query)")
                replaced = replace(existing, object_type=object_type, query=text, updated_at=now)
                self.subscriptions[index] = replaced
                return replaced
        else:
            for index, existing in enumerate(self.subscriptions):
                if existing.name is None and existing.object_type == object_type \
                        and existing.query == text:
                    refreshed = replace(existing, updated_at=now)
                    self.subscriptions[index] = refreshed
                    return refreshed
        created = Subscription(str(ObjectId()), name, object_type, text, now, now)
        self.subscriptions.append(created)
        return created

    def remove(self, subscription: Subscription) -> bool:
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions if s.id != subscription.id]
        return len(self.subscriptions) < before

    def remove_by_name(self, name: str) -> bool:
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions if s.name != name]
        return len(self.subscriptions) < before

    def remove_by_id(self, subscription_id: str) -> bool:
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions if s.id != subscription_id]
        return len(self.subscriptions) < before

    def remove_by_query(self, object_type: str, query: str | Query, *args: Any) -> int:
        text = canonical_query(query, args)
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions
                              if not (s.object_type == object_type and s.query == text)]
        return before - len(self.subscriptions)

    def remove_by_type(self, object_type: str) -> int:
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions if s.object_type != object_type]
        return before - len(self.subscriptions)

    def clear(self, unnamed_only: bool = False) -> int:
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions if unnamed_only and s.name is not None]
        return before - len(self.subscriptions)
