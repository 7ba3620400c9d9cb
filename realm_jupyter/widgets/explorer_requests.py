"""The data explorer's answers to its browser: pages, copies, column summaries, exports.

The browser asks with a custom message (``kind`` + ``request_id``) and gets one reply with
the same ``request_id``; docs/widgets.md lists them. Each answer is read at once on the
thread the message arrived on (a subshell thread in JupyterLab), through the source's own
cursor; nothing here changes sync state. A request that cannot be answered gets a reply
with ``error`` (one line), never an exception in the comm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from ._base import error_text
from .explorer_arrow import for_browser, ipc_stream
from .explorer_copy import MAX_COPY_ROWS, selection_tsv
from .protocols import ExplorerSource

__all__ = ["EXPORT_FORMATS", "MAX_EXPORT_BYTES", "MAX_PAGE_ROWS", "ExplorerView", "answer"]

logger = logging.getLogger(__name__)

MAX_PAGE_ROWS = 10_000
MAX_EXPORT_BYTES = 512 * 1024 * 1024
EXPORT_FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
Send = Callable[[dict[str, Any], list[Any] | None], None]


class ExplorerView(Protocol):
    """What the answers read of the widget: the view the browser shows."""

    object_type: str
    columns: list[dict[str, str]]
    revision: int

    @property
    def source(self) -> ExplorerSource: ...

    @property
    def applied_filter(self) -> str: ...

    @property
    def sort_keys(self) -> list[tuple[str, bool]]: ...


def answer(view: ExplorerView, content: dict[str, Any], send: Send) -> None:
    """Answer one browser request (unknown kinds are ignored: a newer frontend may ask more)."""
    handler = _HANDLERS.get(str(content.get("kind")))
    if handler is None:
        return
    # Read the revision before the data: a reply is then never newer than its tag.
    reply: dict[str, Any] = {"kind": content["kind"], "request_id": content.get("request_id"),
                             "revision": view.revision}
    try:
        handler(view, content, reply, send)
    except _Refused as refused:
        send({**reply, "error": str(refused)}, None)
    except Exception as exc:
        logger.warning("%s request for %s failed", content["kind"], view.object_type, exc_info=True)
        send({**reply, "error": error_text(exc)}, None)


class _Refused(Exception):
    """A request the explorer will not answer; its message is the reply's ``error``."""


def _window(content: dict[str, Any]) -> tuple[int, int]:
    offset, limit = content.get("offset"), content.get("limit")
    if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or limit < 1:
        raise _Refused("offset must be >= 0 and limit >= 1")
    return offset, limit


def _page(view: ExplorerView, content: dict[str, Any], reply: dict[str, Any], send: Send) -> None:
    reply.update(offset=content.get("offset"), rows=0)
    offset, limit = _window(content)
    table = view.source.page(view.object_type, view.applied_filter, view.sort_keys, offset,
                             min(limit, MAX_PAGE_ROWS))
    table = for_browser(table)
    send({**reply, "rows": table.num_rows}, [ipc_stream(table)])


def _copy(view: ExplorerView, content: dict[str, Any], reply: dict[str, Any], send: Send) -> None:
    offset, limit = _window(content)
    columns = content.get("columns")
    known = {column["name"] for column in view.columns}
    if not isinstance(columns, list) or not columns or not set(columns) <= known:
        raise _Refused("a copy needs known columns")
    if limit > MAX_COPY_ROWS:
        raise _Refused(f"{limit:,} rows is more than {MAX_COPY_ROWS:,}; use explorer.df or "
                       f"%realm_sql for a selection this large")
    table = view.source.page(view.object_type, view.applied_filter, view.sort_keys, offset, limit)
    send({**reply, "text": selection_tsv(table, columns, header=bool(content.get("header")))}, None)


def _summaries(view: ExplorerView, content: dict[str, Any], reply: dict[str, Any],
               send: Send) -> None:
    asked = content.get("revision")
    if isinstance(asked, int) and asked != reply["revision"]:
        raise _Refused("stale: the rows changed since")  # a scan nobody would see
    send({**reply, "summaries": view.source.summaries(view.object_type, view.applied_filter)},
         None)


def _export(view: ExplorerView, content: dict[str, Any], reply: dict[str, Any], send: Send) -> None:
    fmt = content.get("format")
    if fmt not in EXPORT_FORMATS:
        raise _Refused(f"export format must be one of {', '.join(EXPORT_FORMATS)}")
    data = view.source.export(view.object_type, view.applied_filter, view.sort_keys, str(fmt))
    if len(data) > MAX_EXPORT_BYTES:
        raise _Refused(f"the export is {len(data):,} bytes, more than a browser download should "
                       f"hold; use explorer.df.to_{fmt}(…) in the kernel")
    send({**reply, "filename": f"{view.object_type}.{fmt}", "mime": EXPORT_FORMATS[str(fmt)],
          "bytes": len(data)}, [data])


_HANDLERS: dict[str, Callable[[ExplorerView, dict[str, Any], dict[str, Any], Send], None]] = {
    "page": _page, "copy": _copy, "summaries": _summaries, "export": _export}
