"""Worker-side helpers: log in as a demo user, open realms, talk to the orchestrator."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "APP_ID",
    "RssSampler",
    "Timers",
    "demo_size_for_orders",
    "emit",
    "log_in",
    "open_realm",
    "read_command",
]

APP_ID = "realm-jupyter-demo"
MARK = "@@"


def emit(message: dict[str, Any]) -> None:
    """One message to the orchestrator (a ``@@``-prefixed JSON line on stdout)."""
    sys.stdout.write(MARK + json.dumps(message) + "\n")
    sys.stdout.flush()


async def read_command() -> dict[str, Any]:
    """The next JSON command on stdin (``{}`` at end of input)."""
    line = await asyncio.to_thread(sys.stdin.readline)
    return json.loads(line) if line.strip() else {}


def demo_size_for_orders(orders: int) -> int:
    """The demo size (all documents) whose generated data holds exactly ``orders`` Orders."""
    from realm_jupyter.demo.generate import document_counts

    total = orders
    while document_counts(total)["Order"] < orders:
        total += 1
    return total


async def log_in(url: str, email: str = "carol@example.com") -> Any:
    """An ``App`` and a logged-in demo user (Carol is the admin: every field visible)."""
    from realm_jupyter.client import App, Credentials
    from realm_jupyter.demo import DEMO_USERS

    password = next(user.password for user in DEMO_USERS if user.email == email)
    app = App(url, APP_ID)
    user = await app.log_in(Credentials.email_password(email, password))
    return app, user


async def open_realm(user: Any, cache: Path, timeout: float = 120) -> Any:
    """A realm on a fresh cache file, once its stream is connected."""
    from realm_jupyter.client import ConnectionState, Realm

    realm = await Realm.open(user, cache=cache)
    await realm.session.wait_for(
        lambda: realm.session.connection_state is ConnectionState.CONNECTED, timeout, "connecting")
    return realm


class Timers:
    """Wall time spent inside named functions, by patching module attributes in this worker.

    Only the worker process is patched, and only to measure: the library code runs
    unchanged (a wrapper calls the original).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.current = "other"  # the wrapped function running now (read by the RSS sampler)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            outer, self.current = self.current, name
            try:
                return original(*args, **kwargs)
            finally:
                self.current = outer
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                self.calls[name] = self.calls.get(name, 0) + 1

        setattr(owner, attribute, timed)
        self._undo.append(lambda: setattr(owner, attribute, original))

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


class RssSampler:
    """Peak RSS per phase (``Timers.current``), sampled every few milliseconds on a thread."""

    def __init__(self, timers: Timers, interval: float = 0.005) -> None:
        import threading

        self.timers = timers
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        from .machine import rss_bytes

        while not self._stop.wait(self.interval):
            phase, rss = self.timers.current, rss_bytes()
            if rss > self.peaks.get(phase, 0):
                self.peaks[phase] = rss

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
