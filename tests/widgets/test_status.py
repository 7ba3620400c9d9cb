"""SyncStatus: traits follow the status listener; Pause/Resume reach the kernel loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
import traitlets

from realm_jupyter.widgets import SyncStatus


def snapshot(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "connection_state": "connected",
        "session_state": "active",
        "progress": {
            "estimate": 0.1234,
            "rows": 1234,
            "total_rows": 10_000,
            "bytes": 56_000,
            "eta_seconds": 12.5,
            "phase": "bootstrap",
        },
        "subscription_version": 3,
        "subscription_state": "bootstrapping",
        "last_sync": "2026-11-29T12:00:00+00:00",
        "error": "",
        "pending_uploads": 0,
    }
    return {**base, **changes}


class StatusSource:
    def __init__(self) -> None:
        self.current = snapshot()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.calls: list[tuple[str, str]] = []  # (method, thread name)
        self.fail = False

    def status_snapshot(self) -> dict[str, Any]:
        return dict(self.current)

    def add_status_listener(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def emit(self, **changes: Any) -> None:
        self.current = {**self.current, **changes}
        for listener in list(self.listeners):
            listener(dict(self.current))

    def pause(self) -> None:
        self.calls.append(("pause", threading.current_thread().name))
        if self.fail:
            raise RuntimeError("session is closed")
        self.emit(session_state="inactive", connection_state="disconnected")

    def resume(self) -> None:
        self.calls.append(("resume", threading.current_thread().name))
        self.emit(session_state="active")


async def becomes(widget: SyncStatus, name: str, value: object) -> None:
    """Wait until ``widget.<name> == value`` (set on the loop thread by the hand-off)."""
    reached = asyncio.Event()

    def check(_change: object = None) -> None:
        if getattr(widget, name) == value:
            reached.set()

    widget.observe(check, names=name)
    check()
    try:
        async with asyncio.timeout(5):
            await reached.wait()
    finally:
        widget.unobserve(check, names=name)


def from_thread(fn: Callable[[], None]) -> threading.Thread:
    """Run ``fn`` on a fresh thread, as a subshell thread would, and wait for it."""
    thread = threading.Thread(target=fn, name="subshell-test")
    thread.start()
    thread.join()
    return thread


async def test_traits_start_from_the_snapshot() -> None:
    widget = SyncStatus(StatusSource())
    assert widget.connection_state == "connected"
    assert widget.progress["rows"] == 1234
    assert widget.subscription_version == 3
    assert repr(widget) == "SyncStatus(connected, active, 1,234/10,000 rows)"
    widget.close()


async def test_status_listener_updates_traits() -> None:
    source = StatusSource()
    widget = SyncStatus(source)
    source.emit(
        connection_state="connecting",
        progress={
            "estimate": 1.0,
            "rows": 10_000,
            "total_rows": 10_000,
            "bytes": 1,
            "eta_seconds": None,
            "phase": "idle",
        },
        error="server unavailable",
        pending_uploads=2,
    )
    assert widget.connection_state == "connecting"
    assert widget.progress["phase"] == "idle"
    assert widget.error == "server unavailable"
    assert widget.pending_uploads == 2
    assert repr(widget) == (
        "SyncStatus(connecting, active, 10,000/10,000 rows, 2 pending uploads, error: server unavailable)"
    )
    widget.close()
    assert source.listeners == []


async def test_pause_and_resume_from_another_thread_run_on_the_loop_thread() -> None:
    source = StatusSource()
    widget = SyncStatus(source)  # loop defaults to the running (test) loop
    loop_thread = threading.current_thread().name
    from_thread(lambda: widget._handle_custom_msg({"kind": "pause"}, []))
    await becomes(widget, "session_state", "inactive")
    from_thread(lambda: widget._handle_custom_msg({"kind": "resume"}, []))
    await becomes(widget, "session_state", "active")
    assert source.calls == [("pause", loop_thread), ("resume", loop_thread)]
    widget.close()


async def test_pause_on_the_loop_thread_runs_at_once() -> None:
    source = StatusSource()
    widget = SyncStatus(source)
    widget._handle_custom_msg({"kind": "pause"}, [])
    assert source.calls == [("pause", threading.current_thread().name)]
    widget.close()


async def test_pause_failure_shows_in_error() -> None:
    source = StatusSource()
    source.fail = True
    widget = SyncStatus(source)
    from_thread(lambda: widget._handle_custom_msg({"kind": "pause"}, []))
    await becomes(widget, "error", "session is closed")
    assert widget.error == "session is closed"
    widget._handle_custom_msg({"kind": "unknown"}, [])  # ignored
    widget._handle_custom_msg(["not", "a", "dict"], [])  # ignored
    widget.close()


def test_explicit_loop_on_another_thread() -> None:
    """A loop running on its own thread: the hand-off goes there, not to the caller."""
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, name="kernel-loop")
    runner.start()
    try:
        source = StatusSource()
        done = threading.Event()
        source.listeners.append(lambda _: done.set())
        widget = SyncStatus(source, loop=loop)
        widget._handle_custom_msg({"kind": "pause"}, [])
        assert done.wait(5)
        assert source.calls == [("pause", "kernel-loop")]
        widget.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join()
        loop.close()


def test_progress_is_validated() -> None:
    loop = asyncio.new_event_loop()
    try:
        widget = SyncStatus(StatusSource(), loop=loop)
        widget.progress = {"estimate": 1.7, "rows": -3, "phase": "catch_up"}
        assert widget.progress == {
            "estimate": 1.0,
            "rows": 0,
            "total_rows": 0,
            "bytes": 0,
            "eta_seconds": None,
            "phase": "catch_up",
        }
        with pytest.raises(traitlets.TraitError, match="phase"):
            widget.progress = {"phase": "downloading"}
        with pytest.raises(traitlets.TraitError):
            widget.connection_state = "online"
        with pytest.raises(traitlets.TraitError, match="ISO"):
            widget.last_sync = "yesterday"
        with pytest.raises(traitlets.TraitError, match="negative"):
            widget.pending_uploads = -1
        widget.close()
    finally:
        loop.close()


async def test_a_bad_snapshot_does_not_break_the_listener_caller() -> None:
    source = StatusSource()
    widget = SyncStatus(source)
    source.emit(connection_state="sideways")  # logged, not raised into the sync client
    assert widget.connection_state == "connected"
    widget.close()
