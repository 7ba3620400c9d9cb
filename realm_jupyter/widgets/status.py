"""``SyncStatus``: a one-line status bar of the sync session (TypeScript: ``js/src/status.ts``).

Messages from the browser: ``{"kind": "pause"}`` and ``{"kind": "resume"}``; both are handed to
the kernel loop. The traits follow the source's status listener.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anywidget
import traitlets

from ._base import LoopHandoff, bundle, default_loop, error_text, guarded
from .protocols import StatusSource

__all__ = ["SyncStatus"]

CONNECTION_STATES = ("disconnected", "connecting", "connected")
SESSION_STATES = ("active", "inactive")
PHASES = ("idle", "bootstrap", "catch_up")
SNAPSHOT_KEYS = (
    "connection_state",
    "session_state",
    "progress",
    "subscription_version",
    "subscription_state",
    "last_sync",
    "error",
    "pending_uploads",
)
IDLE_PROGRESS: dict[str, Any] = {
    "estimate": 1.0,
    "rows": 0,
    "total_rows": 0,
    "bytes": 0,
    "eta_seconds": None,
    "phase": "idle",
}


class SyncStatus(anywidget.AnyWidget):
    """Connection, session, download progress, subscription set, last sync and errors, with a
    Pause/Resume button.

    ``source`` is anything with the :class:`~realm_jupyter.widgets.protocols.StatusSource`
    methods; ``loop`` is the kernel loop that sync runs on (default: the loop of the calling
    thread, which in a notebook cell is the kernel loop).
    """

    _esm = bundle("status.js")

    connection_state = traitlets.Enum(
        CONNECTION_STATES,
        default_value="disconnected",
        help="Transport state: disconnected, connecting or connected.",
    ).tag(sync=True)
    session_state = traitlets.Enum(
        SESSION_STATES,
        default_value="inactive",
        help="Session state: active, or inactive when paused or closed.",
    ).tag(sync=True)
    progress = traitlets.Dict(
        default_value=IDLE_PROGRESS,
        help="Download progress: estimate (0..1), rows, total_rows, bytes, eta_seconds (or None) "
        "and phase (idle, bootstrap or catch_up).",
    ).tag(sync=True)
    subscription_version = traitlets.Int(0, help="Version of the latest subscription set.").tag(sync=True)
    subscription_state = traitlets.Unicode(
        "", help="State of the latest subscription set (pending, bootstrapping, complete, error…)."
    ).tag(sync=True)
    last_sync = traitlets.Unicode(
        "", help="When the last download or upload completed, ISO-8601; empty if never."
    ).tag(sync=True)
    error = traitlets.Unicode("", help="The last sync error, one line; empty if none.").tag(sync=True)
    pending_uploads = traitlets.Int(
        0, help="Local changes written but not yet acknowledged by the server."
    ).tag(sync=True)

    _remove_listener: Callable[[], None] | None = None

    def __init__(
        self,
        source: StatusSource,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        self._source = source
        self._handoff = LoopHandoff(default_loop(loop))
        snapshot = source.status_snapshot()
        super().__init__(**{k: snapshot[k] for k in SNAPSHOT_KEYS if k in snapshot}, **kwargs)
        self._remove_listener = source.add_status_listener(self._on_status)
        self.on_msg(self._on_msg)

    # ------------------------------------------------------------------ validation

    @traitlets.validate("progress")
    def _valid_progress(self, proposal: dict[str, Any]) -> dict[str, Any]:
        value = {**IDLE_PROGRESS, **proposal["value"]}
        phase = value["phase"]
        if phase not in PHASES:
            raise traitlets.TraitError(f"progress phase must be one of {PHASES}, not {phase!r}")
        eta = value["eta_seconds"]
        return {
            "estimate": min(1.0, max(0.0, float(value["estimate"]))),
            "rows": max(0, int(value["rows"])),
            "total_rows": max(0, int(value["total_rows"])),
            "bytes": max(0, int(value["bytes"])),
            "eta_seconds": None if eta is None else max(0.0, float(eta)),
            "phase": phase,
        }

    @traitlets.validate("pending_uploads", "subscription_version")
    def _valid_count(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 0:
            raise traitlets.TraitError(f"{proposal['trait'].name} cannot be negative: {value}")
        return value

    @traitlets.validate("last_sync")
    def _valid_last_sync(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if value:
            try:
                datetime.fromisoformat(value)
            except ValueError as exc:
                raise traitlets.TraitError(f"last_sync is not ISO-8601: {value!r}") from exc
        return value

    # ------------------------------------------------------------------ events

    def _on_status(self, snapshot: dict[str, Any]) -> None:
        """Status listener: runs on the kernel loop thread."""

        def apply() -> None:
            with self.hold_sync():
                for key in SNAPSHOT_KEYS:
                    if key in snapshot:
                        setattr(self, key, snapshot[key])

        guarded("SyncStatus status update", apply)

    def _on_msg(self, _widget: object, content: object, _buffers: list[bytes]) -> None:
        """A custom message from the browser (possibly on a subshell thread)."""
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "pause":
            self._handoff.call("SyncStatus.pause", self._source.pause, self._on_done)
        elif kind == "resume":
            self._handoff.call("SyncStatus.resume", self._source.resume, self._on_done)

    def _on_done(self, error: BaseException | None) -> None:
        if error is not None:
            self.error = error_text(error)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop following the source and close the widget."""
        remove, self._remove_listener = self._remove_listener, None
        if remove is not None:
            remove()
        super().close()

    def __repr__(self) -> str:
        parts = [self.connection_state, self.session_state]
        progress = self.progress
        if progress["total_rows"]:
            parts.append(f"{progress['rows']:,}/{progress['total_rows']:,} rows")
        if self.pending_uploads:
            parts.append(f"{self.pending_uploads:,} pending uploads")
        if self.error:
            parts.append(f"error: {self.error}")
        return f"SyncStatus({', '.join(parts)})"
