"""Column summaries for the data explorer, computed in DuckDB over the whole filtered table.

As quak and Mosaic do, only aggregates leave DuckDB: for a number or a date column a
histogram (equal-width bins between its minimum and maximum), for text and booleans the
most frequent values with their counts, and for every column the count of nulls and (but
for nested values) of distinct values — exact up to 200,000 rows, a HyperLogLog estimate
above (``distinct_approx``). Never a sample of rows: the bars add up to the rows the
explorer shows.

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
    if kind == "date":  # epoch_ms takes DATE, TIMESTAMP and TIMESTAMPTZ as they are (no casts)
        return f"epoch_ms({quote(column)})::DOUBLE"
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


EXACT_DISTINCT_ROWS = 200_000  # above this, distinct counts are HyperLogLog estimates
TOP_BY_HISTOGRAM = 2_000       # columns with at most this many values are counted in one pass


def _bins(low: float, high: float, exact: bool) -> tuple[int, float]:
    if exact:  # integer-wide bins: the filter of a bar keeps exactly the rows it counts
        width = float(max(1, math.ceil((high - low + 1) / BINS)))
        return max(1, math.ceil((high - low + 1) / width)), width
    if high > low:
        return BINS, (high - low) / BINS
    return 1, 1.0


def _histogram(column: str, kind: str, exact: bool, low: float | None, high: float | None,
               counts: dict[int, int]) -> list[dict[str, Any]]:
    if low is None or high is None:
        return []
    bins, width = _bins(low, high, exact)
    literal = _epoch_literal if kind == "date" else _number_literal
    out = []
    for index in range(bins):
        start = low + index * width
        last = index == bins - 1 and not exact
        end = high if last else low + (index + 1) * width
        out.append({
            "low": _iso(start) if kind == "date" else start,
            "high": _iso(end) if kind == "date" else end,
            "count": int(counts.get(index, 0)),
            "filter": f"{column} >= {literal(start)} AND {column} {'<=' if last else '<'} "
                      f"{literal(end)}"})
    return out


def _value_literal(value: str, duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper == "BOOLEAN":
        return value
    if upper == "UUID":
        return f"uuid({value})"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _top_values(column: str, duckdb_type: str, counts: Sequence[tuple[str, int]]
                ) -> list[dict[str, Any]]:
    ranked = sorted(counts, key=lambda item: (-item[1], item[0]))[:TOP_VALUES]
    return [{"value": value, "count": int(count),
             "filter": f"{column} == {_value_literal(value, duckdb_type)}"}
            for value, count in ranked]


def column_summaries(cursor: duckdb.DuckDBPyConnection, object_type: str,
                     columns: Sequence[tuple[str, str]], where: str,
                     params: Sequence[Any]) -> list[dict[str, Any]]:
    """One summary per ``(name, DuckDB type)`` column over the rows matching ``where``.

    Three scans of the table whatever the number of columns: null and distinct counts
    and each axis's range; every histogram and the values of small columns (DuckDB's
    ``histogram`` aggregate); then the top values of the larger non-key text columns,
    one ``GROUP BY`` each. Each bin and top value carries ``filter``: the RQL that keeps
    its rows (what a click on it adds to the explorer's filter).
    """
    table = quote(object_type)
    kinds = [(name, duckdb_type, _kind(duckdb_type)) for name, duckdb_type in columns]
    total_row = cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", list(params)).fetchone()
    total = int(total_row[0]) if total_row else 0
    distinct = "count(DISTINCT {0})" if total <= EXACT_DISTINCT_ROWS else "approx_count_distinct({0})"
    first: list[str] = []
    for name, _type, kind in kinds:
        column = quote(name)
        # nested values get no distinct count: hashing whole structs and lists costs the most
        first += [f"count(*) - count({column})",  # nulls: count() reads only the validity mask
                  "NULL" if kind == "other" else distinct.format(column)]
        if kind in ("number", "date"):
            value = _as_number(name, kind)
            first += [f"min({value}) FILTER (WHERE isfinite({value}))",
                      f"max({value}) FILTER (WHERE isfinite({value}))"]
    facts = list(cursor.execute(f"SELECT {', '.join(first)} FROM {table} WHERE {where}",
                                list(params)).fetchone() or [])
    summaries: list[dict[str, Any]] = []
    ranges: dict[str, tuple[Any, Any]] = {}
    for name, _type, kind in kinds:
        nulls, count = facts.pop(0), facts.pop(0)
        summary: dict[str, Any] = {"column": name, "nulls": int(nulls),
                                   "distinct": None if count is None else int(count),
                                   "distinct_approx": total > EXACT_DISTINCT_ROWS}
        if kind in ("number", "date"):
            ranges[name] = (facts.pop(0), facts.pop(0))
            summary["kind"] = "histogram"
        else:
            summary["kind"] = "top" if kind == "value" else "counts"
        summaries.append(summary)

    second: list[str] = []
    second_params: list[Any] = []
    plan: list[tuple[dict[str, Any], str]] = []
    for summary, (name, duckdb_type, kind) in zip(summaries, kinds, strict=True):
        if kind in ("number", "date") and ranges[name][0] is not None:
            low, high = ranges[name]
            exact = kind == "date" or duckdb_type.upper() in _INTEGERS
            bins, width = _bins(low, high, exact)
            value = _as_number(name, kind)
            second.append(f"histogram(least(floor(({value} - ?) / ?)::BIGINT, {bins - 1})) "
                          f"FILTER (WHERE isfinite({value}))")
            second_params += [low, width]
            plan.append((summary, "bins"))
        elif summary["kind"] == "top" and summary["distinct"] <= TOP_BY_HISTOGRAM:
            second.append(f"histogram({quote(name)}::VARCHAR)")
            plan.append((summary, "values"))
        elif kind in ("number", "date"):
            summary["bins"] = []
    if second:
        maps: Sequence[Any] = cursor.execute(f"SELECT {', '.join(second)} FROM {table} WHERE {where}",
                              [*second_params, *params]).fetchone() or []
        for (summary, what), counted in zip(plan, maps, strict=True):
            counted = dict(counted or {})
            name = summary["column"]
            duckdb_type = next(t for n, t, _ in kinds if n == name)
            if what == "bins":
                low, high = ranges[name]
                kind = next(k for n, _, k in kinds if n == name)
                exact = kind == "date" or duckdb_type.upper() in _INTEGERS
                summary["bins"] = _histogram(name, kind, exact, low, high, counted)
            else:
                summary["values"] = _top_values(name, duckdb_type, list(counted.items()))
                summary["other"] = total - summary["nulls"] - sum(v["count"] for v in summary["values"])

    for summary, (name, duckdb_type, _) in zip(summaries, kinds, strict=True):
        if summary["kind"] != "top" or "values" in summary:
            continue
        present = total - summary["nulls"]
        if summary["distinct"] >= 0.9 * present:  # a key: no value stands out
            summary["values"], summary["other"] = [], present
            continue
        top = cursor.execute(
            f"SELECT {quote(name)}::VARCHAR AS v, count(*) AS n FROM {table} "
            f"WHERE ({where}) AND {quote(name)} IS NOT NULL GROUP BY ALL "
            f"ORDER BY n DESC, v LIMIT {TOP_VALUES}", list(params)).fetchall()
        summary["values"] = _top_values(name, duckdb_type, top)
        summary["other"] = present - sum(v["count"] for v in summary["values"])
    return summaries
