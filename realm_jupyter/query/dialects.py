"""SQL dialects: how each engine stores a property and spells an operation.

The compiler knows Realm's semantics; a dialect knows its engine. Three engines:

* **SQLite** (the server's default store): dates as integer milliseconds,
  booleans as 0/1, decimals as exact text (compared as REAL, which is exact for
  stored values of up to 15 significant digits), lists and embedded objects as
  JSON text (dates in it as fixed-width ISO text, whole milliseconds).
* **PostgreSQL** (the server's production store): native types, lists and
  embedded objects as JSONB, strings ordered with ``COLLATE "C"`` (code points).
* **DuckDB** (the client cache): native types (decimals as DECIMAL(38, 9)),
  STRUCT for embedded objects and LIST for lists — the only dialect that can
  follow dotted paths and apply ``SORT``/``DISTINCT``/``LIMIT``.

Where a store is coarser than a literal, ``Dialect.fit`` moves the literal to
the store's grid so that comparisons stay exact.

A *site* is an SQL expression whose value is one scalar of a known property type,
stored either as a table ``column`` or as an element of a JSON array (``json``).
"""


from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any, ClassVar

from ..schema import Property, PropertyType
from .ast import CompareOp
from .dialect_base import (
    _ABOVE_ALL,
    _BELOW_ALL,
    _DUCKDB_DECIMAL_MAX,
    _DUCKDB_QUANTUM,
    _EPOCH,
    _MAX_MS,
    _WIDE,
    Dialect,
    Fitted,
    Site,
    _as_decimal,
    _epoch_micros,
    _epoch_ms,
    _fit_grid,
    _json_date,
    _json_exact,
    _json_key,
    _numeric_cast,
    _sql_string,
    _text,
)
from .values import FOLD_FROM, FOLD_TO

__all__ = ["DIALECTS", "FOLD_PARAMS", "Dialect", "DuckDBDialect", "PostgreSQLDialect",
           "SQLiteDialect", "Site", "get_dialect"]


_NON_ASCII_FOLDS = [(u, v) for u, v in zip(FOLD_FROM, FOLD_TO, strict=True) if ord(u) > 127]


class SQLiteDialect(Dialect):
    name = "sqlite"

    def bind(self, value: Any, site: Site) -> tuple[Any, str]:
        kind = site.prop.type
        if kind is PropertyType.DATE:
            if site.storage == "json":
                return _json_date(value), ""
            return _epoch_ms(value), ""
        if kind is PropertyType.BOOL:
            return int(value), ""
        if kind.is_numeric:
            if kind is PropertyType.DECIMAL:
                return float(value), ""
            return (value if isinstance(value, int) and not isinstance(value, bool)
                    else float(value)), ""
        return str(value), ""

    def fit(self, op: CompareOp, value: Any, site: Site) -> Fitted:
        if site.prop.type is PropertyType.DATE and site.storage == "json":
            micros = _epoch_micros(value)  # JSON text holds whole milliseconds
            floor, ceiling = micros // 1000, -(-micros // 1000)
            if ceiling > _MAX_MS:  # after 9999-12-31T23:59:59.999, the last storable instant
                return _ABOVE_ALL[op]
            return _fit_grid(op, floor, ceiling,
                             lambda ms: _EPOCH + dt.timedelta(milliseconds=ms))
        return op, value

    def value_sql(self, site: Site) -> str:
        if site.prop.type is PropertyType.DECIMAL:
            return f"CAST({site.sql} AS REAL)"
        return site.sql

    def fold(self, sql: str, bound: list[Any]) -> str:
        """``lower()`` folds ASCII; each other letter of the fold table is one ``replace()``.

        SQL only — no user-defined function — because the server reads SQLite through a
        driver that cannot register Python functions. The letters are the fold table's
        constants, never user input.
        """
        expression = f"lower({sql})"
        for upper, lower in _NON_ASCII_FOLDS:
            expression = f"replace({expression}, '{upper}', '{lower}')"
        return expression

    def begins_with(self, subject: str, pattern: str) -> str:
        return f"substr({subject}, 1, length({pattern})) = {pattern}"

    def ends_with(self, subject: str, pattern: str, pattern_length: str) -> str:
        return f"substr({subject}, -{pattern_length}) = {pattern}"

    def contains(self, subject: str, pattern: str) -> str:
        return f"instr({subject}, {pattern}) > 0"

    def like(self, subject: str, pattern: str) -> str:
        return f"{subject} GLOB {pattern}"

    def value_array(self, values: list[Any]) -> Any | None:
        # JSON keeps each value's SQLite type (integer, real, text); json_each gives them
        # back without affinity, exactly as bound parameters compare.
        if not all(_json_exact(v) for v in values):
            return None
        return json.dumps(values, ensure_ascii=False, allow_nan=False)

    def unnest(self, param: str, cast: str) -> str:
        return f"SELECT value FROM json_each({param})"

    def like_pattern(self, pattern: str) -> str:
        return pattern.replace("[", "[[]")

    def any_element(self, list_sql: str, element: Property, alias: str, condition: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each({list_sql}) AS {alias} WHERE {condition})"

    def element_site(self, alias: str, element: Property, field: Property | None) -> Site:
        if field is not None:
            path = _sql_string("$." + _json_key(field.name))
            return Site(f"json_extract({alias}.value, {path})", field, "json")
        return Site(f"{alias}.value", element, "json")

    def list_length(self, list_sql: str) -> str:
        return f"coalesce(json_array_length({list_sql}), 0)"

    def list_aggregate(self, op: str, list_sql: str, element: Property, alias: str,
                       field: Property | None) -> str:
        site = self.element_site(alias, element, field)
        value = self.value_sql(site)
        function = {"@sum": f"coalesce(sum({value}), 0)", "@avg": f"avg({value})",
                    "@min": f"min({value})", "@max": f"max({value})"}[op]
        return f"(SELECT {function} FROM json_each({list_sql}) AS {alias})"

    def true(self) -> str:
        return "1"

    def false(self) -> str:
        return "0"


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    default_paramstyle = "format"

    _CASTS: ClassVar[dict[PropertyType, str]] = {
        PropertyType.INT: "bigint", PropertyType.LONG: "bigint",
        PropertyType.DOUBLE: "double precision", PropertyType.DECIMAL: "numeric",
        PropertyType.BOOL: "boolean", PropertyType.DATE: "timestamptz",
    }

    def bind(self, value: Any, site: Site) -> tuple[Any, str]:
        kind = site.prop.type
        if kind.is_numeric:
            return _numeric_cast(value, site, "::bigint", "::double precision", "::numeric")
        if kind is PropertyType.DATE:
            return value, "::timestamptz"
        if kind is PropertyType.BOOL:
            return bool(value), "::boolean"
        return str(value), "::text"

    def value_sql(self, site: Site) -> str:
        if site.storage == "json":
            cast = self._CASTS.get(site.prop.type)
            return f"({site.sql})::{cast}" if cast else site.sql
        return site.sql

    def ordering_sql(self, site: Site) -> str:
        sql = self.value_sql(site)
        if site.prop.type is PropertyType.STRING:
            return f'({sql} COLLATE "C")'
        return sql

    def fold(self, sql: str, bound: list[Any]) -> str:
        return f"translate({sql}, {bound[0]}, {bound[1]})"

    def begins_with(self, subject: str, pattern: str) -> str:
        return f"starts_with({subject}, {pattern})"

    def ends_with(self, subject: str, pattern: str, pattern_length: str) -> str:
        return f"right({subject}, {pattern_length}) = {pattern}"

    def value_array(self, values: list[Any]) -> Any | None:
        # A JSON array of text, cast back element by element: a string parameter binds
        # the same through psycopg and ADBC, and text input is exact for every type.
        texts = [_text(v) for v in values]
        return None if None in texts else json.dumps(texts, ensure_ascii=False)

    def unnest(self, param: str, cast: str) -> str:
        return f"SELECT value{cast} FROM jsonb_array_elements_text(({param})::jsonb)"

    def contains(self, subject: str, pattern: str) -> str:
        return f"strpos({subject}, {pattern}) > 0"

    def any_element(self, list_sql: str, element: Property, alias: str, condition: str) -> str:
        return (f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({list_sql}) AS {alias}(v) "
                f"WHERE {condition})")

    def element_site(self, alias: str, element: Property, field: Property | None) -> Site:
        if field is not None:
            return Site(f"({alias}.v::jsonb ->> {_sql_string(field.name)})", field, "json")
        return Site(f"{alias}.v", element, "json")

    def list_length(self, list_sql: str) -> str:
        return f"coalesce(jsonb_array_length({list_sql}), 0)"

    def string_length(self, sql: str) -> str:
        return f"char_length({sql})"

    def list_aggregate(self, op: str, list_sql: str, element: Property, alias: str,
                       field: Property | None) -> str:
        value = self.value_sql(self.element_site(alias, element, field))
        function = {"@sum": f"coalesce(sum({value}), 0)", "@avg": f"avg({value})",
                    "@min": f"min({value})", "@max": f"max({value})"}[op]
        return f"(SELECT {function} FROM jsonb_array_elements_text({list_sql}) AS {alias}(v))"


class DuckDBDialect(Dialect):
    name = "duckdb"
    supports_local_language = True

    def fit(self, op: CompareOp, value: Any, site: Site) -> Fitted:
        if site.prop.type is not PropertyType.DECIMAL:
            return op, value
        # DECIMAL(38, 9): a finer literal would be rounded by the cast, a larger one fail it.
        exact = _as_decimal(value)
        if exact > _DUCKDB_DECIMAL_MAX:
            return _ABOVE_ALL[op]
        if exact < -_DUCKDB_DECIMAL_MAX:
            return _BELOW_ALL[op]
        floor = exact.quantize(_DUCKDB_QUANTUM, decimal.ROUND_FLOOR, _WIDE)
        ceiling = exact.quantize(_DUCKDB_QUANTUM, decimal.ROUND_CEILING, _WIDE)
        return _fit_grid(op, floor, ceiling, lambda grid: grid)

    def bind(self, value: Any, site: Site) -> tuple[Any, str]:
        kind = site.prop.type
        if kind.is_numeric:
            return _numeric_cast(value, site, "::BIGINT", "::DOUBLE", "::DECIMAL(38, 9)")
        if kind is PropertyType.DATE:
            return value, "::TIMESTAMPTZ"
        if kind is PropertyType.BOOL:
            return bool(value), "::BOOLEAN"
        return str(value), "::VARCHAR"

    def fold(self, sql: str, bound: list[Any]) -> str:
        return f"translate({sql}, {bound[0]}, {bound[1]})"

    def begins_with(self, subject: str, pattern: str) -> str:
        return f"starts_with({subject}, {pattern})"

    def ends_with(self, subject: str, pattern: str, pattern_length: str) -> str:
        return f"ends_with({subject}, {pattern})"

    def contains(self, subject: str, pattern: str) -> str:
        return f"contains({subject}, {pattern})"

    def value_array(self, values: list[Any]) -> Any | None:
        texts = [_text(v, plain_decimal=True) for v in values]
        return None if None in texts else texts

    def unnest(self, param: str, cast: str) -> str:
        target = cast.removeprefix("::") or "VARCHAR"
        return f"SELECT CAST(v AS {target}) FROM unnest(({param})::VARCHAR[]) AS u(v)"

    def any_element(self, list_sql: str, element: Property, alias: str, condition: str) -> str:
        return f"len(list_filter({list_sql}, lambda {alias}: {condition})) > 0"

    def element_site(self, alias: str, element: Property, field: Property | None) -> Site:
        if field is not None:
            return Site(self.embedded_site(alias, field), field, "element")
        return Site(alias, element, "element")

    def list_length(self, list_sql: str) -> str:
        return f"coalesce(len({list_sql}), 0)"

    def list_aggregate(self, op: str, list_sql: str, element: Property, alias: str,
                       field: Property | None) -> str:
        if field is not None:
            inner = self.embedded_site(alias, field)
            list_sql = f"list_transform({list_sql}, lambda {alias}: {inner})"
        function = {"@sum": "list_sum", "@avg": "list_avg", "@min": "list_min",
                    "@max": "list_max"}[op]
        if op == "@sum":
            return f"coalesce({function}({list_sql}), 0)"
        return f"{function}({list_sql})"

    def embedded_site(self, base_sql: str, prop: Property) -> str:
        return f"struct_extract({base_sql}, {_sql_string(prop.name)})"



FOLD_PARAMS = (FOLD_FROM, FOLD_TO)

DIALECTS: dict[str, type[Dialect]] = {
    "sqlite": SQLiteDialect,
    "postgresql": PostgreSQLDialect,
    "postgres": PostgreSQLDialect,
    "duckdb": DuckDBDialect,
}


def get_dialect(dialect: str | Dialect) -> Dialect:
    """A dialect instance by name (``sqlite``, ``postgresql``, ``duckdb``) or as given."""
    if isinstance(dialect, Dialect):
        return dialect
    try:
        return DIALECTS[dialect]()
    except KeyError:
        raise ValueError(f"unknown SQL dialect {dialect!r} "
                         "(use sqlite, postgresql or duckdb)") from None
