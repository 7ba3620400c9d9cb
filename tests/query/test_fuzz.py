"""Fuzzing the front end: any text either parses or raises QuerySyntaxError with a
caret inside the text — nothing else escapes. Queries that parse and type-check
compile for every dialect and evaluate without crashing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realm_jupyter.errors import QueryError, QuerySyntaxError
from realm_jupyter.query import Query, parse
from tests.query.loose_asts import arbitrary_asts
from tests.strategies import (
    SCHEMA,
    documents,
    hypothesis_settings,
    local_queries,
    subscription_queries,
)

_TOKENS = ["==", "=", "!=", "<>", "<", "<=", ">", ">=", "&&", "||", "!", "AND", "OR", "NOT",
           "IN", "BETWEEN", "BEGINSWITH", "LIKE", "[c]", "[d]", "ANY", "ALL", "NONE", "(", ")",
           "{", "}", ",", ".", "@count", "@sum", "@links", "nil", "TRUEPREDICATE", "'", '"',
           "\\", "$0", "$", "oid(", "uuid(", "T1:2", "2020-13-45@25:61:61", "1e999", "-",
           "+", "*", "/", "SORT(", "LIMIT(", "DISTINCT(", "ASC", "SUBQUERY", "@", "[", "1" * 5000]


def assert_parses_or_points(text: str) -> Query | None:
    try:
        return parse(text)
    except QuerySyntaxError as error:
        assert error.query == text
        assert error.position is not None
        assert 0 <= error.position <= len(text), (error.position, len(text))
        assert error.line is not None and error.column is not None
        rendered = error.render()
        assert rendered.startswith(error.message)
        caret_line = rendered.splitlines()[-1]
        assert caret_line.strip() == "^"
        assert f"line {error.line}, column {error.column}" in str(error)
        return None


@hypothesis_settings(max_examples=500)
@given(text=st.text(max_size=60))
def test_arbitrary_text(text: str) -> None:
    assert_parses_or_points(text)


@hypothesis_settings(max_examples=500)
@given(parts=st.lists(st.one_of(st.sampled_from(_TOKENS), st.text(max_size=3)), max_size=12),
       separators=st.sampled_from([" ", "", "\n", "\t "]))
def test_token_soup(parts: list[str], separators: str) -> None:
    assert_parses_or_points(separators.join(parts))


_VALID = st.one_of(subscription_queries(), local_queries(), arbitrary_asts())
_INSERTS = st.one_of(st.sampled_from(_TOKENS[:-1]), st.text(max_size=2))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    query = draw(_VALID)
    text = query.render()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "duplicate", "truncate"]))
        if action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 4)):]
        elif action == "insert":
            text = text[:at] + draw(_INSERTS) + text[at:]
        elif action == "duplicate":
            text = text[:at] + text[at: at + 6] + text[at:]
        else:
            text = text[:at]
    return text


@hypothesis_settings(max_examples=250)
@given(text=mutated(), document=documents())
def test_mutated_queries(text: str, document: dict[str, Any]) -> None:
    """Broken queries are refused with a caret; surviving ones compile or raise a
    QueryError, and a query that compiles evaluates without an exception."""
    query = assert_parses_or_points(text)
    if query is None:
        return
    assert parse(query.render()) == query
    compiled = False
    for dialect in ("duckdb", "sqlite", "postgresql"):
        try:
            query.compile(SCHEMA, None, dialect)
            compiled = True
        except QueryError as error:
            if error.position is not None and error.query is not None:
                assert 0 <= error.position <= len(error.query)
    if compiled and query.argument_count == 0:
        query.matches(document)
        query.filter([document])


@pytest.mark.parametrize("depth", [1, 50, 100, 101, 1000, 10_000])
def test_deep_nesting_is_a_syntax_error_not_a_crash(depth: int) -> None:
    """Up to 100 levels of parentheses and NOT parse; deeper is refused with a caret."""
    allowed = depth <= 100
    assert (assert_parses_or_points("(" * depth + "a == 1" + ")" * depth) is not None) == allowed
    assert (assert_parses_or_points("NOT " * depth + "a == 1") is not None) == allowed
    mixed = "!(" * (depth // 2) + "a == 1" + ")" * (depth // 2)
    assert (assert_parses_or_points(mixed) is not None) == (depth // 2 * 2 <= 100)


def test_huge_numbers_are_syntax_errors() -> None:
    assert assert_parses_or_points("a == " + "9" * 5000) is None
    assert assert_parses_or_points("a == 99999999999999999999") is None  # beyond 64 bits
    assert assert_parses_or_points("a == 1e999") is None
    assert assert_parses_or_points("a == T99999999999999999999:0") is None
