"""Everything the magics show: error lines, the live progress line, summaries.

One place decides how things look, in HTML (JupyterLab, Notebook 7) and plain text
(nbclient, terminals) alike.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import time
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.display import DisplayHandle
from IPython.display import display as _display

from ..client.progress import Progress
from ..errors import QueryError, RealmJupyterError

__all__ = ["CellOutput", "NoteLine", "ProgressLine", "describe_query", "error_line", "note",
           "usage_error"]


def error_line(error: RealmJupyterError) -> str:
    """One line (plus, for queries, the query and a caret line) and a hint."""
    text = error.render() if isinstance(error, QueryError) else error.message
    text = text.strip() or type(error).__name__
    if error.hint:
        text += f"\nHint: {error.hint}"
    return text


def describe_query(object_type: str, query: str) -> str:
    """A subscription as people read it: "all Orders" for TRUEPREDICATE, else "Order <query>"
    (TypeScript twin: ``describeQuery`` in js/src/format.ts)."""
    text = query.strip()
    if not text or text.upper() == "TRUEPREDICATE":
        return f"all {object_type}{'' if object_type.endswith('s') else 's'}"
    return f"{object_type} {text}"


def usage_error(error: RealmJupyterError) -> UsageError:
    return UsageError(error_line(error))


def display(obj: Any, **kwargs: Any) -> Any:
    """IPython's ``display`` (typed)."""
    return _display(obj, **kwargs)  # type: ignore[no-untyped-call]


class _Bundle:
    """An object that displays as HTML in rich frontends and as text elsewhere."""

    def __init__(self, text: str, html_text: str) -> None:
        self.text = text
        self.html = html_text

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": self.html}


_COLORS = {"info": "var(--jp-ui-font-color1, #333)", "warning": "#b26b00", "success": "#2e7d32"}


def _note_bundle(text: str, level: str) -> _Bundle:
    color = _COLORS.get(level, "inherit")
    return _Bundle(text, f'<div style="color:{color};font-family:var(--jp-code-font-family,'
                         f'monospace);font-size:12px">{html.escape(text)}</div>')


def note(text: str, *, level: str = "info") -> None:
    """A one-line message (``warning`` lines are amber: compensating writes, timeouts)."""
    display(_note_bundle(text, level))


class NoteLine:
    """A one-line message that is shown at once and rewritten in place later in the same cell
    (``%realm_write``: "uploading…", then what the server said)."""

    def __init__(self, text: str, *, level: str = "info") -> None:
        self.handle: DisplayHandle = display(_note_bundle(text, level), display_id=True)

    def update(self, text: str, *, level: str = "info") -> None:
        self.handle.update(_note_bundle(text, level))  # type: ignore[no-untyped-call]


def _run_in(context: contextvars.Context | None, fn: Callable[[], Any]) -> None:
    if context is None:
        fn()
        return
    try:
        context.run(fn)
    except RuntimeError:  # that context is being run already (we are inside it)
        fn()


class CellOutput:
    """Sends output made outside a cell's own code to a cell the user can see.

    ipykernel tags output with the request of the *context* it is made in, and an asyncio
    task keeps the context it was created in. Sync tasks are created by ``%realm_connect``,
    so what they display directly (a progress update, a compensating-write warning) would
    carry that old cell's header, and JupyterLab and nbclient drop it. So the context of the
    running cell is kept from ``pre_run_cell`` to ``post_run_cell``: output goes to that cell,
    and output made while no cell runs waits for the next one.
    """

    MAX_PENDING = 50

    def __init__(self, last_write: Callable[[], int | None] | None = None) -> None:
        self.context: contextvars.Context | None = None
        self.pending: list[Callable[[], Any]] = []
        self._last_write = last_write
        #: the local write version before the running cell started (None: not connected then)
        self.writes_before: int | None = None

    def made_here(self, client_version: int | None) -> bool:
        """Whether the local write ``client_version`` was made by the running cell."""
        if self.context is None:
            return False
        return client_version is None or client_version > (self.writes_before or 0)

    def show(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` (which displays something) where the user will see it."""
        if self.context is None:
            if len(self.pending) < self.MAX_PENDING:
                self.pending.append(fn)
            return
        _run_in(self.context, fn)

    def pre_run_cell(self, info: Any = None) -> None:
        self.context = contextvars.copy_context()
        self.writes_before = self._last_write() if self._last_write is not None else None
        pending, self.pending = self.pending, []
        for fn in pending:
            fn()

    def post_run_cell(self, result: Any = None) -> None:
        self.context = None

    def install(self, shell: Any) -> None:
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)

    def uninstall(self, shell: Any) -> None:
        for event, callback in (("pre_run_cell", self.pre_run_cell),
                                ("post_run_cell", self.post_run_cell)):
            with contextlib.suppress(ValueError):
                shell.events.unregister(event, callback)


class ProgressLine:
    """A live progress line updated in place while a cell waits.

    Updates come from the sync session's progress listener, which runs in the sync task's
    context; they are published in the context of the cell that started the line, so that
    frontends route them to it (see :class:`CellOutput`).
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.handle: DisplayHandle | None = None
        self._context: contextvars.Context | None = None
        self._last = 0.0
        self._moving = False

    def _bundle(self, progress: Progress | None, done: str | None = None,
                level: str = "success") -> _Bundle:
        if done is not None:
            text = f"{self.label}: {done}"
            if level != "success":  # a wait that ran out or failed is never a green tick
                text = f"⚠ {text}"
                return _Bundle(text, f'<div style="font-size:12px;color:{_COLORS["warning"]}">'
                                     f'{html.escape(text)}</div>')
            return _Bundle(text, f'<div style="font-size:12px;color:#2e7d32">'
                                 f'✓ {html.escape(text)}</div>')
        if progress is None or progress.phase == "idle":
            text = f"{self.label}: waiting for the server…"
            fraction = 0.0
        else:
            text = f"{self.label}: {progress.describe()}"
            fraction = progress.estimate
        bar = (f'<div style="display:inline-block;width:160px;height:8px;background:#e0e0e0;'
               f'border-radius:4px;margin-right:8px;vertical-align:middle">'
               f'<div style="width:{fraction * 100:.0f}%;height:8px;background:#1976d2;'
               f'border-radius:4px"></div></div>')
        return _Bundle(text, f'<div style="font-size:12px">{bar}{html.escape(text)}</div>')

    def start(self) -> None:
        self._context = contextvars.copy_context()
        self.handle = display(self._bundle(None), display_id=True)

    def update(self, progress: Progress) -> None:
        now = time.monotonic()
        if self.handle is None or (now - self._last < 0.2 and progress.estimate < 1.0):
            return
        if progress.phase == "idle":
            if self._moving:
                return  # between the last batch and finish(): keep showing the last numbers
        else:
            self._moving = True
        self._last = now
        handle, bundle = self.handle, self._bundle(progress)
        _run_in(self._context, lambda: handle.update(bundle))  # type: ignore[no-untyped-call]

    def finish(self, summary: str, *, level: str = "success") -> None:
        """The line's last state: a green tick (``success``) or an amber warning line."""
        if self.handle is not None:
            bundle = self._bundle(None, summary, level)
            self.handle.update(bundle)  # type: ignore[no-untyped-call]
