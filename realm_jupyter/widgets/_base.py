"""Plumbing the three widgets share: where their bundles live and how work reaches the kernel loop.

With JupyterLab 4.6 and ipykernel 7, comm messages of a widget (custom messages and trait changes
from the browser) are handled on a *subshell* thread that has its own event loop, even while a cell
is running on the kernel loop. Reads are served right there (the sources are thread-safe for
reads); anything that changes sync state goes through :class:`LoopHandoff`, which runs it on the
kernel loop: directly when already on that loop's thread, else with ``call_soon_threadsafe``.
No thread is started here.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["STATIC", "LoopHandoff", "bundle", "default_loop", "error_text", "guarded"]

logger = logging.getLogger(__name__)

STATIC = pathlib.Path(__file__).parent / "static"
"""Where ``npm run build`` (in ``js/``) writes the widget bundles."""

_MISSING_BUNDLE = """\
export default {{
  render({{ el }}) {{
    el.textContent =
      "realm_jupyter: the {name} widget bundle is not built; run `npm ci && npm run build` in js/";
  }}
}};
"""

Done = Callable[[BaseException | None], None]
"""Called on the kernel loop thread when handed-off work ends: the exception, or None."""


def bundle(name: str) -> pathlib.Path | str:
    """``STATIC / name`` when it has been built, else a tiny ESM module that says how to build it.

    This keeps ``import realm_jupyter.widgets`` working on a source checkout before ``npm run
    build`` (anywidget raises at class creation for a missing file); wheels always contain the
    bundles (``ensured-targets`` in pyproject.toml).
    """
    path = STATIC / name
    if path.is_file():
        return path
    logger.info("widget bundle %s is missing; build js/ to render the widgets", path)
    return _MISSING_BUNDLE.format(name=name.removesuffix(".js"))


def default_loop(loop: asyncio.AbstractEventLoop | None) -> asyncio.AbstractEventLoop:
    """``loop``, else the loop running on this thread, else this thread's current event loop.

    In a notebook the widgets are built in a cell, on the kernel loop, so the default is right.

    Raises:
        RuntimeError: no loop was given and this thread has none.
    """
    if loop is not None:
        return loop
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        with warnings.catch_warnings():
            # Deprecated outside a running loop since 3.12; we only want the current one.
            warnings.simplefilter("ignore", DeprecationWarning)
            return asyncio.get_event_loop()
    except RuntimeError as exc:
        raise RuntimeError(
            "no event loop on this thread: pass loop= (the loop the sync client runs on)"
        ) from exc


def error_text(error: BaseException) -> str:
    """One line for the user: the error's own ``message`` when it has one, else ``str``."""
    message = getattr(error, "message", None)
    text = message if isinstance(message, str) and message else str(error)
    return text or type(error).__name__


def guarded(what: str, fn: Callable[[], None]) -> None:
    """Run ``fn``, logging instead of raising: listeners run inside the sync client, and a
    widget bug must never break sync."""
    try:
        fn()
    except Exception:
        logger.exception("widget %s failed", what)


class LoopHandoff:
    """Runs work that mutates sync state on the kernel loop, from whatever thread asks.

    ``call`` runs a plain function there, ``submit`` a coroutine function as a named task; both
    return at once. ``done`` is then called on the loop thread with the error (or None), so a
    widget can show failures; errors are also logged.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def on_loop_thread(self) -> bool:
        """True when the caller runs inside the kernel loop (not a subshell's own loop)."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def call(self, name: str, fn: Callable[[], None], done: Done | None = None) -> None:
        """Run ``fn()`` on the loop thread: now if already there, else soon."""

        def run() -> None:
            error: BaseException | None = None
            try:
                fn()
            except Exception as exc:
                logger.warning("%s failed on the kernel loop", name, exc_info=True)
                error = exc
            if done is not None:
                guarded(f"{name} callback", lambda: done(error))

        if self.on_loop_thread():
            run()
            return
        try:
            self._loop.call_soon_threadsafe(run)
        except RuntimeError as exc:  # the loop is closed: the kernel is shutting down
            logger.warning("cannot hand %s to the kernel loop: %s", name, exc)
            if done is not None:
                closed: BaseException = exc
                guarded(f"{name} callback", lambda: done(closed))

    def submit(
        self,
        name: str,
        make_coro: Callable[[], Coroutine[Any, Any, None]],
        done: Done | None = None,
    ) -> None:
        """Run ``await make_coro()`` as a task named ``name`` on the loop.

        The coroutine is created on the loop thread, so nothing is left un-awaited if the loop
        has gone away.
        """

        def spawned(error: BaseException | None) -> None:
            if error is not None and done is not None:  # never started: report it now
                done(error)

        self.call(name, lambda: self._spawn(name, make_coro, done), spawned)

    async def _run(
        self, name: str, make_coro: Callable[[], Coroutine[Any, Any, None]], done: Done | None
    ) -> None:
        error: BaseException | None = None
        try:
            await make_coro()
        except Exception as exc:
            logger.warning("%s failed", name, exc_info=True)
            error = exc
        if done is not None:
            guarded(f"{name} callback", lambda: done(error))

    def _spawn(
        self, name: str, make_coro: Callable[[], Coroutine[Any, Any, None]], done: Done | None
    ) -> None:
        task = self._loop.create_task(self._run(name, make_coro, done), name=name)
        self._tasks.add(task)  # keep a reference until it ends
        task.add_done_callback(self._tasks.discard)
