"""``Query``: a parsed query and the verbs on it (match, compile, bind, render)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Any

from ..errors import QueryError
from ..schema import ObjectSchema, Schema
from .ast import (
    Aggregate,
    And,
    Arg,
    Between,
    Comparison,
    Expr,
    ListLiteral,
    Literal,
    LiteralKind,
    Modifier,
    Node,
    Not,
    Or,
    Predicate,
)
from .compiler import CompiledQuery, compile_select
from .dialects import Dialect, get_dialect
from .evaluate import apply_modifiers, bind_arg, evaluate
from .parser import parse_text
from .render import render

__all__ = ["Query", "parse"]


@dataclass(frozen=True)
class Query:
    """A parsed query. Two queries are equal when their ASTs are (spacing does not count)."""

    predicate: Predicate
    modifiers: tuple[Modifier, ...] = ()
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """The canonical text (``parse(q.render()) == q``)."""
        parts = [render(self.predicate), *(render(m) for m in self.modifiers)]
        return " ".join(parts)

    @property
    def argument_count(self) -> int:
        """How many ``$n`` arguments the query needs (highest index + 1)."""
        indexes = [node.index for node in walk(self.predicate) if isinstance(node, Arg)]
        return max(indexes) + 1 if indexes else 0

    def matches(self, document: Mapping[str, Any], *args: Any) -> bool:
        """Does ``document`` (Python values, as decoded from Extended JSON) match?"""
        try:
            return evaluate(self.predicate, document, args)
        except QueryError as error:
            raise _with_query(error, self.text) from None

    def filter(self, documents: Iterable[Mapping[str, Any]], *args: Any,
               primary_key: str = "_id") -> list[Mapping[str, Any]]:
        """Matching documents with SORT/DISTINCT/LIMIT applied, in the cache's order."""
        matching = [doc for doc in documents if self.matches(doc, *args)]
        try:
            return apply_modifiers(matching, self.modifiers, primary_key)
        except QueryError as error:
            raise _with_query(error, self.text) from None

    def compile(self, schema: Schema | ObjectSchema, object_type: str | None = None,
                dialect: str | Dialect = "duckdb", *args: Any,
                table: str | None = None) -> CompiledQuery:
        """Compile to ``(sql, params)`` for ``dialect`` (``duckdb``, ``sqlite``, ``postgresql``).

        Raises:
            QueryError: unknown property, incomparable types or a missing argument.
            UnsupportedQueryError: a construct this dialect cannot express.
        """
        object_schema = _object_schema(schema, object_type)
        try:
            return compile_select(self.predicate, self.modifiers, object_schema,
                                  get_dialect(dialect), args, query=self.text or None, table=table)
        except QueryError as error:
            raise _with_query(error, self.text) from None

    def bind(self, *args: Any) -> Query:
        """The same query with ``$n`` replaced by literals (what a subscription sends)."""
        try:
            predicate = _bind(self.predicate, args)
        except QueryError as error:
            raise _with_query(error, self.text) from None
        # Parsed again from its canonical text, so positions (carets) point into that text.
        return parse(Query(predicate, self.modifiers).render())


def parse(text: str) -> Query:
    """Parse Realm Query Language text.

    Raises:
        QuerySyntaxError: the text is not a query; ``render()`` shows a caret.
    """
    predicate, modifiers = parse_text(text)
    return Query(predicate, modifiers, text)


def _object_schema(schema: Schema | ObjectSchema, object_type: str | None) -> ObjectSchema:
    if isinstance(schema, ObjectSchema):
        return schema
    if object_type is None:
        raise TypeError("compile() needs the object type when given a whole Schema")
    return schema[object_type]


def _with_query(error: QueryError, text: str) -> QueryError:
    if error.query is None and text:
        error.query = text
    return error


def walk(node: Node) -> Iterable[Node]:
    """Every node below and including ``node``, depth first."""
    yield node
    for child in _children(node):
        yield from walk(child)


def _children(node: Node) -> Sequence[Node]:
    if isinstance(node, And | Or):
        return node.operands
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, Comparison):
        return (node.left, node.right)
    if isinstance(node, Between):
        return (node.value, node.low, node.high)
    if isinstance(node, ListLiteral):
        return node.items
    if isinstance(node, Aggregate):
        return (node.path,)
    return ()


@singledispatch
def _bind(node: Node, args: Sequence[Any]) -> Any:
    return node


@_bind.register
def _bind_arg(node: Arg, args: Sequence[Any]) -> Expr:
    value = bind_arg(args, node)
    if isinstance(value, list | tuple | set | frozenset):
        return ListLiteral(tuple(_literal(v, node) for v in value), position=node.position)
    return _literal(value, node)


def _literal(value: Any, node: Arg) -> Literal:
    """The literal standing for ``$n``'s value (one with a text form, so not NaN or inf)."""
    try:
        literal = Literal.of(value, position=node.position)
        render(literal)
        if literal.kind is LiteralKind.INT and not -(2**63) <= value < 2**63:
            raise ValueError(f"{value} is out of the 64-bit range")
    except (TypeError, ValueError) as error:
        raise QueryError(f"${node.index}: {error}", position=node.position) from None
    return literal


@_bind.register
def _bind_list(node: ListLiteral, args: Sequence[Any]) -> Expr:
    return replace(node, items=tuple(_bind(item, args) for item in node.items))


@_bind.register
def _bind_comparison(node: Comparison, args: Sequence[Any]) -> Predicate:
    return replace(node, left=_bind(node.left, args), right=_bind(node.right, args))


@_bind.register
def _bind_between(node: Between, args: Sequence[Any]) -> Predicate:
    return replace(node, value=_bind(node.value, args), low=_bind(node.low, args),
                   high=_bind(node.high, args))


@_bind.register
def _bind_and(node: And, args: Sequence[Any]) -> Predicate:
    return replace(node, operands=tuple(_bind(op, args) for op in node.operands))


@_bind.register
def _bind_or(node: Or, args: Sequence[Any]) -> Predicate:
    return replace(node, operands=tuple(_bind(op, args) for op in node.operands))


@_bind.register
def _bind_not(node: Not, args: Sequence[Any]) -> Predicate:
    return replace(node, operand=_bind(node.operand, args))

