"""Explorer pages as the browser reads them: Arrow IPC streams, awkward types as text.

apache-arrow (JS) would show some Arrow types wrongly or not at all — decimals as their
unscaled integer, times, intervals, durations, blobs, dictionaries — so they go as the text
DuckDB would print.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["for_browser", "ipc_stream"]


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
