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
import pyarrow as pa
import pyarrow.compute as pc
import traitlets

from ._base import LoopHandoff, bundle, default_loop, error_text, guarded
from .explorer_copy import MAX_COPY_ROWS, selection_tsv
from .protocols import ExplorerSource

__all__ = ["DataExplorer", "for_browser", "ipc_stream"]

logger = logging.getLogger(__name__)

MAX_PAGE_ROWS = 10_000
MAX_FILTER_CHARS = 10_000


# ---------------------------------------------------------------------- Arrow pages


def _interval_text(value: Any) -> str | None:
    if value is None:
        return None
    months, days, nanos = value.months, value.days, value.nanoseconds
    seconds, nanos = divmod(nanos, 1_000_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{months} mon"] if months else []
    parts += [f"{days} day{'' if abs(days) == 1 else 's'}"] if days else []
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if nanos:
        clock += f".{nanos:09d}".rstrip("0")
    if clock != "00:00:00" or not parts:
        parts.append(clock)
    return " ".join(parts)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """The column as strings, for types apache-arrow JS would show wrongly or not at all."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        decoded = pc.cast(column, kind.value_type)
        return _as_text(decoded) if _needs_text(kind.value_type) else decoded
    if pa.types.is_decimal(kind) or pa.types.is_time(kind):
        return pc.cast(column, pa.string())  # JS would show a decimal's unscaled integer
    values = column.to_pylist()  # a page is small: per-value work is fine here
    if pa.types.is_interval(kind):
        return pa.array([_interval_text(v) for v in values], pa.string())
    if pa.types.is_duration(kind):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.array([None if v is None else "\\x" + v.hex() for v in values], pa.string())


def _needs_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_dictionary(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_time(kind)
        or pa.types.is_interval(kind)
        or pa.types.is_duration(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
    )


def for_browser(table: pa.Table) -> pa.Table:
    """``table`` with top-level decimal, time, interval, duration, binary and dictionary columns
    turned into text the browser shows as DuckDB would (other types pass through untouched)."""
    for index, field in enumerate(table.schema):
        if _needs_text(field.type):
            table = table.set_column(index, field.name, _as_text(table.column(index)))
    return table


def ipc_stream(table: pa.Table) -> memoryview:
    """``table`` as one Arrow IPC stream (what apache-arrow's ``tableFromIPC`` reads)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())


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
            self.total_rows = total
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
            self._bump()

    def _on_source_change(self, object_types: set[str]) -> None:
        """Change listener: runs on the kernel loop thread."""
        if self.object_type in object_types:
            guarded("DataExplorer refresh", self.refresh)

    # ------------------------------------------------------------------ pages

    def _on_msg(self, _widget: object, content: object, _buffers: list[bytes]) -> None:
        """A custom message from the browser (possibly on a subshell thread)."""
        if isinstance(content, dict) and content.get("kind") == "page":
            self._serve_page(content)
        elif isinstance(content, dict) and content.get("kind") == "copy":
            self._serve_copy(content)

    def _serve_copy(self, content: dict[str, Any]) -> None:
        """The text of a selection the browser has not loaded (see ``explorer_copy``)."""
        reply: dict[str, Any] = {"kind": "copy", "request_id": content.get("request_id")}
        offset, limit, columns = content.get("offset"), content.get("limit"), content.get("columns")
        known = {column["name"] for column in self.columns}
        if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or limit < 1 \
                or not isinstance(columns, list) or not columns or not set(columns) <= known:
            self.send({**reply, "error": "a copy needs offset >= 0, limit >= 1 and known columns"})
            return
        if limit > MAX_COPY_ROWS:
            self.send({**reply, "error": f"{limit:,} rows is more than {MAX_COPY_ROWS:,}; use "
                                         f"explorer.df or %realm_sql for a selection this large"})
            return
        sort = [(key["column"], key["ascending"]) for key in self.sort]
        try:
            table = self._source.page(self.object_type, self._active_filter, sort, offset, limit)
            text = selection_tsv(table, columns, header=bool(content.get("header")))
        except Exception as exc:
            logger.warning("copy of %s failed", self.object_type, exc_info=True)
            self.send({**reply, "error": error_text(exc)})
            return
        self.send({**reply, "text": text})

    def _serve_page(self, content: dict[str, Any]) -> None:
        request_id = content.get("request_id")
        offset, limit = content.get("offset"), content.get("limit")
        # Read the revision before the rows: a reply is then never newer than its tag.
        reply: dict[str, Any] = {
            "kind": "page",
            "request_id": request_id,
            "offset": offset,
            "rows": 0,
            "revision": self.revision,
        }
        if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or limit < 1:
            self.send({**reply, "error": "offset must be >= 0 and limit >= 1"})
            return
        sort = [(key["column"], key["ascending"]) for key in self.sort]
        try:
            table = self._source.page(
                self.object_type, self._active_filter, sort, offset, min(limit, MAX_PAGE_ROWS)
            )
            table = for_browser(table)
        except Exception as exc:
            logger.warning("page %s of %s failed", offset, self.object_type, exc_info=True)
            self.send({**reply, "error": error_text(exc)})
            return
        self.send({**reply, "rows": table.num_rows}, [ipc_stream(table)])

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
