"""Applying what the server sends: one method per frame type (docs/protocol.md §5).

A mixin of :class:`~realm_jupyter.client.session.SyncSession`, which owns the
connection; here is only what each frame does to the cache, the subscription
sets and the progress estimate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..cache import apply as cache_apply
from ..errors import AuthError, ServerUnavailableError
from ..wire import decode_ipc, decode_ipc_prefix
from .progress import Progress, ProgressTracker
from .subscriptions import SubscriptionEvent, SubscriptionSetState
from .transport import TRUNCATED

if TYPE_CHECKING:
    from .realm import Realm

__all__ = ["DownloadFrames", "ReauthRequired", "ResetRequired"]

logger = logging.getLogger(__name__)

#: Rows of bootstrap batches staged in one cache transaction: DuckDB's row-group size, so
#: each commit writes whole row groups once (benchmark B1: 50,000-row commits rewrote
#: partial row groups, twice the staging CPU), however small the frames they came in.
STAGE_ROWS = 122_880
#: A stream that brings no frame for this long has its received batches staged anyway,
#: so that a stalled or cut connection loses nothing it delivered.
STAGE_IDLE_SECONDS = 0.25


class ResetRequired(Exception):
    """The server says the client must reset (raised out of the stream)."""

    def __init__(self, code: int, message: str, recovery_disabled: bool) -> None:
        super().__init__(message)
        self.code = code
        self.recovery_disabled = recovery_disabled


class ReauthRequired(Exception):
    """The server ended the stream for its token (expired, or permissions changed):
    refresh the access token and reopen the stream (raised out of the stream)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DownloadFrames:
    """Frame handlers; the session provides the attributes declared here."""

    realm: Realm
    server_version: int
    last_sync: float | None
    progress: ProgressTracker
    _report_progress: Callable[[Progress], None]
    _report_changes: Callable[[set[str]], None]

    rows_received: int
    _received: list[pa.Table]
    _received_at: tuple[str, int, Any] | None  # (object type, step, last primary key)
    _stage_timer: asyncio.TimerHandle | None

    def _init_staging(self) -> None:
        self.rows_received = 0  # bootstrap rows kept, ever (a connection brought data)
        self._received = []
        self._received_at = None
        self._stage_timer = None

    def _stage_received(self) -> None:
        """Stage the bootstrap rows received and not yet staged, in one transaction."""
        if self._stage_timer is not None:
            self._stage_timer.cancel()
            self._stage_timer = None
        if not self._received or self._received_at is None:
            return
        object_type, step, after = self._received_at
        cache_apply.stage_batch(self.realm.cache, object_type, pa.concat_tables(self._received),
                                step, after)
        self._received, self._received_at = [], None  # (kept when staging failed)

    def _handle(self, header: dict[str, Any], payload: bytes | None) -> None:
        kind = header["t"]
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            logger.debug("ignoring unknown frame %r", kind)
            return
        handler(header, payload)

    def _on_hello(self, header: dict[str, Any], payload: bytes | None) -> None:
        self.server_version = int(header["server_version"])
        store = self.realm.subscription_store
        # Version 0 is empty: meeting a server completes it, even when newer sets were
        # committed offline (they may all be rejected, and waiters on 0 must not hang).
        if store.get(0) is not None and store.state(0) is SubscriptionSetState.PENDING:
            store.apply(0, SubscriptionEvent.CONNECTED_EMPTY)
        # With nothing in view there is nothing to replay from trimmed history: the server
        # moves its cursor past it (protocol §5), and so does the client, or a download
        # wait would look for versions that no frame will ever bring.
        cache = self.realm.cache
        trimmed = int(header.get("trimmed_through", 0))
        if store.active.version == 0 and cache.cursor_version < trimmed:
            with cache.transaction():
                cache.set_meta("cursor", trimmed)

    def _on_ping(self, header: dict[str, Any], payload: bytes | None) -> None:
        self.server_version = max(self.server_version, int(header.get("server_version", 0)))

    def _on_changes(self, header: dict[str, Any], payload: bytes | None) -> None:
        upserts = {}
        offset = 0
        data = payload or b""
        for part in header.get("upserts", []):
            size = int(part["bytes"])
            upserts[part["type"]] = decode_ipc(data[offset : offset + size])
            offset += size
        removes = header.get("removes", {})
        version = int(header["server_version"])
        if header.get("compensating"):
            self.realm.writes.on_compensating_write({"writes": header["compensating"]})
        uploaded = header.get("uploaded")
        self.realm.apply_download(version, upserts, removes,
                                  None if uploaded is None else int(uploaded))
        self.server_version = max(self.server_version, version)
        self.last_sync = asyncio.get_running_loop().time()  # every applied download counts
        self._report_changes(set(upserts) | {t for t, pks in removes.items() if pks})

    def _on_bootstrap_begin(self, header: dict[str, Any], payload: bytes | None) -> None:
        realm = self.realm
        self._stage_received()
        staged = cache_apply.staged_bootstrap(realm.cache)
        resumed = staged is not None and (staged["version"], staged["kind"],
                                          staged["first_snapshot"]) == (
            header["version"], header["kind"], header["first_snapshot"])
        cache_apply.begin_bootstrap(realm.cache, header)
        realm.subscription_store.apply(int(header["version"]), SubscriptionEvent.BOOTSTRAP_BEGIN)
        already = int(staged["received"]) if resumed and staged else 0
        self._report_progress(self.progress.begin(int(header["totals"]["rows"]), already))

    def _on_batch(self, header: dict[str, Any], payload: bytes | None) -> None:
        """Keep a batch, staging whole row groups at a time (and all of it at a cut)."""
        object_type, step = str(header["type"]), int(header["step"])
        if header.get(TRUNCATED):  # the connection broke in this frame: keep what came
            table = decode_ipc_prefix(payload or b"")
            if table is None or not table.num_rows:
                return
            assert self.realm.cache.schema is not None
            pk = self.realm.cache.schema[object_type].primary_key
            after = table.column(pk)[-1].as_py()
        else:
            table, after = decode_ipc(payload or b""), header["after"]
        if self._received_at is not None and self._received_at[:2] != (object_type, step):
            self._stage_received()
        self._received.append(table)
        self._received_at = (object_type, step, after)
        self.rows_received += table.num_rows
        if sum(t.num_rows for t in self._received) >= STAGE_ROWS or header.get(TRUNCATED):
            self._stage_received()
        elif self._stage_timer is None:
            self._stage_timer = asyncio.get_running_loop().call_later(
                STAGE_IDLE_SECONDS, self._stage_received)
        self._report_progress(self.progress.advance(table.num_rows, len(payload or b"")))

    def _on_remove(self, header: dict[str, Any], payload: bytes | None) -> None:
        self._stage_received()
        cache_apply.stage_removes(self.realm.cache, header["type"], header["pks"],
                                  int(header["step"]), header["after"])

    def _on_bootstrap_end(self, header: dict[str, Any], payload: bytes | None) -> None:
        realm = self.realm
        self._stage_received()
        version = int(header["version"])
        store = realm.subscription_store

        def with_data(conn: Any) -> None:
            realm.writes.replay_all(conn)
            store.apply(version, SubscriptionEvent.BOOTSTRAP_END, conn=conn)

        added = cache_apply.apply_bootstrap(realm.cache, version, int(header["replay_from"]),
                                            on_commit=with_data)
        realm.after_bootstrap()
        self.last_sync = asyncio.get_running_loop().time()
        self._report_changes({t for t in added} if added else set())

    def _on_mark(self, header: dict[str, Any], payload: bytes | None) -> None:
        version = int(header["version"])
        store = self.realm.subscription_store
        if store.state(version) is SubscriptionSetState.AWAITING_MARK:
            store.apply(version, SubscriptionEvent.MARK)
        self.last_sync = asyncio.get_running_loop().time()
        self._report_progress(self.progress.idle())

    def _on_compensating_write(self, header: dict[str, Any], payload: bytes | None) -> None:
        self.realm.writes.on_compensating_write(header)

    def _on_query_error(self, header: dict[str, Any], payload: bytes | None) -> None:
        self.realm.subscription_store.apply(int(header["version"]), SubscriptionEvent.REJECTED,
                                            str(header.get("error", "rejected")))

    def _on_error(self, header: dict[str, Any], payload: bytes | None) -> None:
        action = header.get("action", "Transient")
        message = str(header.get("error", "server error"))
        if action in ("ClientReset", "ClientResetNoRecovery"):
            raise ResetRequired(int(header.get("code", 222)), message,
                         action == "ClientResetNoRecovery")
        if action == "RefreshUser":
            raise ReauthRequired(str(header.get("error_code", header.get("code"))), message)
        if action == "LogOutUser":
            raise AuthError(f"the server ended the session: {message}", status_code=401,
                            hint="log in again")
        raise ServerUnavailableError(f"the server ended the session: {message}",
                                     code=int(header.get("code", 200)))
