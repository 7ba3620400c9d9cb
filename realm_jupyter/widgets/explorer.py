"""``DataExplorer``: a virtualised table over one object type of the cache (TypeScript side:
``js/src/explorer.ts``).

The browser keeps only the rows on screen; it asks for pages with ``{"kind": "page",
"request_id", "offset", "limit"}`` and gets ``{"kind": "page", "request_id", "offset", "rows",
"revision"}`` plus one buffer, an Arrow IPC stream of the rows (``{..., "rows": 0, "error"}`` and
no buffer when the page cannot be read). A copy of a selection larger than the loaded pages asks
``{"kind": "copy", "request_id", "offset", "limit", "columns", "header"}`` and gets
``{"kind": "copy", "request_id", "text"}`` (TSV) or ``{..., "error"}``. Pages are read at once on
the calling thread; nothing here changes sync state.

``revision`` is the version of "what the rows are": it is bumped when the source reports that the
type changed, and when the applied filter or the sort changes. The browser drops its page cache on
every bump and ignores replies tagged with an older revision.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import anywidget
import pandas as pd
import traitlets

from ._base import LoopHandoff, bundle, default_loop, error_text, guarded
from .explorer_arrow import for_browser, ipc_stream
from .explorer_requests import MAX_PAGE_ROWS, answer
from .protocols import ExplorerSource

__all__ = ["DataExplorer", "for_browser", "ipc_stream"]

logger = logging.getLogger(__name__)

MAX_FILTER_CHARS = 10_000


def _filter_error(error: BaseException) -> dict[str, Any]:
    position = getattr(error, "position", None)
    if not isinstance(position, int):
        position = None
    return {"message": error_text(error), "position": position}


# ---------------------------------------------------------------------- the widget


class DataExplorer(anywidget.AnyWidget):
    """Scroll, sort and filter (with RQL) the cached objects of one type; follows sync live.

    ``source`` is anything with the :class:`~realm_jupyter.widgets.protocols.ExplorerSource`
    methods. A bad initial ``filter`` raises the source's ``ValueError`` (with ``.position``);
    later bad filters (typed in the browser or set on ``.filter``) set ``filter_error`` and keep
    the rows of the last good filter. ``loop`` is the kernel loop, accepted like the other
    widgets; the explorer only reads, so it has nothing to hand over to it yet.
    """

    _esm = bundle("explorer.js")

    object_type = traitlets.Unicode(help="The object type (cache table) shown.").tag(sync=True)
    columns = traitlets.List(
        traitlets.Dict(), help="Columns of the type: [{name, type}], type a DuckDB type name."
    ).tag(sync=True)
    total_rows = traitlets.Int(0, help="Rows matching the applied filter; the scrollbar spans them all.").tag(
        sync=True
    )
    all_rows = traitlets.Int(
        0, help="Rows of the type without the filter (\"6 of 2,654 rows\")."
    ).tag(sync=True)
    sort = traitlets.List(
        traitlets.Dict(),
        help="Sort keys, most significant first: [{column, ascending}]; [] = primary key order.",
    ).tag(sync=True)
    filter = traitlets.Unicode(
        "", help="RQL filter over the cached objects ('' = all), e.g. status == 'open'."
    ).tag(sync=True)
    filter_error = traitlets.Dict(
        help="Why the last filter was refused: {message, position} (0-based offset or None); "
        "{} when the shown rows match filter."
    ).tag(sync=True)
    page_size = traitlets.Int(200, help="Rows per page the browser requests.").tag(sync=True)
    revision = traitlets.Int(
        0,
        help="Bumped when the rows may have changed (sync, filter, sort); the browser then "
        "drops its page cache and refetches what is visible.",
    ).tag(sync=True)

    _remove_listener: Callable[[], None] | None = None

    def __init__(
        self,
        source: ExplorerSource,
        object_type: str,
        *,
        filter: str = "",
        loop: asyncio.AbstractEventLoop | None = None,
        page_size: int = 200,
        **kwargs: Any,
    ) -> None:
        self._ready = False
        self._source = source
        self._handoff = LoopHandoff(default_loop(loop))
        self._revision_lock = threading.Lock()
        columns = self._read_columns(object_type)
        total = source.count(object_type, filter)  # a bad initial filter raises
        self._active_filter = filter
        super().__init__(
            object_type=object_type,
            columns=columns,
            total_rows=total,
            all_rows=source.count(object_type, "") if filter.strip() else total,
            filter=filter,
            page_size=page_size,
            **kwargs,
        )
        self._remove_listener = source.add_change_listener(self._on_source_change)
        self.on_msg(self._on_msg)
        self._ready = True

    # ------------------------------------------------------------------ validation

    @traitlets.validate("object_type")
    def _valid_object_type(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if not value:
            raise traitlets.TraitError("object_type cannot be empty")
        if self._ready:  # switching types: refuse one the source does not know
            try:
                self._source.columns(value)
            except ValueError as exc:
                raise traitlets.TraitError(error_text(exc)) from exc
        return value

    @traitlets.validate("columns")
    def _valid_columns(self, proposal: dict[str, Any]) -> list[dict[str, str]]:
        return [{"name": str(c["name"]), "type": str(c["type"])} for c in proposal["value"]]

    @traitlets.validate("sort")
    def _valid_sort(self, proposal: dict[str, Any]) -> list[dict[str, Any]]:
        names = {column["name"] for column in self.columns}
        keys: list[dict[str, Any]] = []
        for key in proposal["value"]:
            column = key.get("column")
            if column not in names:
                raise traitlets.TraitError(f"cannot sort by unknown column {column!r}")
            if any(k["column"] == column for k in keys):
                raise traitlets.TraitError(f"column {column!r} appears twice in sort")
            keys.append({"column": column, "ascending": bool(key.get("ascending", True))})
        return keys

    @traitlets.validate("filter")
    def _valid_filter(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if len(value) > MAX_FILTER_CHARS:
            raise traitlets.TraitError(f"filter longer than {MAX_FILTER_CHARS:,} characters")
        return value

    @traitlets.validate("page_size")
    def _valid_page_size(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if not 1 <= value <= MAX_PAGE_ROWS:
            raise traitlets.TraitError(f"page_size must be 1..{MAX_PAGE_ROWS:,}, not {value}")
        return value

    # ------------------------------------------------------------------ trait changes

    @traitlets.observe("filter")
    def _on_filter(self, change: dict[str, Any]) -> None:
        if self._ready:
            self._apply_filter(change["new"])

    @traitlets.observe("sort")
    def _on_sort(self, _change: dict[str, Any]) -> None:
        if self._ready:
            self._bump()

    @traitlets.observe("object_type")
    def _on_object_type(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        object_type = change["new"]
        columns = self._read_columns(object_type)
        total = self._source.count(object_type, "")
        with self.hold_sync():
            self._active_filter = ""
            self.filter = ""  # equal to the applied filter now: clears filter_error, no recount
            self.columns = columns
            self.sort = []
            self.total_rows = self.all_rows = total
            self._bump()

    def _apply_filter(self, text: str) -> None:
        if text == self._active_filter:
            self.filter_error = {}
            return
        try:
            total = self._source.count(self.object_type, text)
        except Exception as exc:
            if not isinstance(exc, ValueError):
                logger.warning("count of %s failed", self.object_type, exc_info=True)
            self.filter_error = _filter_error(exc)
            return
        with self.hold_sync():
            self._active_filter = text
            self.filter_error = {}
            self.total_rows = total
            self.all_rows = self._source.count(self.object_type, "") if text.strip() else total
            self._bump()

    def _bump(self) -> None:
        with self._revision_lock:
            self.revision += 1

    # ------------------------------------------------------------------ source → traits

    def _read_columns(self, object_type: str) -> list[dict[str, str]]:
        return [{"name": name, "type": kind} for name, kind in self._source.columns(object_type)]

    def refresh(self) -> None:
        """Re-read columns and row count and make the browser refetch (the change listener
        does this whenever sync changed the type)."""
        columns = self._read_columns(self.object_type)
        with self.hold_sync():
            if columns != self.columns:
                self.columns = columns
                names = {column["name"] for column in columns}
                kept = [key for key in self.sort if key["column"] in names]
                if kept != self.sort:
                    self.sort = kept
            try:
                self.total_rows = self._source.count(self.object_type, self._active_filter)
            except ValueError as exc:  # e.g. the schema no longer has a filtered field
                self.filter_error = _filter_error(exc)
            self.all_rows = (self._source.count(self.object_type, "")
                             if self._active_filter.strip() else self.total_rows)
            self._bump()

    def _on_source_change(self, object_types: set[str]) -> None:
        """Change listener: runs on the kernel loop thread."""
        if self.object_type in object_types:
            guarded("DataExplorer refresh", self.refresh)

    # ------------------------------------------------------------------ pages

    def _on_msg(self, _widget: object, content: object, _buffers: list[bytes]) -> None:
        """A custom message from the browser (possibly on a subshell thread)."""
        if isinstance(content, dict):
            answer(self, content, self.send)

    # The view, as the answers read it (explorer_requests.ExplorerView).
    @property
    def source(self) -> ExplorerSource:
        return self._source

    @property
    def applied_filter(self) -> str:
        """The filter the rows match: ``filter`` unless that one was refused."""
        return self._active_filter

    @property
    def sort_keys(self) -> list[tuple[str, bool]]:
        return [(key["column"], key["ascending"]) for key in self.sort]

    @property
    def df(self) -> pd.DataFrame:
        """The rows shown — applied filter, sort — as a DataFrame (all of them, not a page)."""
        table = self._source.page(self.object_type, self._active_filter, self.sort_keys, 0,
                                  max(1, self._source.count(self.object_type, self._active_filter)))
        frame: pd.DataFrame = table.to_pandas()
        return frame

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop following the source and close the widget."""
        remove, self._remove_listener = self._remove_listener, None
        if remove is not None:
            remove()
        super().close()

    def __repr__(self) -> str:
        parts = [self.object_type, f"{self.total_rows:,} rows"]
        if self.filter:
            parts.append(f"filter {self.filter!r}")
        if self.sort:
            keys = (f"{k['column']} {'asc' if k['ascending'] else 'desc'}" for k in self.sort)
            parts.append(f"sorted by {', '.join(keys)}")
        if self.filter_error:
            parts.append(f"filter error: {self.filter_error['message']}")
        return f"DataExplorer({', '.join(parts)})"
