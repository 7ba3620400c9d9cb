"""The query AST: frozen dataclasses, one per construct of the Realm Query Language.

Every node remembers ``position``, the offset of its first character in the
source text, so later stages (subscription checks, type checks) can put a caret
under the construct they refuse. Positions do not take part in equality: two
queries that differ only in spacing are equal.

Value expressions: :class:`Path`, :class:`Aggregate`, :class:`Literal`,
:class:`Arg`, :class:`ListLiteral`.
Predicates: :class:`Comparison`, :class:`Between`, :class:`And`, :class:`Or`,
:class:`Not`, :class:`Constant`.
Suffixes: :class:`Sort`, :class:`Distinct`, :class:`Limit`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId

__all__ = [
    "Aggregate",
    "And",
    "Arg",
    "Between",
    "CompareOp",
    "Comparison",
    "Constant",
    "Distinct",
    "Expr",
    "Limit",
    "ListLiteral",
    "Literal",
    "LiteralKind",
    "Modifier",
    "Node",
    "Not",
    "Or",
    "Path",
    "Predicate",
    "Quantifier",
    "Sort",
    "SortKey",
]


@dataclass(frozen=True)
class Node:
    """Base of every node. ``position`` is a 0-based offset into the query text (-1: none)."""

    position: int = field(default=-1, compare=False, kw_only=True, repr=False)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Path(Node):
    """A property, possibly dotted into embedded objects: ``address.city``."""

    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


class AggregateOp(enum.StrEnum):
    COUNT = "@count"
    SIZE = "@size"
    SUM = "@sum"
    AVG = "@avg"
    MIN = "@min"
    MAX = "@max"


@dataclass(frozen=True)
class Aggregate(Node):
    """``tags.@count``, ``name.@size``, ``scores.@avg`` or ``items.@sum.price``."""

    path: Path
    op: AggregateOp
    field: str | None = None


class LiteralKind(enum.StrEnum):
    NULL = "null"
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    DECIMAL = "decimal"
    STRING = "string"
    DATE = "date"
    OBJECT_ID = "objectId"
    UUID = "uuid"


@dataclass(frozen=True)
class Literal(Node):
    """A constant. ``kind`` takes part in equality so that ``1``, ``1.0`` and ``true`` differ."""

    value: Any
    kind: LiteralKind

    @classmethod
    def of(cls, value: Any, *, position: int = -1) -> Literal:
        """The literal for a Python value (used for ``$n`` arguments and rule expansions)."""
        return cls(value, literal_kind(value), position=position)


def literal_kind(value: Any) -> LiteralKind:
    """The literal kind of a Python value.

    Raises:
        TypeError: the value has no query-language literal form.
    """
    if value is None:
        return LiteralKind.NULL
    if isinstance(value, bool):
        return LiteralKind.BOOL
    if isinstance(value, int):
        return LiteralKind.INT
    if isinstance(value, float):
        return LiteralKind.FLOAT
    if isinstance(value, str):
        return LiteralKind.STRING
    if isinstance(value, dt.datetime):
        return LiteralKind.DATE
    if isinstance(value, ObjectId):
        return LiteralKind.OBJECT_ID
    if isinstance(value, uuid.UUID):
        return LiteralKind.UUID
    if isinstance(value, decimal.Decimal):
        return LiteralKind.DECIMAL
    raise TypeError(f"a {type(value).__name__} cannot be used in a query")


@dataclass(frozen=True)
class Arg(Node):
    """A ``$n`` placeholder, bound when the query is evaluated or compiled."""

    index: int


@dataclass(frozen=True)
class ListLiteral(Node):
    """``{1, 2, 3}`` — the right side of ``IN`` and ``BETWEEN``."""

    items: tuple[Expr, ...]


Expr = Path | Aggregate | Literal | Arg | ListLiteral


# --------------------------------------------------------------------------- predicates


class CompareOp(enum.StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    BEGINSWITH = "BEGINSWITH"
    ENDSWITH = "ENDSWITH"
    CONTAINS = "CONTAINS"
    LIKE = "LIKE"
    IN = "IN"

    @property
    def is_string_op(self) -> bool:
        return self in _STRING_OPS

    @property
    def is_ordering(self) -> bool:
        return self in (CompareOp.LT, CompareOp.LE, CompareOp.GT, CompareOp.GE)

    def flipped(self) -> CompareOp:
        """The operator with its operands swapped: ``a < b`` is ``b > a``."""
        return _FLIPPED.get(self, self)


_STRING_OPS = frozenset({CompareOp.BEGINSWITH, CompareOp.ENDSWITH, CompareOp.CONTAINS,
                         CompareOp.LIKE})
_FLIPPED = {CompareOp.LT: CompareOp.GT, CompareOp.GT: CompareOp.LT,
            CompareOp.LE: CompareOp.GE, CompareOp.GE: CompareOp.LE}


class Quantifier(enum.StrEnum):
    ANY = "ANY"
    ALL = "ALL"
    NONE = "NONE"


@dataclass(frozen=True)
class Comparison(Node):
    """``left op right``, optionally ``[c]`` (case-insensitive) and quantified over a list."""

    op: CompareOp
    left: Expr
    right: Expr
    case_insensitive: bool = False
    quantifier: Quantifier | None = None


@dataclass(frozen=True)
class Between(Node):
    """``value BETWEEN {low, high}`` — inclusive on both ends."""

    value: Expr
    low: Expr
    high: Expr
    quantifier: Quantifier | None = None


@dataclass(frozen=True)
class And(Node):
    operands: tuple[Predicate, ...]


@dataclass(frozen=True)
class Or(Node):
    operands: tuple[Predicate, ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Predicate


@dataclass(frozen=True)
class Constant(Node):
    """``TRUEPREDICATE`` or ``FALSEPREDICATE``."""

    value: bool


Predicate = Comparison | Between | And | Or | Not | Constant


# --------------------------------------------------------------------------- suffixes


@dataclass(frozen=True)
class SortKey(Node):
    path: Path
    ascending: bool = True


@dataclass(frozen=True)
class Sort(Node):
    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Distinct(Node):
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class Limit(Node):
    count: int


Modifier = Sort | Distinct | Limit
