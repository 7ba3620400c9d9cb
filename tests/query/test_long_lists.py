"""Long ``IN`` lists compile to one bound array, and every engine still agrees.

A list of more than ``LONG_LIST`` values becomes ``IN (SELECT … FROM json_each(?))``
(SQLite), ``jsonb_array_elements_text`` (PostgreSQL) or ``unnest`` (DuckDB): one
parameter, whatever its length. Before, a 40,000-value subscription exceeded SQLite's
32,766 variables and broke every stream; DuckDB took seconds to bind the parameters.
"""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from realm_jupyter.query import Query, parse
from realm_jupyter.query.ast import CompareOp, Comparison, ListLiteral, Not, Path
from realm_jupyter.query.leaves import LONG_LIST
from realm_jupyter.schema import PropertyType
from tests.query.engines import assert_agree
from tests.strategies import SCALARS, SCHEMA, document_batches, hypothesis_settings, literals

_FIELDS = sorted(name for name, kind in SCALARS.items() if kind is not PropertyType.OBJECT)


@st.composite
def long_lists(draw: st.DrawFn) -> Query:
    """``field IN {…}`` with more than LONG_LIST values of the field's type, maybe negated
    or ``[c]``; values include nil sometimes."""
    name = draw(st.sampled_from(_FIELDS))
    kind = SCALARS[name]
    items = draw(st.lists(literals(kind), min_size=LONG_LIST + 1, max_size=LONG_LIST + 20))
    ci = kind is PropertyType.STRING and draw(st.booleans())
    node: Any = Comparison(CompareOp.IN, Path((name,)), ListLiteral(tuple(items)),
                           case_insensitive=ci)
    return Query(Not(node) if draw(st.booleans()) else node)


def _run(engines: list[Any], batch: list[dict[str, Any]], queries: list[Query]) -> None:
    for engine in engines:
        engine.load(batch)
    for query in queries:
        assert_agree(engines, query, documents=batch)


@hypothesis_settings(max_examples=80)
@given(batch=document_batches(), queries=st.lists(long_lists(), min_size=1, max_size=4))
def test_sqlite_and_duckdb_agree_on_long_lists(python_engine: Any, sqlite_engine: Any,
                                                duckdb_engine: Any, batch: Any,
                                                queries: Any) -> None:
    _run([python_engine, sqlite_engine, duckdb_engine], batch, queries)


@pytest.mark.postgres
@hypothesis_settings(max_examples=40)
@given(batch=document_batches(), queries=st.lists(long_lists(), min_size=1, max_size=4))
def test_postgresql_agrees_on_long_lists(python_engine: Any, postgres_engine: Any, batch: Any,
                                         queries: Any) -> None:
    _run([python_engine, postgres_engine], batch, queries)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "duckdb"])
def test_a_long_list_is_one_parameter(dialect: str) -> None:
    values = ",".join(str(n) for n in range(40_000))
    sql, params = parse(f"priority IN {{{values}}}").compile(SCHEMA, None, dialect)
    assert len(params) == 1 and len(sql) < 500, sql
    short = ",".join(str(n) for n in range(LONG_LIST))
    _, params = parse(f"priority IN {{{short}}}").compile(SCHEMA, None, dialect)
    assert len(params) == LONG_LIST  # short lists keep a parameter a value (and plain SQL)


def _forty_thousand(engines: list[Any]) -> None:
    documents = [{"_id": ObjectId(f"{n:024x}"), "priority": n * 3, "name": f"n{n * 3}"}
                 | {p.name: None for p in SCHEMA if p.name not in ("_id", "priority", "name")}
                 for n in range(200)]
    for engine in engines:
        engine.load(documents)
    numbers = ",".join(str(n) for n in range(40_000))
    names = ",".join(f"'n{n}'" for n in range(0, 600, 2))
    others = ",".join(str(n) for n in range(0, 600, 7))
    for text in (f"priority IN {{{numbers}}}", f"NOT priority IN {{{others}}}",
                 f"name IN[c] {{{names.upper()}}} AND NOT name IN {{'n0', 'n6', 'x'}}"):
        assert_agree(engines, parse(text), documents=documents)


def test_forty_thousand_values_on_sqlite_and_duckdb(python_engine: Any, sqlite_engine: Any,
                                                     duckdb_engine: Any) -> None:
    _forty_thousand([python_engine, sqlite_engine, duckdb_engine])


@pytest.mark.postgres
def test_forty_thousand_values_on_postgresql(python_engine: Any, postgres_engine: Any) -> None:
    _forty_thousand([python_engine, postgres_engine])


def test_a_long_or_chain_compiles_to_a_shallow_tree(sqlite_engine: Any) -> None:
    """SQLite refuses expression trees deeper than 1,000; 5,000 ORed comparisons run."""
    text = " OR ".join(f"priority == {n}" for n in range(5_000))
    sqlite_engine.load([])
    assert sqlite_engine.keys(parse(text)) == []
