"""What every SQL dialect shares: sites, the ``Dialect`` base class, and the value helpers
the engines' dialects (``dialects``) build on.

A *site* is an SQL expression whose value is one scalar of a known property type,
stored either as a table ``column`` or as an element of a JSON array (``json``).
Where a store is coarser than a literal, ``Dialect.fit`` moves the literal to
the store's grid so that comparisons stay exact.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ..schema import Property, PropertyType
from .ast import CompareOp

__all__ = ["Dialect", "Fitted", "Site", "Storage"]

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


