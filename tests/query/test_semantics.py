"""Realm's semantics, case by case: ``(query, document, expected)`` on every engine.

Each row is one trap: nulls under ``!=`` and ``NOT``, ``%``/``_`` that must stay
literal, case folding exactly over U+0000–U+024F, ints equal to doubles, exact
decimals, instants, empty lists under ``ALL``/``NONE``, inclusive ``BETWEEN``.
The subscription-language rows run on the evaluator, DuckDB, SQLite and
PostgreSQL; the local-language rows on the evaluator and DuckDB.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from bson import ObjectId

from realm_jupyter.documents import validate_document
from realm_jupyter.query import parse
from tests.strategies import SCHEMA

PK = ObjectId("5f0000000000000000000001")
REF = uuid.UUID("12345678-1234-5678-1234-567812345678")
NOON = dt.datetime(2020, 1, 1, 12, tzinfo=dt.UTC)
MS = dt.timedelta(milliseconds=1)


def row(query: str, expected: bool, **fields: Any) -> Any:
    shown = ", ".join(f"{k}={v!r}" for k, v in fields.items()) or "all null"
    return pytest.param(query, fields, expected, id=f"{query} | {shown} -> {expected}")


SUBSCRIPTION_ROWS = [
    # ---- null under != and NOT
    row("owner_id != 'alice'", True),
    row("owner_id != 'alice'", False, owner_id="alice"),
    row("owner_id != 'alice'", True, owner_id="bob"),
    row("owner_id == 'alice'", False),
    row("owner_id == nil", True),
    row("owner_id == nil", False, owner_id=""),
    row("owner_id != nil", False),
    row("owner_id == null", True),
    row("NOT (owner_id == nil)", True, owner_id="x"),
    row("NOT (priority > 3)", True),
    row("NOT (priority > 3)", False, priority=5),
    row("NOT (priority > 3)", True, priority=3),
    row("priority > 3", False),
    row("priority < 3", False),
    row("priority <= nil", False, priority=1),
    row("NOT (priority <= nil)", True, priority=1),
    row("NOT (priority != 3)", False),
    row("NOT (NOT (priority > 3))", False),
    # ---- LIKE: * and ? are the wildcards, % and _ are literal
    row("name LIKE '100%'", True, name="100%"),
    row("name LIKE '100%'", False, name="100"),
    row("name LIKE '100%'", False, name="1000"),
    row("name LIKE '100%'", False, name="100x"),
    row("name LIKE '100*'", True, name="1000"),
    row("name LIKE '100*'", True, name="100"),
    row("name LIKE 'a?c'", True, name="abc"),
    row("name LIKE 'a?c'", True, name="a_c"),
    row("name LIKE 'a?c'", False, name="ac"),
    row("name LIKE 'a_c'", False, name="abc"),
    row("name LIKE 'a_c'", True, name="a_c"),
    row("name LIKE '*'", True, name=""),
    row("name LIKE '*'", False),
    row("name LIKE '[a]'", True, name="[a]"),
    row("name LIKE '[a]'", False, name="a"),
    row("name LIKE '*\\n*'", True, name="line\nbreak"),
    row("name LIKE '?'", True, name="Å"),
    row("name LIKE[c] 'ÅSA*'", True, name="åsa!"),
    row("NOT (name LIKE 'a*')", True),
    # ---- BEGINSWITH / ENDSWITH / CONTAINS: % and _ are literal
    row("name BEGINSWITH 'a_'", True, name="a_b"),
    row("name BEGINSWITH 'a_'", False, name="axb"),
    row("name BEGINSWITH 'a_'", False, name="ab"),
    row("name BEGINSWITH 'a%'", True, name="a%b"),
    row("name BEGINSWITH 'a%'", False, name="ab"),
    row("name ENDSWITH '_'", True, name="a_"),
    row("name ENDSWITH '_'", False, name="ab"),
    row("name ENDSWITH 'abc'", False, name="bc"),
    row("name CONTAINS '%'", True, name="100%"),
    row("name CONTAINS '%'", False, name="100"),
    row("name CONTAINS ''", True, name="x"),
    row("name CONTAINS ''", False),
    row("NOT (name CONTAINS 'x')", True),
    row("name BEGINSWITH[c] 'AB'", True, name="abc"),
    row("name ENDSWITH[c] 'É'", True, name="café"),
    row("name CONTAINS[c] 'SS'", False, name="straße"),
    # ---- [c] folds U+0000–U+024F one-to-one, nothing else
    row("name ==[c] 'ÅSA'", True, name="åsa"),
    row("name ==[c] 'ÅSA'", True, name="Åsa"),
    row("name ==[c] 'ÅSA'", False, name="asa"),
    row("name == 'ÅSA'", False, name="åsa"),
    row("name ==[c] 'ω'", False, name="Ω"),
    row("name ==[c] 'ǆ'", True, name="Ǆ"),
    row("name ==[c] 'ǆ'", True, name="ǅ"),
    row("name ==[c] 'i'", False, name="İ"),
    row("name ==[c] 'STRASSE'", False, name="straße"),
    row("name ==[c] 'ÿ'", True, name="Ÿ"),
    row("name !=[c] 'ALICE'", False, name="alice"),
    row("name !=[c] 'ALICE'", True),
    row("name IN[c] {'ALICE', 'BOB'}", True, name="bob"),
    # ---- strings order by code point
    row("name < 'b'", True, name="a"),
    row("name < 'b'", True, name="B"),
    row("name < 'b'", True, name="Z"),
    row("name < 'b'", False, name="é"),
    row("name > 'z'", True, name="é"),
    row("name >= 'ab'", True, name="ab"),
    row("name < 'ab'", True, name="a"),
    # ---- numbers: an int equals the same double; decimals compare exactly
    row("3 == 3.0", True),
    row("3 != 3.0", False),
    row("score == 3", True, score=3.0),
    row("priority == 3.0", True, priority=3),
    row("priority == 3.5", False, priority=3),
    row("priority < 3.5", True, priority=3),
    row("score > 2", True, score=2.5),
    row("score == -0.0", True, score=0.0),
    row("price == 1.5", True, price=Decimal("1.50")),
    row("price == 2", True, price=Decimal("2.000")),
    row("price == 0.3", True, price=Decimal("0.3")),
    row("price == 0.30000000000000004", False, price=Decimal("0.3")),
    row("price < 0.30000000000000004", True, price=Decimal("0.3")),
    row("price >= 1.0000000001", False, price=Decimal("1")),
    row("price >= 1.0000000001", True, price=Decimal("1.000001")),
    row("price < 1e30", True, price=Decimal("999999999999")),
    row("price > -1e30", True, price=Decimal("-999999999999")),
    row("price == 1e30", False, price=Decimal("1")),
    row("price != 1e30", True),
    row("NOT (price < 1e30)", True),
    row("price BETWEEN {0.1, 0.30000000000000004}", True, price=Decimal("0.3")),
    # ---- dates are instants, stored with millisecond precision
    row("due == 2020-01-01@12:00:00", True, due=NOON),
    row("due == 2020-01-01T12:00:00", True, due=NOON),
    row("due == T1577880000:0", True, due=NOON),
    row("due == 2020-01-01@12:00:00", True,
        due=dt.datetime(2020, 1, 1, 13, tzinfo=dt.timezone(dt.timedelta(hours=1)))),
    row("due > 2020-01-01@12:00:00:1000000", False, due=NOON + MS),
    row("due >= 2020-01-01@12:00:00:1000000", True, due=NOON + MS),
    row("due > 2020-01-01@12:00:00:500000", True, due=NOON + MS),
    row("due > 2020-01-01@12:00:00:500000", False, due=NOON),
    row("due == 2020-01-01@12:00:00:500000", False, due=NOON),
    row("due < 1970-01-01@00:00:00", True, due=dt.datetime(1969, 12, 31, tzinfo=dt.UTC)),
    row("due BETWEEN {2020-01-01@00:00:00, 2020-01-01@12:00:00}", True, due=NOON),
    row("due > T-1:0", True, due=dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
    # ---- ids
    row("_id == oid(5f0000000000000000000001)", True),
    row("_id == '5f0000000000000000000001'", True),
    row("_id != oid(5f0000000000000000000002)", True),
    row("_id < oid(5f0000000000000000000002)", True),
    row("parent_id == oid(5f0000000000000000000001)", False),
    row("parent_id != oid(5f0000000000000000000001)", True),
    row("ref == uuid(12345678-1234-5678-1234-567812345678)", True, ref=REF),
    row("ref == '12345678-1234-5678-1234-567812345678'", True, ref=REF),
    row("ref < uuid(ffffffff-ffff-ffff-ffff-ffffffffffff)", True, ref=REF),
    row("ref != uuid(12345678-1234-5678-1234-567812345678)", True),
    # ---- bools
    row("done == true", True, done=True),
    row("done == false", False),
    row("done != true", True),
    row("done == false", True, done=False),
    # ---- lists: 'x' IN list, implicit ANY, ALL/NONE on empty lists
    row("'x' IN tags", True, tags=["y", "x"]),
    row("'x' IN tags", False),
    row("'x' IN tags", False, tags=["X"]),
    row("'X' IN[c] tags", True, tags=["x"]),
    row("NOT ('x' IN tags)", True),
    row("5 IN counts", True, counts=[5]),
    row("5.0 IN counts", True, counts=[5]),
    row("tags == 'x'", True, tags=["y", "x"]),
    row("tags != 'x'", False, tags=["x"]),
    row("tags != 'x'", True, tags=["x", "y"]),
    row("tags != 'x'", False),
    row("NOT (tags == 'x')", True),
    row("ANY tags == 'x'", False),
    row("SOME tags == 'x'", True, tags=["x"]),
    row("ALL tags == 'x'", True),
    row("ALL tags == 'x'", True, tags=["x", "x"]),
    row("ALL tags == 'x'", False, tags=["x", "y"]),
    row("NONE tags == 'x'", True),
    row("NONE tags == 'x'", True, tags=["y"]),
    row("NONE tags == 'x'", False, tags=["x"]),
    row("NOT (ALL tags == 'x')", False),
    row("ALL counts > 1", True, counts=[2, 3]),
    row("ALL counts > 1", False, counts=[1, 2]),
    row("ANY counts BETWEEN {2, 3}", False, counts=[1, 4]),
    row("ANY counts BETWEEN {2, 3}", True, counts=[1, 3]),
    row("ALL tags BEGINSWITH 'a_'", True, tags=["a_1", "a_2"]),
    row("ALL tags BEGINSWITH 'a_'", False, tags=["a_1", "ax2"]),
    # ---- IN {...}, with nil among the values
    row("owner_id IN {'alice', nil}", True),
    row("owner_id IN {'alice', nil}", True, owner_id="alice"),
    row("owner_id IN {'alice', nil}", False, owner_id="bob"),
    row("NOT (owner_id IN {'alice', nil})", False),
    row("NOT (owner_id IN {'alice', nil})", True, owner_id="bob"),
    row("owner_id IN {'alice'}", False),
    row("NOT (owner_id IN {'alice'})", True),
    row("owner_id IN {nil}", True),
    row("owner_id IN {}", False),
    row("owner_id IN {}", False, owner_id="x"),
    row("NOT (owner_id IN {})", True),
    row("priority IN {1, 2.0, 3}", True, priority=2),
    row("price IN {1.5, 1e30, 0.0000000001}", True, price=Decimal("1.5")),
    row("NOT (price IN {1e30, 0.0000000001})", True, price=Decimal("0")),
    # ---- BETWEEN is inclusive; a null bound or field is never inside
    row("priority BETWEEN {1, 3}", True, priority=1),
    row("priority BETWEEN {1, 3}", True, priority=3),
    row("priority BETWEEN {1, 3}", False, priority=0),
    row("priority BETWEEN {1, 3}", False, priority=4),
    row("priority BETWEEN {1, 3}", False),
    row("NOT (priority BETWEEN {1, 3})", True),
    row("NOT (priority BETWEEN {1, 3})", True, priority=4),
    row("priority BETWEEN {3, 1}", False, priority=2),
    row("priority BETWEEN {nil, 3}", False, priority=2),
    row("NOT (priority BETWEEN {nil, 3})", True, priority=2),
    row("score BETWEEN {1, 2}", True, score=2.0),
    row("name BETWEEN {'a', 'b'}", True, name="a_"),
    # ---- constants, precedence and spellings
    row("TRUEPREDICATE", True),
    row("FALSEPREDICATE", False),
    row("NOT FALSEPREDICATE", True),
    row("priority == 1 OR priority == 2 AND name == 'x'", True, priority=1, name="y"),
    row("(priority == 1 OR priority == 2) AND name == 'x'", False, priority=1, name="y"),
    row("NOT priority == 1 AND name == 'x'", True, priority=2, name="x"),
    row("NOT priority == 1 AND name == 'x'", False, priority=1, name="x"),
    row("!(priority = 1) || name <> 'x'", False, priority=1, name="x"),
    row("priority == 1 && name == 'x'", True, priority=1, name="x"),
    # ---- string literals with escapes
    row("name == 'it\\'s'", True, name="it's"),
    row('name == "say \\"hi\\""', True, name='say "hi"'),
    row("name == 'back\\\\slash'", True, name="back\\slash"),
    row("name == 'line\\nbreak'", True, name="line\nbreak"),
    row("name == '\\u00c5sa'", True, name="Åsa"),
    row("name == ''", True, name=""),
    row("name == ''", False),
    row("name != ''", True),
    # ---- two properties
    row("priority == score", True, priority=3, score=3.0),
    row("priority == score", True),
    row("priority != score", True, priority=3),
    row("priority < score", False, priority=3),
    row("NOT (priority < score)", True, priority=3),
    row("name ==[c] owner_id", True, name="ÅSA", owner_id="åsa"),
    row("name BEGINSWITH owner_id", True, name="a_b", owner_id="a_"),
    row("name ENDSWITH owner_id", True, name="ab", owner_id=""),
    row("name CONTAINS owner_id", False, name="ab"),
]

LOCAL_ROWS = [
    row("address.city == 'Oslo'", True, address={"city": "Oslo"}),
    row("address.city == 'Oslo'", False),
    row("address.city == nil", True),
    row("address.city ==[c] 'OSLO'", True, address={"city": "oslo"}),
    row("address == nil", True),
    row("address != nil", True, address={}),
    row("address.zip > 5", False),
    row("NOT (address.zip > 5)", True),
    row("address.zip IN counts", True, address={"zip": 2}, counts=[1, 2]),
    row("address.city IN tags", False, tags=["x"]),
    row("tags.@count == 0", True),
    row("tags.@size == 2", True, tags=["a", "b"]),
    row("counts.@sum == 0", True),
    row("counts.@sum == 6", True, counts=[1, 2, 3]),
    row("counts.@avg == 2", True, counts=[1, 2, 3]),
    row("counts.@avg == nil", True),
    row("counts.@avg > 0", False),
    row("NOT (counts.@avg > 0)", True),
    row("counts.@min == 1", True, counts=[3, 1, 2]),
    row("counts.@max == 3", True, counts=[3, 1, 2]),
    row("counts.@max BETWEEN {2, 3}", True, counts=[3, 1]),
    row("name.@size == 3", True, name="abc"),
    row("name.@size == 3", True, name="Åsa"),
    row("name.@size == nil", True),
    row("name.@count == 0", False),
    row("ANY tags == name", True, tags=["a", "b"], name="a"),
    row("ALL tags == name", True),
    row("NONE tags ==[c] name", False, tags=["A"], name="a"),
    row("ALL counts < priority", True, counts=[1, 2], priority=3),
    row("ALL counts < priority", False, counts=[1, 2]),
    row("name IN tags", True, tags=["a"], name="a"),
    row("name IN tags", False, tags=["a"]),
    row("NOT (name IN tags)", True, tags=["a"]),
    row("ALL tags IN {'a', 'b'}", True, tags=["a", "b"]),
    row("ANY tags IN {'a', nil}", False, tags=["c"]),
]

SERVER_ENGINES = ["python", "duckdb", "sqlite",
                  pytest.param("postgresql", marks=pytest.mark.postgres)]
_FIXTURES = {"python": "python_engine", "duckdb": "duckdb_engine", "sqlite": "sqlite_engine",
             "postgresql": "postgres_engine"}


def _matches(request: pytest.FixtureRequest, engine_name: str, query: str,
             fields: dict[str, Any]) -> bool:
    engine = request.getfixturevalue(_FIXTURES[engine_name])
    engine.load([validate_document(SCHEMA, {"_id": PK, **fields})])
    keys = engine.keys(parse(query))
    assert keys in ([], [str(PK)])
    return bool(keys)


@pytest.mark.parametrize("engine_name", SERVER_ENGINES)
@pytest.mark.parametrize(("query", "fields", "expected"), SUBSCRIPTION_ROWS)
def test_subscription_language(request: pytest.FixtureRequest, engine_name: str, query: str,
                               fields: dict[str, Any], expected: bool) -> None:
    assert _matches(request, engine_name, query, fields) is expected


@pytest.mark.parametrize("engine_name", ["python", "duckdb"])
@pytest.mark.parametrize(("query", "fields", "expected"), LOCAL_ROWS)
def test_local_language(request: pytest.FixtureRequest, engine_name: str, query: str,
                        fields: dict[str, Any], expected: bool) -> None:
    assert _matches(request, engine_name, query, fields) is expected
