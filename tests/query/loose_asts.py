"""Query ASTs without a schema behind them: for round-trips and fuzzing only.

:func:`arbitrary_asts` builds anything the parser can produce (random property
names, aggregates, arguments, lists, modifiers); :func:`replace_literals` turns
literals of a predicate into ``$n`` arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import strategies as st

from realm_jupyter.query import Query
from realm_jupyter.query.ast import (
    Aggregate,
    AggregateOp,
    And,
    Arg,
    Between,
    CompareOp,
    Comparison,
    Distinct,
    Limit,
    ListLiteral,
    Literal,
    Not,
    Or,
    Path,
    Predicate,
    Quantifier,
    Sort,
    SortKey,
)
from realm_jupyter.query.tokens import KEYWORDS
from tests.strategies import CONSTANTS, LITERAL_KINDS, combine, literals

__all__ = ["arbitrary_asts", "replace_literals"]

_identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True).filter(
    lambda word: word.upper() not in KEYWORDS)


@st.composite
def _loose_value(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(LITERAL_KINDS))
    return draw(literals(kind))


@cache
def arbitrary_asts() -> st.SearchStrategy[Query]:
    """Syntactically valid ASTs with no schema behind them (for round-trips only)."""
    paths = st.lists(_identifiers, min_size=1, max_size=3).map(lambda ps: Path(tuple(ps)))
    aggregates = st.one_of(
        st.builds(Aggregate, paths, st.sampled_from(list(AggregateOp))),
        st.builds(Aggregate, paths, st.sampled_from(
            (AggregateOp.SUM, AggregateOp.AVG, AggregateOp.MIN, AggregateOp.MAX)), _identifiers))
    scalars = st.one_of(paths, aggregates, _loose_value(), st.integers(0, 20).map(Arg))
    lists = st.lists(st.one_of(_loose_value(), st.integers(0, 3).map(Arg)), max_size=3).map(
        lambda items: ListLiteral(tuple(items)))
    values = st.one_of(scalars, scalars, lists)
    quantifiers = st.sampled_from((None, *Quantifier))
    comparisons = st.builds(Comparison, st.sampled_from(list(CompareOp)), values, values,
                            st.booleans(), quantifiers).filter(
        lambda c: not (c.case_insensitive and c.op.is_ordering))
    betweens = st.builds(Between, scalars, scalars, scalars, quantifiers)
    leaves = st.one_of(comparisons, betweens, CONSTANTS)
    sort_paths = paths
    mods = st.lists(st.one_of(
        st.lists(st.builds(SortKey, sort_paths, st.booleans()), min_size=1, max_size=2).map(
            lambda keys: Sort(tuple(keys))),
        st.lists(sort_paths, min_size=1, max_size=2).map(lambda ps: Distinct(tuple(ps))),
        st.integers(0, 2**63 - 1).map(Limit)), max_size=3).map(tuple)
    return st.builds(Query, combine(leaves, 8), mods)


def replace_literals(predicate: Predicate,
                     choose: Callable[[Literal], bool]) -> tuple[Predicate, list[Any]]:
    """``predicate`` with chosen literals turned into ``$n`` arguments, and the arguments."""
    args: list[Any] = []

    def visit(node: Any) -> Any:
        if isinstance(node, Literal):
            if choose(node):
                args.append(node.value)
                return Arg(len(args) - 1)
            return node
        if isinstance(node, ListLiteral):
            if node.items and all(isinstance(i, Literal) for i in node.items) and choose(
                    node.items[0]):
                args.append([i.value for i in node.items])  # type: ignore[union-attr]
                return Arg(len(args) - 1)
            return node
        if isinstance(node, Comparison):
            return Comparison(node.op, visit(node.left), visit(node.right),
                              node.case_insensitive, node.quantifier)
        if isinstance(node, Between):
            return Between(visit(node.value), visit(node.low), visit(node.high), node.quantifier)
        if isinstance(node, And | Or):
            return type(node)(tuple(visit(op) for op in node.operands))
        if isinstance(node, Not):
            return Not(visit(node.operand))
        return node

    return visit(predicate), args
