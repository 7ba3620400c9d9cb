"""Column summaries for the data explorer, computed in DuckDB over the whole filtered table.

As quak and Mosaic do, only aggregates leave DuckDB: for a number or a date column a
histogram (equal-width bins between its minimum and maximum), for text, booleans and
everything else the most frequent values with their counts, and for every column the
count of nulls and of distinct values. Never a sample of rows: the bars add up to the
rows the explorer shows.

A summary is plain JSON (it goes to the browser as a synced trait)::

    {"column": "amount", "kind": "histogram", "nulls": 0, "distinct": 981,
     "bins": [{"low": 0.0, "high": 10.0, "count": 12}, ...]}
    {"column": "status", "kind": "top", "nulls": 3, "distinct": 4,
     "values": [{"value": "open", "count": 120}, ...], "other": 17}

Dates and timestamps bin on epoch milliseconds; ``low``/``high`` are then ISO-8601 text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import duckdb

from ..cache.ddl import quote

__all__ = ["BINS", "TOP_VALUES", "column_summaries"]

BINS = 20
TOP_VALUES = 6
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL")
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT")
_TEMPORAL = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_MS", "TIMESTAMP_S",
             "TIMESTAMP_NS", "TIMESTAMPTZ")


def _kind(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper in _NUMERIC or upper.startswith("DECIMAL"):
        return "number"
    if upper in _TEMPORAL:
        return "date"
    if upper in ("VARCHAR", "BOOLEAN", "UUID") or upper.startswith("ENUM"):
        return "value"
    return "other"  # nested and binary values: nulls and distinct counts only


def _as_number(column: str, kind: str) -> str:
    if kind == "date":
        return f"epoch_ms({quote(column)}::TIMESTAMP)::DOUBLE"
    return f"{quote(column)}::DOUBLE"


def _iso(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def _epoch_literal(ms: float) -> str:
    """An exact RQL timestamp (``T<seconds>:<nanoseconds>``, both with the sign of ``ms``)."""
    whole = math.floor(ms) if ms >= 0 else math.ceil(ms)
    seconds, rest = divmod(abs(whole), 1000)
    sign = "-" if whole < 0 else ""
    return f"T{sign}{seconds}:{sign}{rest * 1_000_000}"


def _number_literal(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _histogram(cursor: duckdb.DuckDBPyConnection, table: str, column: str, kind: str,
               integral: bool, where: str, params: Sequence[Any]) -> dict[str, Any]:
    value = _as_number(column, kind)
    row = cursor.execute(
        f"SELECT min({value}) FILTER (WHERE isfinite({value})), "
        f"max({value}) FILTER (WHERE isfinite({value})), "
        f"count(*) FILTER (WHERE {quote(column)} IS NULL), count(DISTINCT {quote(column)}) "
        f"FROM {table} WHERE {where}", list(params)).fetchone()
    assert row is not None
    low, high, nulls, distinct = row
    summary: dict[str, Any] = {"column": column, "kind": "histogram", "nulls": int(nulls),
                               "distinct": int(distinct), "bins": []}
    if low is None:
        return summary
    exact = kind == "date" or integral
    if exact:  # integer-wide bins: the filter of a bar keeps exactly the rows it counts
        width = float(max(1, math.ceil((high - low + 1) / BINS)))
        bins = max(1, math.ceil((high - low + 1) / width))
    else:
        bins = BINS if high > low else 1
        width = (high - low) / bins if high > low else 1.0
    # NaN and ±Infinity are values, but they have no place on an axis
    counts = dict(cursor.execute(
        f"SELECT least(floor(({value} - ?) / ?)::BIGINT, {bins - 1}) AS bin, count(*) "
        f"FROM {table} WHERE ({where}) AND isfinite({value}) GROUP BY bin",
        [low, width, *params]).fetchall())
    literal = _epoch_literal if kind == "date" else _number_literal
    name = column
    for index in range(bins):
        start = low + index * width
        last = index == bins - 1 and not exact
        end = high if last else low + (index + 1) * width
        upper = "<=" if last else "<"
        summary["bins"].append({
            "low": _iso(start) if kind == "date" else start,
            "high": _iso(end) if kind == "date" else end,
            "count": int(counts.get(index, 0)),
            "filter": f"{name} >= {literal(start)} AND {name} {upper} {literal(end)}"})
    return summary


def _value_literal(value: str, duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper == "BOOLEAN":
        return value
    if upper == "UUID":
        return f"uuid({value})"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _top(cursor: duckdb.DuckDBPyConnection, table: str, column: str, duckdb_type: str,
         kind: str, where: str, params: Sequence[Any]) -> dict[str, Any]:
    row = cursor.execute(
        f"SELECT count(*) FILTER (WHERE {quote(column)} IS NULL), count(DISTINCT {quote(column)}), "
        f"count({quote(column)}) FROM {table} WHERE {where}", list(params)).fetchone()
    assert row is not None
    nulls, distinct, present = (int(v) for v in row)
    summary: dict[str, Any] = {"column": column, "kind": "top" if kind == "value" else "counts",
                               "nulls": nulls, "distinct": distinct}
    if kind != "value":
        return summary
    top = cursor.execute(
        f"SELECT {quote(column)}::VARCHAR AS v, count(*) AS n FROM {table} "
        f"WHERE ({where}) AND {quote(column)} IS NOT NULL GROUP BY {quote(column)} "
        f"ORDER BY n DESC, v LIMIT {TOP_VALUES}", list(params)).fetchall()
    summary["values"] = [{"value": value, "count": int(count),
                          "filter": f"{column} == {_value_literal(value, duckdb_type)}"}
                         for value, count in top]
    summary["other"] = present - sum(int(count) for _, count in top)
    return summary


def column_summaries(cursor: duckdb.DuckDBPyConnection, object_type: str,
                     columns: Sequence[tuple[str, str]], where: str,
                     params: Sequence[Any]) -> list[dict[str, Any]]:
    """One summary per ``(name, DuckDB type)`` column over the rows matching ``where``.

    Each bin and top value carries ``filter``: the RQL that keeps its rows (what a click
    on it adds to the explorer's filter).
    """
    table = quote(object_type)
    out = []
    for name, duckdb_type in columns:
        kind = _kind(duckdb_type)
        if kind in ("number", "date"):
            integral = duckdb_type.upper().rstrip("U") in _INTEGERS
            out.append(_histogram(cursor, table, name, kind, integral, where, params))
        else:
            out.append(_top(cursor, table, name, duckdb_type, kind, where, params))
    return out
