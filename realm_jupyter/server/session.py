"""One client's download stream: bootstraps, steady-state changes, marks (docs/protocol.md §5).

A session holds nothing that cannot be rebuilt: the client sends its cursor and
active set when it connects, and the store holds the set it wants next. So any
server process can serve any reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa

from ..errors import QueryError, StorageError
from ..query.ast import And, Constant, Not, Predicate
from ..query.compiler import compile_predicate
from ..query.dialects import PostgreSQLDialect, SQLiteDialect
from ..wire import PROTOCOL_VERSION, encode_frame, encode_ipc
from .feed import HistoryFeed
from .revocation import StreamGuard
from .rules import SessionRules
from .storage import Event, Snapshot, Store
from .storage.events import Subscription
from .views import FeedEntry, View, collect_changes

__all__ = ["BootstrapResume", "StreamSession"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

PING_SECONDS = 15.0
#: Most rows in one bootstrap ``batch`` frame: DuckDB's row-group size (the client stages
#: whole row groups at a time, however many frames they came in; see client/downloads.py).
BATCH_ROWS = 122_880
#: About the most Arrow bytes in one ``batch`` frame (~22,000 demo Orders): a connection
#: cut mid-frame costs at most this much again, and a stream holds about this much.
BATCH_BYTES = 4 << 20
#: About the bytes of each record batch inside a frame's Arrow payload: a client cut off
#: mid-frame keeps the record batches before the cut (docs/protocol.md §5.2).
CHUNK_BYTES = 256 << 10


@dataclass(frozen=True)
class BootstrapResume:
    version: int
    kind: str
    first_snapshot: int
    step: int
    after: Any

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> BootstrapResume | None:
        if not data:
            return None
        return cls(int(data["version"]), str(data["kind"]), int(data["first_snapshot"]),
                   int(data["step"]), data.get("after"))


class _HistoryGone(Exception):
    """The client's cursor is behind history that no longer exists: it must reset."""


@dataclass(frozen=True)
class _Step:
    action: str  # "add" | "remove"
    object_type: str
    predicate: Predicate


class StreamSession:
    """Produces the frames of one stream. ``frames()`` runs until the client goes away."""

    def __init__(self, *, store: Store, feed: HistoryFeed, rules: SessionRules, client_id: str,
                 cursor: int, active: View, resume: BootstrapResume | None,
                 view_hash: str | None, shutting_down: asyncio.Event,
                 refused: str | None = None, readers: set[Any] | None = None,
                 guard: StreamGuard | None = None) -> None:
        self.store = store
        self.guard = guard  # ends the stream when its credentials end (server/revocation.py)
        self._guard_stop = False
        self.readers = readers if readers is not None else set()
        self.refused = refused
        self.feed = feed
        self.rules = rules
        self.schema = rules.app.schema
        self.client_id = client_id
        self.cursor = cursor
        self.view = active
        self.resume = resume
        self.view_hash = view_hash
        self.shutting_down = shutting_down
        dialect = store.dialect
        self.dialect = SQLiteDialect() if dialect == "sqlite" else PostgreSQLDialect("numeric")

    async def frames(self) -> AsyncGenerator[bytes, None]:
        # Every generator below is closed explicitly (``aclosing``) when the client leaves:
        # one left suspended would hold its snapshot and buffers until garbage collection.
        with self.store.subscribe() as events:
            guard = self.guard
            if guard is not None:
                events.watch(guard.on_event)
            first = True
            try:
                async with contextlib.aclosing(self._frames(events)) as frames:
                    async for frame in frames:
                        # The first frame answers the request the token was checked for; any
                        # later one waits until the guard says the credentials still hold.
                        if not first and guard is not None and await guard.check() is not None:
                            self._guard_stop = True
                            break
                        first = False
                        yield frame
            except _HistoryGone:
                yield self._reset_frame(222, "the history this client needs is gone (trimmed, "
                                             "or compacted by a bulk load): it must reset")
                return
            except StorageError as error:
                logger.warning("stream of client %s: store error: %s", self.client_id, error)
                yield encode_frame({"t": "error", "code": 500, "action": "Transient",
                                    "error": "the server's store is unavailable"})
                return
            except Exception as error:  # a bug must not become a reconnect loop
                logger.exception("stream of client %s failed", self.client_id)
                yield encode_frame({"t": "error", "code": 201, "action": "Transient",
                                    "error": f"the server failed while serving this stream "
                                             f"({type(error).__name__}); see the server's log"})
                return
            if guard is not None and self._guard_stop:
                yield guard.frame()

    async def _frames(self, events: Subscription) -> AsyncGenerator[bytes, None]:
        if self.refused is not None:
            yield self._reset_frame(226, f"the client's active subscription set cannot be "
                                         f"served ({self.refused}): it must reset")
            return
        latest = await self.store.latest_version()
        trimmed = await self.store.trimmed_through()
        if self.view.version > 0 and self.cursor < trimmed:
            yield self._reset_frame(222, "the client has been offline longer than the server "
                                         "keeps history")
            return
        yield encode_frame({"t": "hello", "server_version": latest, "trimmed_through": trimmed,
                            "protocol": PROTOCOL_VERSION})
        if self.view.version == 0 and self.cursor < trimmed:
            self.cursor = trimmed  # nothing in view: nothing to replay; say so
            yield encode_frame({"t": "changes", "server_version": trimmed, "upserts": [],
                                "removes": {}})
        fingerprint = self.rules.fingerprint()
        permissions_changed = (self.view.version > 0 and self.view_hash is not None
                               and self.view_hash != fingerprint)
        check_client = True
        refused = 0  # the desired version this stream answered with ``query_error``
        waiter: asyncio.Task[Event] | None = None
        try:
            while not self.shutting_down.is_set():
                if self.guard is not None and await self.guard.check() is not None:
                    self._guard_stop = True
                    return
                if check_client:
                    check_client = False
                    client = await self.store.get_client(self.client_id)
                    if client is None:
                        yield self._reset_frame(208, "the client is unknown to this server")
                        return
                    target = self.view
                    pending = client.desired_version > max(self.view.version, refused)
                    if pending:
                        try:
                            target = await asyncio.to_thread(  # parsing: off the loop
                                functools.partial(View.build, strict=True), self.rules,
                                client.desired_version, client.desired_queries)
                        except QueryError as error:  # accepted under rules since changed
                            refused, pending = client.desired_version, False
                            yield encode_frame({"t": "query_error", "version": refused,
                                                "error": error.message})
                    if pending or permissions_changed:
                        full = self.view.version == 0 or permissions_changed
                        bootstrap = self._bootstrap(target, "full" if full else "diff")
                        async with contextlib.aclosing(bootstrap):
                            async for frame in bootstrap:
                                yield frame
                        permissions_changed = False
                        if self.view_hash != fingerprint:
                            await self.store.set_view_hash(self.client_id, fingerprint)
                            self.view_hash = fingerprint
                        latest = max(latest, await self.store.latest_version())
                        async for frame in self._catch_up(latest):
                            yield frame
                        yield encode_frame({"t": "mark", "version": self.view.version,
                                            "server_version": self.cursor})
                        check_client = True
                        continue
                if latest > self.cursor:
                    async for frame in self._catch_up(latest):
                        yield frame
                    continue
                if waiter is None:
                    waiter = asyncio.ensure_future(events.get())
                wait = PING_SECONDS if self.guard is None else self.guard.wait_seconds(PING_SECONDS)
                done, _ = await asyncio.wait({waiter}, timeout=wait)
                if self.guard is not None and self.guard.ended is not None:
                    continue  # the loop's first check ends the stream
                if not done:
                    yield encode_frame({"t": "ping", "server_version": self.cursor})
                    continue
                event, waiter = waiter.result(), None
                if event.kind == "history":
                    latest = max(latest, int(event.value))
                elif event.kind == "client" and event.value == self.client_id:
                    check_client = True
            yield encode_frame({"t": "error", "code": 200, "action": "Transient",
                                "error": "the server is shutting down"})
        finally:
            if waiter is not None:
                waiter.cancel()

    def _reset_frame(self, code: int, message: str) -> bytes:
        disabled = self.rules.app.sync.is_recovery_mode_disabled
        return encode_frame({"t": "error", "code": code, "error": message,
                             "action": "ClientResetNoRecovery" if disabled else "ClientReset"})

    # ------------------------------------------------------------------ steady state

    async def _catch_up(self, latest: int) -> AsyncIterator[bytes]:
        """Send history up to ``latest`` under the current view, a frame per page."""
        while self.cursor < latest:
            entries = await self.feed.read(self.cursor, latest)
            upto = entries[-1].entry.version if entries and len(entries) >= 5_000 else latest
            async for frame in self._changes(entries, upto):
                yield frame

    async def _changes(self, entries: list[FeedEntry], upto: int) -> AsyncIterator[bytes]:
        if len(entries) < upto - self.cursor:
            # Versions only skip history where it was trimmed or where a large bulk load
            # compacted it (storage/bulk.py). Skipping it would lose documents silently.
            trimmed = await self.store.trimmed_through()
            if trimmed > self.cursor and self.view.version > 0:
                raise _HistoryGone
        if self.guard is not None:
            self.guard.saw(entries)
        batch = await collect_changes(entries, self.view, self.rules, upto, self.client_id)
        header, payload = batch.frame(self.schema)
        self.cursor = upto
        yield encode_frame(header, payload)

    # ------------------------------------------------------------------ bootstraps

    async def _bootstrap(self, target: View, kind: str) -> AsyncGenerator[bytes, None]:
        reader = _Reader(await _open_snapshot(self.store))
        self.readers.add(reader)  # the service closes what is still open at shutdown
        try:
            async with contextlib.aclosing(self._bootstrap_from(reader, target, kind)) as frames:
                async for frame in frames:
                    yield frame
        finally:
            # Even when the client went away (the task is being cancelled, and anyio cancels
            # every await again), the snapshot closes — after the read in flight, never under it.
            closing = asyncio.get_running_loop().run_in_executor(None, reader.close)
            closing.add_done_callback(lambda _: self.readers.discard(reader))
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(closing)

    async def _bootstrap_from(self, snapshot: _Reader, target: View,
                              kind: str) -> AsyncGenerator[bytes, None]:
        resume = self.resume
        self.resume = None
        if resume is not None and (resume.version != target.version or resume.kind != kind):
            resume = None
        first = resume.first_snapshot if resume else snapshot.version
        if kind == "diff":
            while self.cursor < snapshot.version:  # the old view, caught up to the snapshot
                entries = [FeedEntry.decode(self.schema, e)
                           for e in await snapshot.call(snapshot.history, self.cursor, 5_000)]
                upto = entries[-1].entry.version if len(entries) == 5_000 else snapshot.version
                async for frame in self._changes(entries, upto):
                    yield frame
        steps = self._steps(target, kind)
        start = resume.step if resume else 0
        compiled = [compile_predicate(step.predicate, self.schema[step.object_type], self.dialect)
                    for step in steps]
        counts = []
        for index, (step, (where, params, _)) in enumerate(zip(steps, compiled, strict=True)):
            after = resume.after if resume is not None and index == resume.step else None
            counts.append(0 if index < start else await snapshot.call(
                snapshot.count, self.schema[step.object_type], where, params, after))
        totals = {"rows": sum(c for s, c in zip(steps, counts, strict=True) if s.action == "add"),
                  "removes": sum(c for s, c in zip(steps, counts, strict=True)
                                 if s.action == "remove"),
                  "types": {s.object_type: c for s, c in zip(steps, counts, strict=True)
                            if s.action == "add"}}
        yield encode_frame({"t": "bootstrap_begin", "version": target.version, "kind": kind,
                            "snapshot": snapshot.version, "first_snapshot": first,
                            "totals": totals})
        received = 0
        for index, (step, (where, params, functions)) in enumerate(zip(steps, compiled,
                                                                       strict=True)):
            if index < start:
                continue
            after = resume.after if resume is not None and index == resume.step else None
            object_schema = self.schema[step.object_type]
            if step.action == "add":
                hidden = self.rules[step.object_type].hidden_fields
                batches = snapshot.batches(object_schema, where, params, functions=functions,
                                           hidden=hidden, after=after, batch_rows=BATCH_ROWS,
                                           batch_bytes=BATCH_BYTES)
                while (table := await snapshot.next(batches)) is not None:
                    rows = table.num_rows
                    received += rows
                    last = table.column(object_schema.primary_key)[-1].as_py()
                    frame = encode_frame({"t": "batch", "version": target.version,
                                          "type": step.object_type, "rows": rows,
                                          "step": index, "after": last, "received": received},
                                         encode_ipc(table, CHUNK_BYTES))
                    del table  # only the encoded frame waits for the socket
                    yield frame
            else:
                pks = snapshot.pks(object_schema, where, params, functions=functions, after=after,
                                   batch_rows=BATCH_ROWS)
                async for chunk in snapshot.iterate(pks):
                    yield encode_frame({"t": "remove", "version": target.version,
                                        "type": step.object_type, "pks": chunk, "step": index,
                                        "after": chunk[-1]})
        yield encode_frame({"t": "bootstrap_end", "version": target.version,
                            "snapshot": snapshot.version, "replay_from": first})
        self.view = target
        self.cursor = first

    def _steps(self, target: View, kind: str) -> list[_Step]:
        steps = []
        for object_type in sorted(self.rules.access):
            new = target.predicate(object_type)
            old = self.view.predicate(object_type)
            if kind == "full":
                steps.append(_Step("add", object_type, new))
                continue
            steps.append(_Step("add", object_type, _and_not(new, old)))
            steps.append(_Step("remove", object_type, _and_not(old, new)))
        return [s for s in steps if not (isinstance(s.predicate, Constant) and not s.predicate.value)]


def _and_not(include: Predicate, exclude: Predicate) -> Predicate:
    if isinstance(include, Constant) and not include.value:
        return include
    if isinstance(exclude, Constant):
        return Constant(False) if exclude.value else include
    return And((include, Not(exclude)))


async def _open_snapshot(store: Store) -> Snapshot:
    """Open a snapshot on a worker thread without leaking it when the caller is cancelled.

    A client that goes away while its snapshot is being opened cancels this await, but
    the worker thread runs on and opens a database connection anyway: that connection
    is closed as soon as it exists instead of waiting for the garbage collector.
    """
    loop = asyncio.get_running_loop()
    opening = loop.run_in_executor(None, store.snapshot)
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_unclaimed)
        raise


def _close_unclaimed(opening: asyncio.Future[Snapshot]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    with contextlib.suppress(Exception):
        opening.result().close()


class _Reader:
    """A snapshot read from worker threads, one call at a time.

    ``close`` waits for the call in flight, closes the iterators handed out (their
    driver cursors) and then the snapshot, so a client that disconnects in the middle
    of a bootstrap never has its connection closed under a running cursor.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.version = snapshot.version
        self.history = snapshot.history
        self.count = snapshot.count
        self._lock = threading.Lock()
        self._iterators: list[Iterator[Any]] = []
        self._closed = False

    def batches(self, *args: Any, **options: Any) -> Iterator[pa.Table]:
        iterator = self.snapshot.batches(*args, **options)
        self._iterators.append(iterator)
        return iterator

    def pks(self, *args: Any, **options: Any) -> Iterator[list[Any]]:
        iterator = self.snapshot.pks(*args, **options)
        self._iterators.append(iterator)
        return iterator

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._locked, function, *args)

    def _locked(self, function: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._closed:
                raise RuntimeError("the snapshot is closed")
            return function(*args)

    async def next(self, iterator: Iterator[T]) -> T | None:
        """The next item of a blocking iterator, read on a worker thread (None at its end)."""
        return await self.call(next, iterator, None)

    async def iterate(self, iterator: Iterator[Any]) -> AsyncIterator[Any]:
        """Pull a blocking iterator one item at a time on a worker thread."""
        done = object()
        while True:
            item = await self.call(next, iterator, done)
            if item is done:
                return
            yield item

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for iterator in self._iterators:
                with contextlib.suppress(Exception):
                    iterator.close()  # type: ignore[attr-defined]
            self.snapshot.close()
