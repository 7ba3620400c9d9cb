"""AST → canonical query text.

The canonical text is what the client sends to the server (arguments already
substituted, as Realm's ``get_description()`` does) and what deduplicates
subscriptions: ``status=='open'`` and ``status == "open"`` render the same.
``parse(render(ast)) == ast`` holds for every AST the parser can produce.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import singledispatch

from .ast import (
    Aggregate,
    And,
    Arg,
    Between,
    Comparison,
    Constant,
    Distinct,
    Limit,
    ListLiteral,
    Literal,
    LiteralKind,
    Node,
    Not,
    Or,
    Path,
    Sort,
)

__all__ = ["render", "render_literal"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STRING_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r",
                   "\b": "\\b", "\f": "\\f", "\0": "\\0"}


@singledispatch
def render(node: Node) -> str:
    """The canonical text of any node."""
    raise TypeError(f"cannot render {type(node).__name__}")


@render.register
def _path(node: Path) -> str:
    return node.dotted


@render.register
def _aggregate(node: Aggregate) -> str:
    text = f"{node.path.dotted}.{node.op.value}"
    return f"{text}.{node.field}" if node.field else text


@render.register
def _literal(node: Literal) -> str:
    return render_literal(node)


@render.register
def _arg(node: Arg) -> str:
    return f"${node.index}"


@render.register
def _list(node: ListLiteral) -> str:
    return "{" + ", ".join(render(item) for item in node.items) + "}"


@render.register
def _comparison(node: Comparison) -> str:
    prefix = f"{node.quantifier.value} " if node.quantifier else ""
    modifier = "[c]" if node.case_insensitive else ""
    return f"{prefix}{render(node.left)} {node.op.value}{modifier} {render(node.right)}"


@render.register
def _between(node: Between) -> str:
    prefix = f"{node.quantifier.value} " if node.quantifier else ""
    return f"{prefix}{render(node.value)} BETWEEN {{{render(node.low)}, {render(node.high)}}}"


@render.register
def _and(node: And) -> str:
    return " AND ".join(_wrap(operand, (And, Or)) for operand in node.operands)


@render.register
def _or(node: Or) -> str:
    return " OR ".join(_wrap(operand, (Or,)) for operand in node.operands)


@render.register
def _not(node: Not) -> str:
    return f"NOT ({render(node.operand)})"


@render.register
def _constant(node: Constant) -> str:
    return "TRUEPREDICATE" if node.value else "FALSEPREDICATE"


@render.register
def _sort(node: Sort) -> str:
    keys = ", ".join(f"{key.path.dotted} {'ASC' if key.ascending else 'DESC'}" for key in node.keys)
    return f"SORT({keys})"


@render.register
def _distinct(node: Distinct) -> str:
    return f"DISTINCT({', '.join(path.dotted for path in node.paths)})"


@render.register
def _limit(node: Limit) -> str:
    return f"LIMIT({node.count})"


def _wrap(node: Node, kinds: tuple[type, ...]) -> str:
    text = render(node)
    return f"({text})" if isinstance(node, kinds) else text


def render_literal(node: Literal) -> str:
    """The source form of a literal value."""
    kind, value = node.kind, node.value
    if kind is LiteralKind.NULL:
        return "nil"
    if kind is LiteralKind.BOOL:
        return "true" if value else "false"
    if kind is LiteralKind.INT:
        return str(value)
    if kind is LiteralKind.FLOAT:
        if not math.isfinite(value):
            raise ValueError(f"{value} has no query-language form")
        return repr(float(value))
    if kind is LiteralKind.DECIMAL:
        if not value.is_finite():  # "NaN" would read back as a property name
            raise ValueError(f"{value} has no query-language form")
        return str(value)
    if kind is LiteralKind.STRING:
        return "'" + "".join(_STRING_ESCAPES.get(c, c) for c in value) + "'"
    if kind is LiteralKind.DATE:
        return _render_date(value)
    if kind is LiteralKind.OBJECT_ID:
        return f"oid({value})"
    if kind is LiteralKind.UUID:
        return f"uuid({value})"
    raise ValueError(f"unknown literal kind {kind}")


def _render_date(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    if 1 <= value.year <= 9999 and value.year >= 1000:
        text = value.strftime("%Y-%m-%d@%H:%M:%S")
        if value.microsecond:
            text += f":{value.microsecond * 1000}"
        return text
    delta = value - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return f"T{seconds}:{delta.microseconds * 1000}"
