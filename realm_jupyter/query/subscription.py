"""The Flexible Sync subset: which queries a subscription may use.

A subscription runs on the server against its store, over queryable fields only.
So: no ``SORT``/``DISTINCT``/``LIMIT``, no aggregates, no dotted paths, no
list-vs-list comparisons, at most 256 kB of text, every property queryable, and
— when an indexed queryable field is configured — an ``==``/``IN`` on it ANDed
with the rest. Each refusal names the construct and points at it.

The server evaluates every subscription on every changed document, on its event
loop, so a subscription's work must be bounded: at most :data:`MAX_QUERY_TERMS`
comparisons (a huge ``OR`` is refused; a long ``IN`` list is one comparison and
compiles to one bound array) and ``LIKE`` patterns of at most
:data:`MAX_LIKE_PATTERN` characters (``LIKE`` costs at worst text × pattern).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..errors import NotQueryableError, QueryError, UnsupportedQueryError
from ..schema import ObjectSchema, Schema
from .ast import (
    Aggregate,
    And,
    Arg,
    Between,
    CompareOp,
    Comparison,
    Expr,
    ListLiteral,
    Literal,
    LiteralKind,
    Path,
    Predicate,
)
from .dialects import SQLiteDialect
from .query import Query, walk

__all__ = ["MAX_LIKE_PATTERN", "MAX_QUERY_BYTES", "MAX_QUERY_TERMS", "MAX_SET_TERMS",
           "QueryableFields",
           "check_subscription", "query_terms"]

#: Realm's limit on one subscription's query text.
MAX_QUERY_BYTES = 256 * 1024
#: Comparisons (and BETWEENs) in one subscription; ``x IN {…}`` counts as one.
MAX_QUERY_TERMS = 1_000
#: Characters in one ``LIKE`` pattern of a subscription.
MAX_LIKE_PATTERN = 1_000
#: Comparisons of every subscription of a set on one object type together: the
#: server evaluates them all (ORed) on each changed document of that type.
MAX_SET_TERMS = 5 * MAX_QUERY_TERMS


class QueryableFields(Protocol):
    """What a sync configuration says about queryable fields (``SyncConfig`` satisfies it)."""

    @property
    def indexed_queryable_fields_names(self) -> tuple[str, ...]: ...

    def queryable_fields(self, object_type: str) -> frozenset[str]: ...


def check_subscription(query: Query | str, schema: Schema, object_type: str,
                       sync_config: QueryableFields) -> Query:
    """Check that ``query`` may be a subscription on ``object_type``; return it parsed.

    Raises:
        QuerySyntaxError: the text does not parse.
        UnsupportedQueryError: a construct outside the Flexible Sync subset (named).
        NotQueryableError: a property that is not queryable.
        QueryError: an unknown object type or property, or a type mismatch.
    """
    text = query if isinstance(query, str) else query.text or query.render()
    size = len(text.encode())
    if size > MAX_QUERY_BYTES:
        raise UnsupportedQueryError(
            f"the query is {size:,} bytes; a subscription query may have at most "
            f"{MAX_QUERY_BYTES:,} bytes (LimitsExceeded)", construct="query size")
    parsed = _parse(query)
    if object_type not in schema:
        raise QueryError(f"unknown object type {object_type!r} (known: {', '.join(schema.names)})")
    if parsed.modifiers:
        modifier = parsed.modifiers[0]
        name = type(modifier).__name__.upper()
        raise UnsupportedQueryError(f"{name} is not allowed in subscriptions",
                                    construct=name, query=text, position=modifier.position)
    queryable = sync_config.queryable_fields(object_type)
    terms = 0
    for node in walk(parsed.predicate):
        if isinstance(node, Comparison | Between):
            terms += 1
            if terms > MAX_QUERY_TERMS:
                raise UnsupportedQueryError(
                    f"the query has more than {MAX_QUERY_TERMS:,} comparisons; a subscription "
                    f"may have at most {MAX_QUERY_TERMS:,} (use IN {{…}} for a list of values) "
                    "(LimitsExceeded)", construct="query size", query=text,
                    position=node.position)
        if isinstance(node, Comparison) and node.op is CompareOp.LIKE:
            _check_pattern(node, text)
        if isinstance(node, Aggregate):
            raise UnsupportedQueryError(f"aggregates ({node.op.value}) are not allowed in "
                                        "subscriptions", construct=node.op.value, query=text,
                                        position=node.position)
        if isinstance(node, Arg):
            raise UnsupportedQueryError(f"${node.index} must be bound before subscribing",
                                        construct="argument", query=text, position=node.position)
        if isinstance(node, Path):
            if len(node.parts) > 1:
                raise UnsupportedQueryError(f"dotted paths ({node.dotted}) are not allowed in "
                                            "subscriptions", construct="dotted path", query=text,
                                            position=node.position)
            if node.parts[0] not in queryable and node.parts[0] in schema[object_type]:
                raise NotQueryableError(
                    f"{node.parts[0]!r} is not a queryable field of {object_type}",
                    field=node.parts[0], object_type=object_type, query=text,
                    position=node.position)
        if isinstance(node, Comparison) and _list_vs_list(node, schema[object_type]):
            raise UnsupportedQueryError("comparing a list with a list is not allowed in "
                                        "subscriptions", construct="list-vs-list", query=text,
                                        position=node.position)
    # Types, unknown properties, other list comparisons: compiling for the server finds them.
    parsed.compile(schema, object_type, SQLiteDialect())
    indexed = [f for f in sync_config.indexed_queryable_fields_names if f in schema[object_type]]
    if indexed:
        _check_indexed(parsed.predicate, indexed[0], text)
    return parsed


def query_terms(query: Query) -> int:
    """How many comparisons (and BETWEENs) ``query`` makes: its cost on every changed document."""
    return sum(1 for node in walk(query.predicate) if isinstance(node, Comparison | Between))


def _check_pattern(node: Comparison, text: str) -> None:
    pattern = node.right
    if isinstance(pattern, Literal) and isinstance(pattern.value, str) \
            and len(pattern.value) > MAX_LIKE_PATTERN:
        raise UnsupportedQueryError(
            f"the LIKE pattern has {len(pattern.value):,} characters; a subscription's LIKE "
            f"patterns may have at most {MAX_LIKE_PATTERN:,} (LimitsExceeded)",
            construct="LIKE pattern size", query=text, position=pattern.position)


def _list_vs_list(node: Comparison, object_schema: ObjectSchema) -> bool:
    """``{'a', 'b'} IN tags`` or ``tags IN {'a', 'b'}``: a list on both sides of IN."""
    if node.op is not CompareOp.IN:
        return False
    if isinstance(node.left, ListLiteral):
        return True
    if isinstance(node.left, Path) and isinstance(node.right, ListLiteral):
        prop = object_schema.get(node.left.parts[0])
        return prop is not None and prop.is_list
    return False


def _parse(query: Query | str) -> Query:
    """The query with positions into its text (a Query built in code is parsed from its
    canonical text, so a refusal can still put a caret under the construct)."""
    from .query import parse

    if isinstance(query, str):
        return parse(query)
    return query if query.text else parse(query.render())


def _conjuncts(predicate: Predicate) -> Iterator[Predicate]:
    """The operands of a top-level AND, nested ANDs flattened: ``(a AND b) AND c``."""
    if isinstance(predicate, And):
        for operand in predicate.operands:
            yield from _conjuncts(operand)
    else:
        yield predicate


def _check_indexed(predicate: Predicate, field: str, text: str) -> None:
    if not any(_pins(conjunct, field) for conjunct in _conjuncts(predicate)):
        raise UnsupportedQueryError(
            f"a subscription must compare the indexed queryable field {field!r} with == or IN "
            "and AND it with the rest of the query", construct="indexed queryable field",
            query=text, position=predicate.position)


def _pins(node: Predicate, field: str) -> bool:
    """``field == constant`` (either way round) or ``field IN {constants}``."""
    if not isinstance(node, Comparison) or node.quantifier is not None or node.case_insensitive:
        return False
    if node.op is CompareOp.EQ and _is_field(node.right, field):
        return _is_constant(node.left)
    if not _is_field(node.left, field):
        return False
    if node.op is CompareOp.EQ:
        return _is_constant(node.right)
    if node.op is CompareOp.IN:
        return isinstance(node.right, ListLiteral) and all(
            _is_constant(item) for item in node.right.items)
    return False


def _is_field(node: Expr, field: str) -> bool:
    return isinstance(node, Path) and node.parts == (field,)


def _is_constant(node: Expr) -> bool:
    return isinstance(node, Literal) and node.kind is not LiteralKind.NULL
