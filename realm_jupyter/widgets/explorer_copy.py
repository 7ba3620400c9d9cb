"""The text of an explorer selection too large for the browser to hold: rows as TSV.

The browser copies a selection of rows it has loaded by itself, as shown. A larger one
(up to ``MAX_COPY_ROWS``) is read here, in the view's filter and sort, and sent back as
tab-separated text: one line per row, tabs and line breaks inside values turned into spaces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MAX_COPY_ROWS", "selection_tsv"]

MAX_COPY_ROWS = 100_000


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = str(value)
    return " ".join(text.replace("\t", " ").splitlines())


def _column_text(column: pa.ChunkedArray) -> list[str]:
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        # ISO 8601, as the grid shows it
        return [_cell_text(None if v is None else v.isoformat()) for v in column.to_pylist()]
    if pa.types.is_struct(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind) \
            or pa.types.is_map(kind):
        return [_cell_text(v) for v in column.to_pylist()]
    try:
        as_text = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [_cell_text(v) for v in column.to_pylist()]
    return [_cell_text(v) for v in as_text.to_pylist()]


def selection_tsv(table: pa.Table, columns: Sequence[str], *, header: bool) -> str:
    """``columns`` of ``table`` as TSV; with ``header``, the column names first."""
    texts = [_column_text(table.column(name)) for name in columns]
    lines = ["\t".join(_cell_text(name) for name in columns)] if header else []
    lines.extend("\t".join(row) for row in zip(*texts, strict=True))
    return "\n".join(lines)
