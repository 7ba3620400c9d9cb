"""The sync session: named tasks on the running loop that keep the cache in sync.

Three tasks, all owned here and cancelled in :meth:`SyncSession.close`:

* ``stream`` connects, reads frames and applies them to the cache; on a broken
  connection it reconnects with jittered exponential backoff;
* ``queries`` sends committed subscription sets, each only once every write made
  before it has been uploaded;
* ``uploads`` sends the upload queue (see ``client.writes``).

States and events are specified in ``docs/spec/session.md``. No threads: in a
notebook, these tasks run on the kernel's own loop between and during cells.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import duckdb

from ..cache import apply as cache_apply
from ..cache.store import cache_error
from ..errors import (
    AuthError,
    CacheError,
    CompensatingWriteError,
    ProtocolError,
    RealmJupyterError,
    ServerUnavailableError,
    SyncError,
    SyncTimeoutError,
)
from .backoff import Backoff
from .downloads import DownloadFrames, ReauthRequired, ResetRequired
from .listeners import Signal, call_safely, remove_listener
from .progress import Progress, ProgressTracker
from .subscriptions import SubscriptionEvent, SubscriptionSetState
from .transport import RequestError

if TYPE_CHECKING:
    from .realm import Realm

__all__ = ["ConnectionState", "SessionState", "SyncSession"]

logger = logging.getLogger(__name__)
STOP_TIMEOUT = 10.0  # seconds close() waits for the cancelled tasks
#: A stream that ends for its token again this soon after the last refresh backs off
#: instead of reopening at once, so a server that keeps refusing cannot make a loop.
REAUTH_MIN_INTERVAL = 1.0
_PROGRESS = frozenset({"remove", "bootstrap_end", "changes", "mark"})  # and batches with rows


class ConnectionState(enum.StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


class SessionState(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class SyncSession(DownloadFrames):
    """The connection between one cache and the server."""

    def __init__(self, realm: Realm, backoff: Backoff | None = None) -> None:
        self.realm = realm
        self.backoff = backoff or Backoff()
        self.state = SessionState.INACTIVE
        self.connection_state = ConnectionState.DISCONNECTED
        self.server_version = 0
        self.last_error: RealmJupyterError | None = None
        #: The error that stopped sync (None while it runs, or after a plain pause).
        self.failure: RealmJupyterError | None = None
        self._attempts_at_connect = 0  # backoff steps before the current stream connected
        self._reported_failure: str | None = None  # a server failure reported once
        self.last_sync: float | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping: set[asyncio.Task[None]] = set()  # cancelled, not yet finished
        self._changed = Signal()
        self._queries_wakeup = asyncio.Event()
        self._uploads_wakeup = asyncio.Event()
        self._connection_listeners: list[Callable[[ConnectionState, ConnectionState], None]] = []
        self._progress_listeners: list[Callable[[Progress], None]] = []
        self._change_listeners: list[Callable[[set[str]], None]] = []
        self._error_listeners: list[Callable[[RealmJupyterError], None]] = []
        self.progress = ProgressTracker()
        self._stream_token: str | None = None  # the access token the open stream was sent
        self._reauthenticated_at: float | None = None
        self._init_staging()

    def __repr__(self) -> str:
        return f"SyncSession({self.state.value}, {self.connection_state.value})"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the session's tasks on the running loop (idempotent)."""
        if self.state is SessionState.ACTIVE:
            return
        self.state = SessionState.ACTIVE
        self.failure = None
        self.realm.subscription_store.recover()
        name = self.realm.client_label
        self._tasks = {
            "stream": asyncio.create_task(self._guarded(self._stream_forever),
                                          name=f"realm-sync-stream:{name}"),
            "queries": asyncio.create_task(self._guarded(self._send_queries),
                                           name=f"realm-sync-queries:{name}"),
            "uploads": asyncio.create_task(
                self._guarded(lambda: self.realm.writes.upload_forever(self)),
                name=f"realm-sync-uploads:{name}"),
        }
        self._changed.fire()

    async def _guarded(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run one of the session's tasks; an unexpected error stops the session, visibly.

        Expected failures (the network, the server's answers) are handled inside the
        tasks. Anything else — a frame that cannot be applied, a broken cache — would
        otherwise end the task silently and leave a session that looks connected but
        no longer syncs: it becomes inactive, the error goes to ``on_error`` (once), and
        every wait for sync raises it instead of waiting for what cannot come. A
        :class:`CacheError` (a full disk, a damaged file) already says what to do and
        is passed on as it is.
        """
        try:  # the coroutine is made here, so a task cancelled before it ran leaves none behind
            await work()
        except Exception as error:
            if isinstance(error, duckdb.Error):  # read past the cache's translations
                error = cache_error(self.realm.cache.path, error, "sync stopped")
            if isinstance(error, CacheError):
                failure: RealmJupyterError = error
            else:
                logger.exception("sync stopped")
                failure = SyncError(f"sync stopped: {type(error).__name__}: {error}",
                                    hint="fix the cause, then realm.session.resume()")
            self.last_error = failure
            self.failure = failure
            self._halt()
            self.realm.subscription_store.fail(failure)
            self.realm.report_error(failure)

    def _cancel_tasks(self) -> None:
        """Cancel every task of the session (the calling one ends at its next await)."""
        try:
            current = asyncio.current_task()
        except RuntimeError:  # called from synchronous code, outside the running loop
            current = None
        for task in self._tasks.values():
            task.cancel()
            if task is not current:
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)
        self._tasks = {}

    async def _stop(self) -> None:
        self._cancel_tasks()
        try:
            current = asyncio.current_task()
        except RuntimeError:
            current = None
        stopping = {task for task in self._stopping if task is not current}
        if stopping:  # a task stuck in its clean-up must not make close() hang
            done, stuck = await asyncio.wait(stopping, timeout=STOP_TIMEOUT)
            for task in done:  # retrieve outcomes (tasks end cancelled; the guard logs errors)
                if not task.cancelled():
                    task.exception()
            for task in stuck:
                logger.warning("sync task %s did not stop within %g s", task.get_name(),
                               STOP_TIMEOUT)
        self._set_connection(ConnectionState.DISCONNECTED)

    def _halt(self) -> None:
        """Become inactive: no task, no connection (pause, auth failure, manual reset)."""
        self.state = SessionState.INACTIVE
        self._cancel_tasks()
        self._set_connection(ConnectionState.DISCONNECTED)
        self._changed.fire()

    def pause(self) -> None:
        """Stop syncing until :meth:`resume` (no-op when already paused)."""
        if self.state is SessionState.INACTIVE:
            return
        self._halt()

    def resume(self) -> None:
        """Start syncing again after :meth:`pause` (no-op when active)."""
        self.start()

    async def close(self) -> None:
        self.state = SessionState.INACTIVE
        await self._stop()
        self._changed.fire()

    # ------------------------------------------------------------------ listeners

    def add_connection_listener(self, callback: Callable[[ConnectionState, ConnectionState], None]
                                ) -> Callable[[], None]:
        """``callback(old, new)`` on every connection state change; returns a remover."""
        self._connection_listeners.append(callback)
        return lambda: remove_listener(self._connection_listeners, callback)

    def add_progress_listener(self, callback: Callable[[Progress], None]) -> Callable[[], None]:
        self._progress_listeners.append(callback)
        return lambda: remove_listener(self._progress_listeners, callback)

    def add_change_listener(self, callback: Callable[[set[str]], None]) -> Callable[[], None]:
        """``callback(object_types)`` after sync applied changes to those types."""
        self._change_listeners.append(callback)
        return lambda: remove_listener(self._change_listeners, callback)

    def add_error_listener(self, callback: Callable[[RealmJupyterError], None]
                           ) -> Callable[[], None]:
        """``callback(error)`` for every sync error reported (compensating writes included)."""
        self._error_listeners.append(callback)
        return lambda: remove_listener(self._error_listeners, callback)

    def record_error(self, error: RealmJupyterError) -> None:
        """Remember ``error`` as the last one (``status()["error"]``) and tell the listeners:
        a status widget shows it even when no cell is running to show a warning line."""
        self.last_error = error
        for callback in list(self._error_listeners):
            call_safely(callback, error)

    def _set_connection(self, new: ConnectionState) -> None:
        old = self.connection_state
        if old is new:
            return
        self.connection_state = new
        for callback in list(self._connection_listeners):
            call_safely(callback, old, new)
        self._changed.fire()

    def _report_progress(self, progress: Progress) -> None:
        for callback in list(self._progress_listeners):
            call_safely(callback, progress)

    def _report_changes(self, object_types: set[str]) -> None:
        if not object_types:
            return
        for callback in list(self._change_listeners):
            call_safely(callback, object_types)

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, condition: Callable[[], bool], timeout: float | None,
                       what: str) -> None:
        async def until() -> None:
            while not condition():
                if self.failure is not None:
                    raise self.failure
                await self._changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise SyncTimeoutError(f"{what} did not finish within {timeout:g} s; sync continues "
                                   "in the background") from None

    async def wait_for_download(self, timeout: float | None = None) -> None:
        """Wait until the cache holds every change the server had when this was called."""
        async def download() -> None:
            await self.wait_for(lambda: self.connection_state is ConnectionState.CONNECTED, None,
                                "connecting")
            answer = await self.realm.authed("POST", "sync/mark",
                                             {"client_id": self.realm.client_id})
            target = int(answer["server_version"])
            await self.wait_for(lambda: self._downloaded(target), None, "download")

        try:
            await asyncio.wait_for(download(), timeout)
        except TimeoutError:
            raise SyncTimeoutError(f"download did not finish within {timeout:g} s; sync continues "
                                   "in the background") from None

    def _downloaded(self, target: int) -> bool:
        """At ``target`` and no subscription set the server is still sending (reference §2.3)."""
        realm = self.realm
        if realm.cache.cursor_version < target:
            return False
        store = realm.subscription_store
        latest = store.latest.version
        state = store.state(latest)
        if state in (SubscriptionSetState.BOOTSTRAPPING, SubscriptionSetState.AWAITING_MARK):
            return False
        # A committed set is sent as soon as it can be (again, after a client reset), and
        # its bootstrap is part of what there is to download.
        return not (state is SubscriptionSetState.PENDING and latest > 0)

    async def wait_for_upload(self, timeout: float | None = None) -> None:
        """Wait until every local write made before this call has been acknowledged."""
        target = self.realm.writes.last_client_version()
        await self.wait_for(lambda: self.realm.writes.pending_count(upto=target) == 0, timeout,
                            "upload")

    # ------------------------------------------------------------------ the stream

    async def _stream_forever(self) -> None:
        reopen = False
        while self.state is SessionState.ACTIVE:
            if not reopen:  # a reopen after a token refresh stays "connected": no hiccup
                self._set_connection(ConnectionState.CONNECTING)
            reopen = False
            try:
                await self._stream_once()
                self._reported_failure = None
                delay = self.backoff.next_delay(retry_after=1.0)
            except ReauthRequired as ended:
                try:
                    reopen = await self._reauthenticate(ended)
                except AuthError as error:  # the refresh token is no longer valid either
                    self._auth_failed(error)
                    return
                if reopen:
                    continue
                delay = self.backoff.next_delay()
            except ServerUnavailableError as error:
                self.last_error = error
                delay = self._after_stream_error(error)
            except ProtocolError as error:
                self.last_error = error
                delay = self.backoff.next_delay()
                logger.info("sync connection lost (%s); retrying in %.1f s", error, delay)
            except ResetRequired as reset:
                await self.realm.client_reset(reset.code, str(reset), reset.recovery_disabled)
                delay = 0.0
            except AuthError as error:
                self._auth_failed(error)
                return
            except RequestError as error:
                if error.error_code == "ClientNotFound":
                    await self.realm.client_reset(208, error.message, False)
                    delay = 0.0
                else:
                    self.last_error = error
                    self.realm.report_error(error)
                    delay = self.backoff.next_delay()
            self._set_connection(ConnectionState.DISCONNECTED)
            await asyncio.sleep(delay)

    def _auth_failed(self, error: AuthError) -> None:
        self.last_error = error
        self._halt()  # the queries and uploads tasks stop too
        self.realm.report_error(error)

    async def _reauthenticate(self, ended: ReauthRequired) -> bool:
        """Refresh the access token the server ended the stream for; True: reopen at once.

        Raises:
            AuthError: the refresh token is no longer valid (the session stops).
        """
        loop = asyncio.get_running_loop()
        logger.info("sync: the server ended the stream (%s: %s); refreshing the access token "
                    "and reconnecting", ended.code, ended)
        await self.realm.user.access_token(True, stale=self._stream_token)
        now, last = loop.time(), self._reauthenticated_at
        self._reauthenticated_at = now
        return last is None or now - last >= REAUTH_MIN_INTERVAL

    async def _stream_token_source(self, refresh: bool) -> str:
        self._stream_token = await self.realm.user.access_token(refresh)
        return self._stream_token

    def _after_stream_error(self, error: ServerUnavailableError) -> float:
        """The delay before reconnecting after a lost connection or an error frame.

        A stream the server ended because it failed (an error frame with a code
        other than 200, "shutting down") would fail the same way at once: the
        backoff keeps growing across such streams instead of restarting at its
        first step on each reconnect, and the failure is reported once — not once
        per reconnect — until a stream ends normally.
        """
        if error.code is not None and error.code != 200:
            self.backoff.attempts = max(self.backoff.attempts, self._attempts_at_connect)
            delay = self.backoff.next_delay()
            message = str(error)
            if message != self._reported_failure:
                self._reported_failure = message
                self.realm.report_error(error)
            logger.info("sync stream failed on the server; retrying in %.1f s", delay)
            return delay
        self._reported_failure = None
        delay = self.backoff.next_delay()
        logger.info("sync connection lost (%s); retrying in %.1f s", error, delay)
        return delay

    async def _stream_once(self) -> None:
        realm = self.realm
        await realm.ensure_client_id()
        store = realm.subscription_store
        active = store.active
        staged = cache_apply.staged_bootstrap(realm.cache)
        body: dict[str, Any] = {
            "client_id": realm.client_id,
            "cursor": realm.cache.cursor_version,
            "active": {"version": active.version, "queries": store.queries(active)},
            "bootstrap": None,
        }
        if staged is not None and staged["step"] is not None:
            body["bootstrap"] = {"version": staged["version"], "kind": staged["kind"],
                                 "first_snapshot": staged["first_snapshot"],
                                 "step": staged["step"], "after": staged["after"]}
        resuming, rows = body["bootstrap"] is not None, self.rows_received
        try:
            async with realm.transport.stream(body, self._stream_token_source) as frames:
                async for header, payload in frames:
                    self._handle(header, payload)  # an error frame (reset) raises first
                    if self.connection_state is not ConnectionState.CONNECTED:
                        self._set_connection(ConnectionState.CONNECTED)
                        self._attempts_at_connect = self.backoff.attempts
                        self._queries_wakeup.set()
                        self._uploads_wakeup.set()
                    # A connection that works resets the backoff; one resuming a bootstrap
                    # only once it brought data, so that cuts before any batch back off.
                    if not resuming or header["t"] in _PROGRESS or self.rows_received > rows:
                        self.backoff.reset()
                    self._changed.fire()
                    await asyncio.sleep(0)
        finally:  # a cut: what arrived is staged, and the next connection resumes after it
            self._stage_received()

    # ------------------------------------------------------------------ queries

    async def _send_queries(self) -> None:
        """Send each committed set once its earlier writes are uploaded (reference §5.4)."""
        realm = self.realm
        while True:
            self._queries_wakeup.clear()
            sent = int(realm.cache.get_meta("sent_query_version", 0))
            for stored in realm.subscription_store.pending_versions(sent):
                if realm.writes.acked_version() < stored.snapshot_client_version:
                    break
                if not await self._send_query(stored.version):
                    break
            await self._queries_wakeup.wait()

    async def _send_query(self, version: int) -> bool:
        realm = self.realm
        store = realm.subscription_store
        stored = store.get(version)
        if stored is None:
            return True
        try:
            await realm.ensure_client_id()
            await realm.authed("POST", "sync/query", {"client_id": realm.client_id,
                                                      "version": version,
                                                      "queries": store.queries(stored)})
        except RequestError as error:
            if error.error_code == "BadQuery":
                store.apply(version, SubscriptionEvent.REJECTED, error.message)
            elif error.error_code == "ClientNotFound":
                return False
            else:
                self.realm.report_error(error)
                return False
        except (ServerUnavailableError, AuthError):
            return False
        with realm.cache.transaction():
            realm.cache.set_meta("sent_query_version", version)
        self._changed.fire()
        return True

    def wake_queries(self) -> None:
        self._queries_wakeup.set()

    def wake_uploads(self) -> None:
        self._uploads_wakeup.set()

    @property
    def uploads_wakeup(self) -> asyncio.Event:
        return self._uploads_wakeup

    def status(self) -> dict[str, Any]:
        """A snapshot for widgets and ``%realm_status``."""
        store = self.realm.subscription_store
        latest = store.latest
        error = self.last_error
        return {
            "connection_state": self.connection_state.value,
            "session_state": self.state.value,
            "progress": self.progress.current().as_dict(),
            "subscription_version": latest.version,
            "subscription_state": store.state(latest.version).value,
            "last_sync": "" if self.last_sync is None else self.realm.clock_iso(self.last_sync),
            "error": "" if error is None else describe_error(error),
            "pending_uploads": self.realm.writes.pending_count(),
            "server_version": self.server_version,
            "cursor": self.realm.cache.cursor_version,
        }


def describe_error(error: RealmJupyterError) -> str:
    """One line for a status bar: a compensating write names the object and the reason."""
    if isinstance(error, CompensatingWriteError):
        return "; ".join(f"write reverted by the server: {w.object_type} {w.primary_key}: "
                         f"{w.reason}" for w in error.writes)
    return str(error)
