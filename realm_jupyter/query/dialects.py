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
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ..schema import Property, PropertyType
from .ast import CompareOp
from .values import FOLD_FROM, FOLD_TO

__all__ = ["DIALECTS", "Dialect", "DuckDBDialect", "PostgreSQLDialect", "SQLiteDialect",
           "Site", "get_dialect"]

Storage = Literal["column", "json", "element"]
#: ``Dialect.fit``'s answer: the comparison to make, or its result for every non-null value.
Fitted = tuple[CompareOp, Any] | bool


@dataclass(frozen=True)
class Site:
    """An SQL expression holding one value of ``prop``'s type, in a given storage form."""

    sql: str
    prop: Property
    storage: Storage = "column"


class Dialect:
    """Base class: identifier quoting, placeholders, and the engine-specific spellings."""

    name: ClassVar[str]
    #: Whether dotted paths into embedded objects and SORT/DISTINCT/LIMIT compile.
    supports_local_language: ClassVar[bool] = False

    def __init__(self, paramstyle: str | None = None) -> None:
        self.paramstyle = paramstyle or self.default_paramstyle

    default_paramstyle: ClassVar[str] = "qmark"

    def quote(self, identifier: str) -> str:
        """Quote an identifier taken from the schema (never from user text)."""
        return '"' + identifier.replace('"', '""') + '"'

    def placeholder(self, index: int) -> str:
        """The placeholder for the ``index``-th (0-based) parameter."""
        if self.paramstyle == "numeric":
            return f"${index + 1}"
        if self.paramstyle == "format":
            return "%s"
        return "?"

    # ---------------------------------------------------------------- values

    def bind(self, value: Any, site: Site) -> tuple[Any, str]:
        """Convert a Python constant for comparison at ``site``: (parameter, SQL cast suffix)."""
        raise NotImplementedError

    def fit(self, op: CompareOp, value: Any, site: Site) -> Fitted:
        """``site op value`` for a store whose values are coarser than the literal.

        A literal finer than what the site can hold (a decimal with more places than
        the column, a sub-millisecond instant against millisecond text) is moved to
        the grid in the direction that keeps the answer exact; a comparison that is
        the same for every storable value comes back as that bool. The default: as is.
        """
        return op, value

    def value_sql(self, site: Site) -> str:
        """The site's SQL as it should be compared (a decimal stored as text becomes REAL)."""
        return site.sql

    def ordering_sql(self, site: Site) -> str:
        """The site's SQL for ``<``/``>`` and sorting (PostgreSQL adds ``COLLATE "C"``)."""
        return self.value_sql(site)

    def fold(self, sql: str, bound: list[Any]) -> str:
        """SQL that case-folds ``sql`` exactly like :func:`values.fold`."""
        raise NotImplementedError

    # ---------------------------------------------------------------- strings

    def begins_with(self, subject: str, pattern: str) -> str:
        raise NotImplementedError

    def ends_with(self, subject: str, pattern: str, pattern_length: str) -> str:
        raise NotImplementedError

    def contains(self, subject: str, pattern: str) -> str:
        raise NotImplementedError

    def like(self, subject: str, pattern: str) -> str:
        return f"{subject} LIKE {pattern} ESCAPE '\\'"

    def like_pattern(self, pattern: str) -> str:
        """A Realm LIKE pattern (``*``, ``?``) as this engine's pattern."""
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return escaped.replace("*", "%").replace("?", "_")

    # ---------------------------------------------------------------- long IN lists

    def value_array(self, values: list[Any]) -> Any | None:
        """One parameter holding ``values`` (each already converted by :meth:`bind`) for
        :meth:`unnest`, or None when this engine cannot carry them that way."""
        return None

    def unnest(self, param: str, cast: str) -> str:
        """A subquery of the values in the array parameter ``param``, each with ``cast``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- lists

    def any_element(self, list_sql: str, element: Property, alias: str, condition: str) -> str:
        """SQL true when some element (bound to ``alias``) satisfies ``condition``."""
        raise NotImplementedError

    def element_site(self, alias: str, element: Property, field: Property | None) -> Site:
        """The site of a list element (or of ``field`` inside an embedded element)."""
        raise NotImplementedError

    def list_length(self, list_sql: str) -> str:
        raise NotImplementedError

    def string_length(self, sql: str) -> str:
        return f"length({sql})"

    def list_aggregate(self, op: str, list_sql: str, element: Property, alias: str,
                       field: Property | None) -> str:
        raise NotImplementedError

    def embedded_site(self, base_sql: str, prop: Property) -> str:
        """The SQL of ``prop`` inside the embedded object ``base_sql``."""
        raise NotImplementedError

    def true(self) -> str:
        return "TRUE"

    def false(self) -> str:
        return "FALSE"


def _as_decimal(value: Any) -> decimal.Decimal:
    """A number as the exact decimal it stands for (a float by its shortest text, ``repr``)."""
    return decimal.Decimal(repr(value)) if isinstance(value, float) else decimal.Decimal(value)


def _numeric_cast(value: Any, site: Site, integer: str, real: str, exact: str) -> tuple[Any, str]:
    if site.prop.type is PropertyType.DECIMAL:
        return _as_decimal(value), exact
    if isinstance(value, int) and not isinstance(value, bool):
        return value, integer
    return float(value), real


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


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_WIDE = decimal.Context(prec=100)
_DUCKDB_QUANTUM = decimal.Decimal("1e-9")
_DUCKDB_DECIMAL_MAX = decimal.Decimal("1e29") - _DUCKDB_QUANTUM
_ABOVE_ALL = {CompareOp.EQ: False, CompareOp.NE: True, CompareOp.LT: True, CompareOp.LE: True,
              CompareOp.GT: False, CompareOp.GE: False}
_BELOW_ALL = {CompareOp.EQ: False, CompareOp.NE: True, CompareOp.LT: False, CompareOp.LE: False,
              CompareOp.GT: True, CompareOp.GE: True}


def _fit_grid(op: CompareOp, floor: Any, ceiling: Any, convert: Callable[[Any], Any]) -> Fitted:
    """``x op value`` for ``x`` on a grid, where ``floor``/``ceiling`` are the grid points
    around ``value`` (equal when it is on the grid); ``convert`` maps a grid point back
    to a value to bind."""
    if floor == ceiling:
        return op, convert(floor)
    if op is CompareOp.EQ:
        return False
    if op is CompareOp.NE:
        return True
    if op in (CompareOp.LT, CompareOp.LE):
        return CompareOp.LE, convert(floor)
    return CompareOp.GE, convert(ceiling)


def _epoch_micros(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_MAX_MS = _epoch_micros(dt.datetime.max.replace(tzinfo=dt.UTC)) // 1000


def _json_date(value: dt.datetime) -> str:
    """A date as documents store it in JSON (``documents.format_date``'s form), always with
    a four-digit year so that text order is time order."""
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z")


def _epoch_ms(value: dt.datetime) -> int | float:
    whole, rest = divmod(_epoch_micros(value), 1000)
    return whole if rest == 0 else _epoch_micros(value) / 1000


def _json_exact(value: Any) -> bool:
    """Whether JSON carries ``value`` with its type and value intact (for SQLite)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int | str)


def _text(value: Any, plain_decimal: bool = False) -> str | None:
    """``value`` as the text its engine casts back exactly, or None for a type it cannot."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip text; 'nan', 'inf' and '-inf' cast too
    if isinstance(value, decimal.Decimal):
        return format(value, "f") if plain_decimal and value.is_finite() else str(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.isoformat()
    return None


def _sql_string(text: str) -> str:
    """An SQL string literal for a name taken from the schema (never for user values)."""
    return "'" + text.replace("'", "''") + "'"


def _json_key(name: str) -> str:
    """A JSON path member for SQLite (quoted unless it is a plain identifier)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '\\"') + '"'


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
