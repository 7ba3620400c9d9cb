"""DataFrames out of the cache: through Arrow, with real dtypes, in key order.

``to_arrow_table().to_pandas()`` is several times faster than DuckDB's ``.df()``
for wide tables, and mapping nested and decimal columns to ``pd.ArrowDtype``
keeps them typed (no object columns of dicts) and zero-copy.

Rows come in primary-key order. Sync writes a cache table in that order (a
bootstrap stages batches in key order, and new ObjectIds are larger than old
ones), and DuckDB returns a plain scan in table order — so most reads need no
sort. :func:`key_ordered_frame` checks the order and sorts in Arrow only when it
must, and builds the DataFrame one column at a time: an ``ORDER BY`` would hold a
sorted copy of every column, and a whole-table Arrow result would sit beside the
finished DataFrame (benchmark B5, a million Orders, peak RSS: ``ORDER BY`` 710 MB,
one unordered scan 470 MB, a column at a time 434 MB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import ddl

if TYPE_CHECKING:
    from .store import Cache

__all__ = ["key_ordered_frame", "to_pandas"]


def _dtype(arrow_type: pa.DataType) -> Any:
    if (pa.types.is_struct(arrow_type) or pa.types.is_list(arrow_type)
            or pa.types.is_large_list(arrow_type) or pa.types.is_decimal(arrow_type)
            or pa.types.is_map(arrow_type)):
        return pd.ArrowDtype(arrow_type)
    return None


def to_pandas(table: pa.Table, index: str | None = None) -> pd.DataFrame:
    """An Arrow table as a DataFrame; ``index`` names a column to use as the index."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_dtype)
    if index is not None and index in frame.columns:
        frame = frame.set_index(index)
    return frame


def key_ordered_frame(cache: Cache, object_type: str, key: str, where: str = "TRUE",
                      params: Sequence[Any] | None = None, index: bool = False) -> pd.DataFrame:
    """Rows of ``object_type`` matching the DuckDB condition ``where``, ordered by ``key``.

    A whole table is read one column at a time (the memory-bound case: millions of
    rows); a filtered read is one query, so the condition is evaluated once.
    """
    table = cache.table(object_type)
    if where != "TRUE" or not _scans_keep_table_order(cache):
        rows = cache.arrow(f"SELECT * FROM {table} WHERE {where}", params)
        return to_pandas(_in_key_order(rows, key), key if index else None)
    # Every query here runs in this one synchronous call on the cache's connection, which
    # sync writes to only from this same thread, and DuckDB returns each scan in table
    # order: every column sees the same rows in the same order.
    keys = cache.arrow(f"SELECT {ddl.quote(key)} FROM {table}").column(0)
    order = None if _strictly_ascending(keys) else pc.sort_indices(keys)
    series = {}
    for name in cache.arrow(f"SELECT * FROM {table} WHERE FALSE").column_names:
        values = keys if name == key else cache.arrow(
            f"SELECT {ddl.quote(name)} FROM {table}").column(0)
        column = pa.table({name: values if order is None else values.take(order)})
        series[name] = to_pandas(column)[name]
        del values, column
    frame = pd.DataFrame(series, copy=False)
    return frame.set_index(key) if index else frame


def _scans_keep_table_order(cache: Cache) -> bool:
    """DuckDB's default, which ``SET preserve_insertion_order = false`` turns off."""
    setting = cache.arrow("SELECT current_setting('preserve_insertion_order')").column(0)
    return bool(setting[0].as_py())


def _in_key_order(table: pa.Table, key: str) -> pa.Table:
    """``table`` sorted by its ``key`` column unless it already is, one column at a time."""
    keys = table.column(key)
    if _strictly_ascending(keys):
        return table
    order = pc.sort_indices(keys)
    schema, columns = table.schema, []
    for name in schema.names:
        columns.append(table.column(name).take(order))
        table = table.drop_columns([name])
    return pa.Table.from_arrays(columns, schema=schema)


def _strictly_ascending(keys: pa.ChunkedArray) -> bool:
    """Keys are VARCHAR or BIGINT in the cache, whose byte and numeric orders Arrow shares."""
    return len(keys) < 2 or not pc.any(pc.greater_equal(keys[:-1], keys[1:])).as_py()
