"""Lists of dates and decimals: elements stored as JSON text (SQLite), JSONB
(PostgreSQL) or typed LISTs (DuckDB) still compare as instants and exact numbers.

A literal finer than the store (a sub-millisecond instant against SQLite's
millisecond JSON text, a decimal with more places than DuckDB's DECIMAL(38, 9))
is moved to the grid in the direction that keeps the answer exact.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from realm_jupyter.documents import validate_document
from realm_jupyter.query import parse
from realm_jupyter.query.ast import CompareOp, Comparison, Literal, LiteralKind, Path, Quantifier
from realm_jupyter.query.query import Query
from realm_jupyter.schema import ObjectSchema
from tests.query.engines import DuckDBEngine, PostgreSQLEngine, PythonEngine, SQLiteEngine, assert_agree
from tests.strategies import DATE_POOL, DECIMAL_POOL, decimals, hypothesis_settings, ms_dates
from tests.support.postgres import PostgresCluster

EVENT = ObjectSchema.from_json_schema({
    "title": "Event", "bsonType": "object",
    "properties": {"_id": {"bsonType": "objectId"},
                   "days": {"bsonType": "array", "items": {"bsonType": "date"}},
                   "amounts": {"bsonType": "array", "items": {"bsonType": "decimal"}}},
})
UTC = dt.UTC
NOON = dt.datetime(2020, 1, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def engines() -> Iterator[list[Any]]:
    made = [PythonEngine(EVENT), SQLiteEngine(EVENT), DuckDBEngine(EVENT)]
    yield made
    for engine in made[1:]:
        engine.close()


@pytest.fixture(scope="module")
def postgres(postgres_cluster: PostgresCluster) -> Iterator[PostgreSQLEngine]:
    engine = PostgreSQLEngine(EVENT, postgres_cluster.create_database(
        f"realm_query_events_{uuid.uuid4().hex[:12]}"))
    yield engine
    engine.close()


def event(days: list[dt.datetime] = (), amounts: list[Decimal] = (),  # type: ignore[assignment]
          n: int = 1) -> dict[str, Any]:
    return validate_document(EVENT, {"_id": ObjectId(f"{n:024x}"), "days": list(days),
                                     "amounts": list(amounts)})


ROWS = [
    ("ANY days > 2020-01-01@12:00:00:500000", [NOON], False),
    ("ANY days > 2020-01-01@12:00:00:500000", [NOON + dt.timedelta(milliseconds=1)], True),
    ("ANY days >= 2020-01-01@12:00:00:500000", [NOON], False),
    ("ANY days < 2020-01-01@12:00:00:500000", [NOON], True),
    ("ANY days <= 2020-01-01@12:00:00:500000", [NOON + dt.timedelta(milliseconds=1)], False),
    ("ANY days == 2020-01-01@12:00:00:500000", [NOON], False),
    ("ALL days != 2020-01-01@12:00:00:500000", [NOON], True),
    ("ANY days == 2020-01-01@12:00:00", [NOON], True),
    ("ANY days BETWEEN {2020-01-01@11:59:59:999500000, 2020-01-01@12:00:00:500000}", [NOON], True),
    ("ANY days BETWEEN {2020-01-01@12:00:00:500000, 2020-01-01@12:00:00:900000}", [NOON], False),
    ("NONE days > 1999-12-31@23:59:59", [dt.datetime(1999, 12, 31, tzinfo=UTC)], True),
    ("ANY amounts >= 1.0000000001", [Decimal("1")], False),
    ("ANY amounts > 1.0000000001", [Decimal("1.000001")], True),
    ("ANY amounts == 0.1", [Decimal("0.100")], True),
    ("ANY amounts < 1e30", [Decimal("999999999999")], True),
    ("ALL amounts != 1e-30", [Decimal("0")], True),
    ("amounts.@sum == 3.5", [Decimal("1.5"), Decimal("2")], True),
]


@pytest.mark.parametrize(("query", "values", "expected"), ROWS)
def test_list_elements(engines: list[Any], query: str, values: list[Any],
                       expected: bool) -> None:
    days = [v for v in values if isinstance(v, dt.datetime)]
    amounts = [v for v in values if isinstance(v, Decimal)]
    batch = [event(days, amounts)]
    for engine in engines:
        engine.load(batch)
    assert assert_agree(engines, parse(query), documents=batch) == (["1".zfill(24)] if expected
                                                                     else [])


@pytest.mark.postgres
@pytest.mark.parametrize(("query", "values", "expected"), ROWS[:11])
def test_list_elements_postgresql(postgres: PostgreSQLEngine, query: str, values: list[Any],
                                  expected: bool) -> None:
    postgres.load([event(values)])
    assert bool(postgres.keys(parse(query))) is expected


def _element_queries() -> st.SearchStrategy[Query]:
    dates = st.one_of(ms_dates, st.sampled_from(DATE_POOL).map(
        lambda d: d + dt.timedelta(microseconds=500)), st.datetimes(timezones=st.just(UTC)))
    numbers = st.one_of(st.sampled_from(DECIMAL_POOL).map(float), st.floats(
        allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53))
    ops = st.sampled_from([CompareOp.EQ, CompareOp.NE, CompareOp.LT, CompareOp.LE,
                           CompareOp.GT, CompareOp.GE])
    quantifiers = st.sampled_from([None, Quantifier.ALL, Quantifier.NONE])
    on_days = st.builds(lambda op, q, d: Comparison(op, Path(("days",)), Literal(
        d, LiteralKind.DATE), quantifier=q), ops, quantifiers, dates)
    on_amounts = st.builds(lambda op, q, n: Comparison(op, Path(("amounts",)), Literal.of(n),
                                                       quantifier=q), ops, quantifiers, numbers)
    return st.one_of(on_days, on_amounts).map(Query)


@hypothesis_settings(max_examples=60)
@given(days=st.lists(ms_dates, max_size=3), amounts=st.lists(decimals, max_size=3),
       queries=st.lists(_element_queries(), min_size=1, max_size=6))
def test_random_element_comparisons(engines: list[Any], days: list[dt.datetime],
                                    amounts: list[Decimal], queries: list[Query]) -> None:
    batch = [event(days, amounts)]
    for engine in engines:
        engine.load(batch)
    for query in queries:
        assert_agree(engines, query, documents=batch)
