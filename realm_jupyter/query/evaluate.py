"""The Python evaluator: does a document match a predicate, with Realm's semantics.

Documents are plain dicts of Python values, as decoded from Extended JSON. A path
that crosses a list yields several values; a comparison on several values is
quantified (``ANY`` unless the query says ``ALL`` or ``NONE``). The server uses
this evaluator on single documents (is a changed document in a session's view?);
every SQL dialect is tested against it.
"""

from __future__ import annotations

import decimal
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import singledispatch
from typing import Any

from ..errors import QueryError, QueryTypeError
from . import values
from .ast import (
    Aggregate,
    AggregateOp,
    And,
    Arg,
    Between,
    CompareOp,
    Comparison,
    Constant,
    Distinct,
    Expr,
    Limit,
    ListLiteral,
    Literal,
    Modifier,
    Not,
    Or,
    Path,
    Predicate,
    Quantifier,
    Sort,
)

__all__ = ["apply_modifiers", "evaluate", "resolve_path"]

Document = Mapping[str, Any]


def evaluate(predicate: Predicate, document: Document, args: Sequence[Any] = ()) -> bool:
    """True when ``document`` matches ``predicate``."""
    return _eval(predicate, document, args)


@singledispatch
def _eval(node: Predicate, document: Document, args: Sequence[Any]) -> bool:
    raise QueryError(f"cannot evaluate {type(node).__name__}")


@_eval.register
def _and(node: And, document: Document, args: Sequence[Any]) -> bool:
    return all(_eval(operand, document, args) for operand in node.operands)


@_eval.register
def _or(node: Or, document: Document, args: Sequence[Any]) -> bool:
    return any(_eval(operand, document, args) for operand in node.operands)


@_eval.register
def _not(node: Not, document: Document, args: Sequence[Any]) -> bool:
    return not _eval(node.operand, document, args)


@_eval.register
def _constant(node: Constant, document: Document, args: Sequence[Any]) -> bool:
    return node.value


@_eval.register
def _comparison(node: Comparison, document: Document, args: Sequence[Any]) -> bool:
    left, left_many = _operand(node.left, document, args)
    quantifier = node.quantifier or Quantifier.ANY
    ci = node.case_insensitive
    members = (_members(node.right, ci) if node.op is CompareOp.IN
               and isinstance(node.right, ListLiteral) else None)
    right, right_many = ([], True) if members is not None else _operand(node.right, document,
                                                                         args)
    if node.op is CompareOp.IN:
        def member(item: Any) -> bool:
            if members is not None:
                return item in members
            return any(values.equal(item, candidate, ci) for candidate in right)

        if left_many:
            return _quantify(quantifier, left, member)
        return member(left[0]) if left else False
    op = node.op
    if left_many:
        return _quantify(quantifier, left,
                         lambda item: any(_compare(op, item, r, ci) for r in right))
    if right_many:
        return _quantify(quantifier, right, lambda item: _compare(op, left[0], item, ci))
    return _compare(op, left[0], right[0], ci)


#: A constant list longer than this is looked up in a :class:`values.Members` index.
_INDEXED = 8
_MEMBERS: dict[int, tuple[ListLiteral, bool, values.Members]] = {}
_MEMBERS_LOCK = threading.Lock()


def _members(node: ListLiteral, ci: bool) -> values.Members | None:
    """The index of a constant ``{…}`` list, built once per list node (by identity: a
    node's hash would walk the whole list on every document)."""
    if len(node.items) <= _INDEXED:
        return None
    cached = _MEMBERS.get(id(node))
    if cached is not None and cached[0] is node and cached[1] == ci:
        return cached[2]
    if not all(isinstance(item, Literal) for item in node.items):
        return None
    members = values.Members((item.value for item in node.items  # type: ignore[union-attr]
                              ), ci)
    with _MEMBERS_LOCK:  # the server also checks queries on worker threads
        if len(_MEMBERS) >= 256:
            _MEMBERS.pop(next(iter(_MEMBERS)))
        _MEMBERS[id(node)] = (node, ci, members)  # holding the node keeps its id unique
    return members


@_eval.register
def _between(node: Between, document: Document, args: Sequence[Any]) -> bool:
    subject, many = _operand(node.value, document, args)
    low = _operand(node.low, document, args)[0][0]
    high = _operand(node.high, document, args)[0][0]

    def inside(item: Any) -> bool:
        lower, upper = values.order(item, low), values.order(item, high)
        return lower is not None and upper is not None and lower >= 0 and upper <= 0

    if many:
        return _quantify(node.quantifier or Quantifier.ANY, subject, inside)
    return inside(subject[0])


def _quantify(quantifier: Quantifier, items: Iterable[Any], test: Callable[[Any], bool]) -> bool:
    if quantifier is Quantifier.ALL:
        return all(test(item) for item in items)
    if quantifier is Quantifier.NONE:
        return not any(test(item) for item in items)
    return any(test(item) for item in items)


def _compare(op: CompareOp, a: Any, b: Any, ci: bool) -> bool:
    if op is CompareOp.EQ:
        return values.equal(a, b, ci)
    if op is CompareOp.NE:
        return not values.equal(a, b, ci)
    if op.is_string_op:
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        text: str = values.fold(a) if ci else a
        pattern: str = values.fold(b) if ci else b
        if op is CompareOp.BEGINSWITH:
            return text.startswith(pattern)
        if op is CompareOp.ENDSWITH:
            return text.endswith(pattern)
        if op is CompareOp.CONTAINS:
            return pattern in text
        return values.like(text, pattern)
    result = values.order(a, b)
    if result is None:
        return False
    if op is CompareOp.LT:
        return result < 0
    if op is CompareOp.LE:
        return result <= 0
    if op is CompareOp.GT:
        return result > 0
    return result >= 0


# --------------------------------------------------------------------------- operands


def _operand(node: Expr, document: Document, args: Sequence[Any]) -> tuple[list[Any], bool]:
    """The value(s) of an expression and whether it is a collection."""
    if isinstance(node, Literal):
        return [node.value], False
    if isinstance(node, Arg):
        value = bind_arg(args, node)
        if isinstance(value, list | tuple | set | frozenset):
            return [values.normalize(v) for v in value], True
        return [values.normalize(value)], False
    if isinstance(node, ListLiteral):
        return [_operand(item, document, args)[0][0] for item in node.items], True
    if isinstance(node, Path):
        return resolve_path(document, node.parts)
    if isinstance(node, Aggregate):
        return [_aggregate(node, document)], False
    raise QueryError(f"cannot evaluate {type(node).__name__}")


def bind_arg(args: Sequence[Any], node: Arg) -> Any:
    """The value of ``$n``.

    Raises:
        QueryError: fewer arguments were given than the query uses.
    """
    if node.index >= len(args):
        raise QueryError(f"the query uses ${node.index} but only {len(args)} argument(s) "
                         "were given", position=node.position)
    return args[node.index]


def resolve_path(document: Document, parts: Sequence[str]) -> tuple[list[Any], bool]:
    """Follow a dotted path; crossing a list yields each element (``many`` is then True)."""
    current: list[Any] = [document]
    many = False
    for part in parts:
        following: list[Any] = []
        for item in current:
            value = item.get(part) if isinstance(item, Mapping) else None
            if isinstance(value, list | tuple):
                following.extend(value)
                many = True
            else:
                following.append(value)
        current = following
    return [values.normalize(v) for v in current], many


def _aggregate(node: Aggregate, document: Document) -> Any:
    items, many = resolve_path(document, node.path.parts)
    if node.op in (AggregateOp.COUNT, AggregateOp.SIZE):
        if many:
            return len(items)
        value = items[0]
        # A string's length; a null string has no length (as in Realm and SQL): null.
        return len(value) if isinstance(value, str) else None
    if node.field is not None:
        items = [item.get(node.field) if isinstance(item, Mapping) else None for item in items]
        items = [values.normalize(v) for v in items]
    if not many and node.field is None:
        items = [] if items[0] is None else items
    present = [v for v in items if v is not None]
    if node.op is AggregateOp.SUM:
        return sum(present, start=0)
    if not present:
        return None
    if node.op is AggregateOp.AVG:
        if any(isinstance(v, decimal.Decimal) for v in present):
            total = sum((decimal.Decimal(v) for v in present), start=decimal.Decimal(0))
            return total / len(present)
        return sum(present) / len(present)
    if node.op is AggregateOp.MIN:
        return min(present, key=values.sort_key)
    return max(present, key=values.sort_key)


# --------------------------------------------------------------------------- suffixes


def apply_modifiers(documents: Iterable[Document], modifiers: Sequence[Modifier],
                    primary_key: str = "_id") -> list[Document]:
    """Order matching documents as the cache does, then apply SORT/DISTINCT/LIMIT in order.

    Without modifiers results come in primary-key order; sorts are stable, so ties
    keep the order they had.
    """
    rows = sorted(documents, key=lambda doc: values.sort_key(doc.get(primary_key)))
    for modifier in modifiers:
        if isinstance(modifier, Sort):
            for key in reversed(modifier.keys):
                rows.sort(key=lambda doc, k=key: _sort_value(doc, k.path),  # type: ignore[misc]
                          reverse=not key.ascending)
        elif isinstance(modifier, Distinct):
            seen: set[tuple[Any, ...]] = set()
            kept = []
            for doc in rows:
                marker = tuple(_sort_value(doc, path) for path in modifier.paths)
                if marker not in seen:
                    seen.add(marker)
                    kept.append(doc)
            rows = kept
        elif isinstance(modifier, Limit):
            rows = rows[: modifier.count]
    return rows


def _sort_value(document: Document, path: Path) -> tuple[int, Any]:
    found, many = resolve_path(document, path.parts)
    value = found[0] if found else None
    if many or isinstance(value, Mapping):
        raise QueryTypeError(f"cannot sort or group by {path.dotted!r}: it is not a single "
                             "value", position=path.position)
    return values.sort_key(value)
