"""The core check: the evaluator and every SQL engine select the same documents.

Each example loads a batch of random documents into every engine (tables are
created once per module) and runs several random queries against it. The
subscription subset (plus comparisons of two properties, which the server
dialects also compile) runs on all four engines and compares primary-key sets;
the local language (dotted paths, quantifiers, aggregates, SORT/DISTINCT/LIMIT)
runs on the evaluator and DuckDB and compares ordered results.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realm_jupyter.query import Query
from realm_jupyter.query.ast import Literal, LiteralKind
from tests.query.engines import assert_agree
from tests.query.loose_asts import replace_literals
from tests.strategies import (
    document_batches,
    hypothesis_settings,
    local_queries,
    server_queries,
    subscription_predicates,
)


def _run(engines: list[Any], batch: list[dict[str, Any]], queries: list[Query],
         ordered: bool = False) -> None:
    for engine in engines:
        engine.load(batch)
    for query in queries:
        assert_agree(engines, query, ordered=ordered, documents=batch)


@hypothesis_settings(max_examples=120)
@given(batch=document_batches(), queries=st.lists(server_queries(), min_size=1, max_size=8))
def test_sqlite_and_duckdb_agree_with_the_evaluator(python_engine: Any, sqlite_engine: Any,
                                                     duckdb_engine: Any, batch: Any,
                                                     queries: Any) -> None:
    _run([python_engine, sqlite_engine, duckdb_engine], batch, queries)


@pytest.mark.postgres
@hypothesis_settings(max_examples=60)
@given(batch=document_batches(), queries=st.lists(server_queries(), min_size=1, max_size=8))
def test_postgresql_agrees_with_the_evaluator(python_engine: Any, postgres_engine: Any,
                                              batch: Any, queries: Any) -> None:
    _run([python_engine, postgres_engine], batch, queries)


@hypothesis_settings(max_examples=120)
@given(batch=document_batches(), queries=st.lists(local_queries(), min_size=1, max_size=8))
def test_local_language_duckdb_agrees_in_order(python_engine: Any, duckdb_engine: Any,
                                               batch: Any, queries: Any) -> None:
    _run([python_engine, duckdb_engine], batch, queries, ordered=True)


def _some_literals(data: st.DataObject) -> Any:
    def choose(literal: Literal) -> bool:
        return literal.kind is not LiteralKind.NULL and data.draw(st.booleans())
    return choose


@hypothesis_settings(max_examples=50)
@given(batch=document_batches(), predicate=subscription_predicates(), data=st.data())
def test_arguments_bind_like_literals(python_engine: Any, sqlite_engine: Any, duckdb_engine: Any,
                                      batch: Any, predicate: Any, data: st.DataObject) -> None:
    """``$n`` arguments (scalars and lists) select what the same literals select."""
    with_args, args = replace_literals(predicate, _some_literals(data))
    engines = [python_engine, sqlite_engine, duckdb_engine]
    for engine in engines:
        engine.load(batch)
    expected = assert_agree(engines, Query(predicate), documents=batch)
    assert assert_agree(engines, Query(with_args), *args, documents=batch) == expected
    assert assert_agree(engines, Query(with_args).bind(*args), documents=batch) == expected
