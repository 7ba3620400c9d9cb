"""``LIKE`` in linear time: the same answers as a reference, and no backtracking blow-up.

A backtracking regex (the evaluator's former ``LIKE``) takes combinatorial time on
``*a*a*a*a*a*a*a*ab`` against a run of ``a``: one 50-character write stalled a
server for seconds, a few hundred characters for longer than anyone waits. The
references here are only ever run on short strings.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from realm_jupyter.query import parse
from realm_jupyter.query.values import fold, like
from tests.query.engines import assert_agree
from tests.strategies import SCHEMA, hypothesis_settings

PATHOLOGICAL = "*a*a*a*a*a*a*a*ab"


def regex_like(text: str, pattern: str) -> bool:
    """The former translation to a regex: right, but exponential on some patterns."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.fullmatch("".join(parts), text, re.DOTALL) is not None


def brute_like(text: str, pattern: str) -> bool:
    """Straight from the definition, by recursion over both strings (short inputs only)."""

    @cache
    def match(i: int, j: int) -> bool:
        if j == len(pattern):
            return i == len(text)
        if pattern[j] == "*":
            return any(match(k, j + 1) for k in range(i, len(text) + 1))
        return i < len(text) and pattern[j] in ("?", text[i]) and match(i + 1, j + 1)

    return match(0, 0)


_TEXT = st.text(alphabet="ab?*%_\n\\é", max_size=10)
_PATTERN = st.text(alphabet="ab??**%_\\é", max_size=9)


@hypothesis_settings(max_examples=2000)
@given(text=_TEXT, pattern=_PATTERN)
def test_like_agrees_with_the_references_on_short_strings(text: str, pattern: str) -> None:
    assert like(text, pattern) == regex_like(text, pattern) == brute_like(text, pattern)


@hypothesis_settings(max_examples=300)
@given(pieces=st.lists(st.sampled_from(["a", "b", "ab", "?", "*", "??", "**"]), max_size=8),
       text=st.text(alphabet="ab", max_size=12))
def test_like_agrees_on_star_heavy_patterns(pieces: list[str], text: str) -> None:
    pattern = "".join(pieces)
    assert like(text, pattern) == brute_like(text, pattern)


@pytest.mark.parametrize(("text", "expected"), [
    ("a" * 50_000, False),
    ("a" * 50_000 + "b", True),
    ("ab" * 25_000, True),
    ("b" + "a" * 50_000, False),
])
def test_the_pathological_pattern_on_long_strings(text: str, expected: bool) -> None:
    """Each of these would not finish with backtracking (C(50000, 7) ways to place the stars)."""
    assert like(text, PATHOLOGICAL) is expected
    assert like(text + "x", PATHOLOGICAL) is False


@pytest.mark.parametrize("pattern", ["*" + "?" * 300 + "b*", "*" + "a?" * 150 + "b*",
                                     "?" * 10 + "*" + "a" * 300 + "b", "*a*" * 100 + "b"])
def test_question_marks_and_long_segments_on_long_strings(pattern: str) -> None:
    text = "a" * 200_000
    assert like(text, pattern) is False
    assert like(text + "b", pattern) is True


def test_case_insensitive_like_folds_both_sides() -> None:
    query = parse("name LIKE[c] $0")
    assert query.matches({"name": "ÅSA" * 20_000 + "B"}, fold(PATHOLOGICAL.upper()))
    assert not query.matches({"name": "Åsa" * 20_000}, PATHOLOGICAL)


def _documents() -> list[dict[str, Any]]:
    texts = ["a" * 60, "a" * 5_000, "a" * 5_000 + "b", "ab" * 2_500, "b" * 60 + "ab", "", None]
    return [{"_id": ObjectId(f"{n:024x}"), "name": text} | {p.name: None for p in SCHEMA
                                                            if p.name not in ("_id", "name")}
            for n, text in enumerate(texts)]


def _check(engines: list[Any]) -> None:
    documents = _documents()
    for engine in engines:
        engine.load(documents)
    for text in (f"name LIKE '{PATHOLOGICAL}'", f"NOT name LIKE '{PATHOLOGICAL}'",
                 f"name LIKE[c] '{PATHOLOGICAL.upper()}'", "name LIKE '*?a*a?*b'"):
        assert_agree(engines, parse(text), documents=documents)


def test_sqlite_and_duckdb_agree_on_the_pathological_pattern(python_engine: Any,
                                                              sqlite_engine: Any,
                                                              duckdb_engine: Any) -> None:
    """SQLite's GLOB and DuckDB's LIKE prune failed stars: polynomial, no blow-up."""
    _check([python_engine, sqlite_engine, duckdb_engine])


@pytest.mark.postgres
def test_postgresql_agrees_on_the_pathological_pattern(python_engine: Any,
                                                       postgres_engine: Any) -> None:
    """PostgreSQL's LIKE gives up a star once the rest cannot match (LIKE_ABORT)."""
    _check([python_engine, postgres_engine])
