# ruff: noqa: E501  (golden SQL reads best on one line)
"""Golden tables for the compiler: the exact condition and parameters per dialect.

Every constant travels as a bound parameter; ``assert_no_literals`` checks that
the SQL text holds no constant of the query (only structural 0/1, the decimal
type, ``ESCAPE '\\'`` and property names from the schema).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given

from realm_jupyter.errors import UnsupportedQueryError
from realm_jupyter.query import PostgreSQLDialect, Query, SQLiteDialect, parse
from realm_jupyter.query.dialects import FOLD_PARAMS
from tests.strategies import SCHEMA, hypothesis_settings, local_queries, server_queries

FOLD = FOLD_PARAMS
DIALECTS = {"duckdb": "duckdb", "sqlite": "sqlite",
            "postgresql": PostgreSQLDialect(paramstyle="format")}
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w.$%])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")
_ALLOWED_STRINGS = {"'\\'", "'city'", "'zip'"} | {f"'{c}'" for c in FOLD[0] + FOLD[1]}
_FOLD_CALL = re.compile(r'realm_fold\(("[^"]+")\)')


def _expand_fold(sql: str) -> str:
    """Goldens write SQLite's case fold as ``realm_fold(x)``; the compiler spells it out."""
    return _FOLD_CALL.sub(lambda m: SQLiteDialect().fold(m.group(1), []), sql)


def assert_no_literals(sql: str) -> None:
    """No constant is spelled in the SQL: only schema names and structural numbers."""
    strings = set(_STRING_LITERAL.findall(sql)) - _ALLOWED_STRINGS
    assert not strings, f"string literals in SQL: {strings}\n{sql}"
    numbers = set(_NUMBER.findall(sql.replace("DECIMAL(38, 9)", "DECIMAL"))) - {"0", "1"}
    assert not numbers, f"numbers in SQL: {numbers}\n{sql}"


def assert_compiles(rql: str, **expected: Any) -> None:
    """``expected[dialect]`` is ``(where, params)`` or the exception class it raises."""
    query = parse(rql)
    for name, want in expected.items():
        dialect = DIALECTS[name]
        if isinstance(want, type):
            with pytest.raises(want):
                query.compile(SCHEMA, None, dialect)
            continue
        compiled = query.compile(SCHEMA, None, dialect)
        where = _expand_fold(want[0]) if name == "sqlite" else want[0]
        assert (compiled.where, list(compiled.where_params)) == (where, list(want[1])), name
        assert_no_literals(compiled.sql)
        sql, params = compiled
        assert sql == compiled.sql and params == list(compiled.params)


def case(rql: str, **expected: Any) -> Any:
    return pytest.param(rql, expected, id=rql)


CASES = [
    case('priority == 42',
         duckdb=('"priority" = ?::BIGINT', [42]),
         sqlite=('"priority" = ?', [42]),
         postgresql=('"priority" = %s::bigint', [42]),
         ),
    case('priority != 42',
         duckdb=('("priority" IS NULL OR "priority" <> ?::BIGINT)', [42]),
         sqlite=('("priority" IS NULL OR "priority" <> ?)', [42]),
         postgresql=('("priority" IS NULL OR "priority" <> %s::bigint)', [42]),
         ),
    case('priority < 42',
         duckdb=('"priority" < ?::BIGINT', [42]),
         sqlite=('"priority" < ?', [42]),
         postgresql=('"priority" < %s::bigint', [42]),
         ),
    case('priority >= 42',
         duckdb=('"priority" >= ?::BIGINT', [42]),
         sqlite=('"priority" >= ?', [42]),
         postgresql=('"priority" >= %s::bigint', [42]),
         ),
    case('NOT (priority > 42)',
         duckdb=('("priority" IS NULL OR "priority" <= ?::BIGINT)', [42]),
         sqlite=('("priority" IS NULL OR "priority" <= ?)', [42]),
         postgresql=('("priority" IS NULL OR "priority" <= %s::bigint)', [42]),
         ),
    case('42 < priority',
         duckdb=('"priority" > ?::BIGINT', [42]),
         sqlite=('"priority" > ?', [42]),
         postgresql=('"priority" > %s::bigint', [42]),
         ),
    case("owner_id != 'alice'",
         duckdb=('("owner_id" IS NULL OR "owner_id" <> ?::VARCHAR)', ['alice']),
         sqlite=('("owner_id" IS NULL OR "owner_id" <> ?)', ['alice']),
         postgresql=('("owner_id" IS NULL OR "owner_id" <> %s::text)', ['alice']),
         ),
    case('owner_id == nil',
         duckdb=('"owner_id" IS NULL', []),
         sqlite=('"owner_id" IS NULL', []),
         postgresql=('"owner_id" IS NULL', []),
         ),
    case('owner_id != nil',
         duckdb=('"owner_id" IS NOT NULL', []),
         sqlite=('"owner_id" IS NOT NULL', []),
         postgresql=('"owner_id" IS NOT NULL', []),
         ),
    case('NOT (owner_id == nil)',
         duckdb=('"owner_id" IS NOT NULL', []),
         sqlite=('"owner_id" IS NOT NULL', []),
         postgresql=('"owner_id" IS NOT NULL', []),
         ),
    case('priority > nil',
         duckdb=('FALSE', []),
         sqlite=('0', []),
         postgresql=('FALSE', []),
         ),
    case("owner_id IN {'alice', nil}",
         duckdb=('("owner_id" IN (?::VARCHAR) OR "owner_id" IS NULL)', ['alice']),
         sqlite=('("owner_id" IN (?) OR "owner_id" IS NULL)', ['alice']),
         postgresql=('("owner_id" IN (%s::text) OR "owner_id" IS NULL)', ['alice']),
         ),
    case("NOT (owner_id IN {'alice', nil})",
         duckdb=('("owner_id" IS NOT NULL AND "owner_id" NOT IN (?::VARCHAR))', ['alice']),
         sqlite=('("owner_id" IS NOT NULL AND "owner_id" NOT IN (?))', ['alice']),
         postgresql=('("owner_id" IS NOT NULL AND "owner_id" NOT IN (%s::text))', ['alice']),
         ),
    case("NOT (owner_id IN {'alice'})",
         duckdb=('("owner_id" IS NULL OR "owner_id" NOT IN (?::VARCHAR))', ['alice']),
         sqlite=('("owner_id" IS NULL OR "owner_id" NOT IN (?))', ['alice']),
         postgresql=('("owner_id" IS NULL OR "owner_id" NOT IN (%s::text))', ['alice']),
         ),
    case('owner_id IN {nil}',
         duckdb=('"owner_id" IS NULL', []),
         sqlite=('"owner_id" IS NULL', []),
         postgresql=('"owner_id" IS NULL', []),
         ),
    case('owner_id IN {}',
         duckdb=('FALSE', []),
         sqlite=('0', []),
         postgresql=('FALSE', []),
         ),
    case('NOT (owner_id IN {})',
         duckdb=('TRUE', []),
         sqlite=('1', []),
         postgresql=('TRUE', []),
         ),
    case("owner_id IN[c] {'Alice', 'BOB'}",
         # DuckDB folds with lower() where that is exact; 'i' guards the dotted capital İ
         duckdb=('lower(replace("owner_id", ?, ?)) IN (?, ?)', ['\u0130', '\uffff', 'alice', 'bob']),
         sqlite=('realm_fold("owner_id") IN (?, ?)', ['alice', 'bob']),
         postgresql=('translate("owner_id", %s, %s) IN (%s, %s)', [*FOLD, 'alice', 'bob']),
         ),
    case("'x' IN tags",
         duckdb=('len(list_filter("tags", lambda e1: e1 = ?::VARCHAR)) > 0', ['x']),
         sqlite=('EXISTS (SELECT 1 FROM json_each("tags") AS e1 WHERE e1.value = ?)', ['x']),
         postgresql=('EXISTS (SELECT 1 FROM jsonb_array_elements_text("tags") AS e1(v) WHERE e1.v = %s::text)', ['x']),
         ),
    case("NOT ('x' IN tags)",
         duckdb=('NOT (len(list_filter("tags", lambda e1: e1 = ?::VARCHAR)) > 0)', ['x']),
         sqlite=('NOT (EXISTS (SELECT 1 FROM json_each("tags") AS e1 WHERE e1.value = ?))', ['x']),
         postgresql=('NOT (EXISTS (SELECT 1 FROM jsonb_array_elements_text("tags") AS e1(v) WHERE e1.v = %s::text))', ['x']),
         ),
    case('ANY counts > 42',
         duckdb=('len(list_filter("counts", lambda e1: e1 > ?::BIGINT)) > 0', [42]),
         sqlite=('EXISTS (SELECT 1 FROM json_each("counts") AS e1 WHERE e1.value > ?)', [42]),
         postgresql=('EXISTS (SELECT 1 FROM jsonb_array_elements_text("counts") AS e1(v) WHERE (e1.v)::bigint > %s::bigint)', [42]),
         ),
    case('ALL counts > 42',
         duckdb=('NOT (len(list_filter("counts", lambda e1: (e1 IS NULL OR e1 <= ?::BIGINT))) > 0)', [42]),
         sqlite=('NOT (EXISTS (SELECT 1 FROM json_each("counts") AS e1 WHERE (e1.value IS NULL OR e1.value <= ?)))', [42]),
         postgresql=('NOT (EXISTS (SELECT 1 FROM jsonb_array_elements_text("counts") AS e1(v) WHERE (e1.v IS NULL OR (e1.v)::bigint <= %s::bigint)))', [42]),
         ),
    case('NONE counts > 42',
         duckdb=('NOT (len(list_filter("counts", lambda e1: e1 > ?::BIGINT)) > 0)', [42]),
         sqlite=('NOT (EXISTS (SELECT 1 FROM json_each("counts") AS e1 WHERE e1.value > ?))', [42]),
         postgresql=('NOT (EXISTS (SELECT 1 FROM jsonb_array_elements_text("counts") AS e1(v) WHERE (e1.v)::bigint > %s::bigint))', [42]),
         ),
    case("NOT (ALL tags == 'x')",
         duckdb=('len(list_filter("tags", lambda e1: (e1 IS NULL OR e1 <> ?::VARCHAR))) > 0', ['x']),
         sqlite=('EXISTS (SELECT 1 FROM json_each("tags") AS e1 WHERE (e1.value IS NULL OR e1.value <> ?))', ['x']),
         postgresql=('EXISTS (SELECT 1 FROM jsonb_array_elements_text("tags") AS e1(v) WHERE (e1.v IS NULL OR e1.v <> %s::text))', ['x']),
         ),
    case("ALL tags BEGINSWITH 'x'",
         duckdb=('NOT (len(list_filter("tags", lambda e1: (e1 IS NULL OR NOT (starts_with(e1, ?))))) > 0)', ['x']),
         sqlite=('NOT (EXISTS (SELECT 1 FROM json_each("tags") AS e1 WHERE (e1.value IS NULL OR NOT (substr(e1.value, 1, ?) = ?))))', [1, 'x']),
         postgresql=('NOT (EXISTS (SELECT 1 FROM jsonb_array_elements_text("tags") AS e1(v) WHERE (e1.v IS NULL OR NOT (starts_with(e1.v, %s)))))', ['x']),
         ),
    case("name ==[c] 'ÅSA'",
         duckdb=('lower(replace("name", ?, ?)) = ?::VARCHAR', ['\u212b', '\uffff', 'åsa']),
         sqlite=('realm_fold("name") = ?', ['åsa']),
         postgresql=('translate("name", %s, %s) = %s::text', [*FOLD, 'åsa']),
         ),
    case("name !=[c] 'ÅSA'",
         duckdb=('("name" IS NULL OR lower(replace("name", ?, ?)) <> ?::VARCHAR)',
                 ['\u212b', '\uffff', 'åsa']),
         sqlite=('("name" IS NULL OR realm_fold("name") <> ?)', ['åsa']),
         postgresql=('("name" IS NULL OR translate("name", %s, %s) <> %s::text)', [*FOLD, 'åsa']),
         ),
    case("name LIKE '100%*?'",
         duckdb=('"name" LIKE ? ESCAPE \'\\\'', ['100\\%%_']),
         sqlite=('"name" GLOB ?', ['100%*?']),
         postgresql=('"name" LIKE %s ESCAPE \'\\\'', ['100\\%%_']),
         ),
    case("name LIKE[c] 'A_*'",
         duckdb=('lower("name") LIKE ? ESCAPE \'\\\'', ['a\\_%']),
         sqlite=('realm_fold("name") GLOB ?', ['a_*']),
         postgresql=('translate("name", %s, %s) LIKE %s ESCAPE \'\\\'', [*FOLD, 'a\\_%']),
         ),
    case("NOT (name LIKE 'a*')",
         duckdb=('("name" IS NULL OR NOT ("name" LIKE ? ESCAPE \'\\\'))', ['a%']),
         sqlite=('("name" IS NULL OR NOT ("name" GLOB ?))', ['a*']),
         postgresql=('("name" IS NULL OR NOT ("name" LIKE %s ESCAPE \'\\\'))', ['a%']),
         ),
    case("name BEGINSWITH 'a_'",
         duckdb=('starts_with("name", ?)', ['a_']),
         sqlite=('substr("name", 1, ?) = ?', [2, 'a_']),
         postgresql=('starts_with("name", %s)', ['a_']),
         ),
    case("name BEGINSWITH ''",
         duckdb=('"name" IS NOT NULL', []),
         sqlite=('"name" IS NOT NULL', []),
         postgresql=('"name" IS NOT NULL', []),
         ),
    case("name ENDSWITH 'a_'",
         duckdb=('ends_with("name", ?)', ['a_']),
         sqlite=('substr("name", -?) = ?', [2, 'a_']),
         postgresql=('right("name", %s) = %s', [2, 'a_']),
         ),
    case("name CONTAINS[c] 'a%'",
         duckdb=('contains(lower("name"), ?)', ['a%']),
         sqlite=('instr(realm_fold("name"), ?) > 0', ['a%']),
         postgresql=('strpos(translate("name", %s, %s), %s) > 0', [*FOLD, 'a%']),
         ),
    case("NOT (name CONTAINS 'x')",
         duckdb=('("name" IS NULL OR NOT (contains("name", ?)))', ['x']),
         sqlite=('("name" IS NULL OR NOT (instr("name", ?) > 0))', ['x']),
         postgresql=('("name" IS NULL OR NOT (strpos("name", %s) > 0))', ['x']),
         ),
    case('priority BETWEEN {10, 20}',
         duckdb=('("priority" >= ?::BIGINT AND "priority" <= ?::BIGINT)', [10, 20]),
         sqlite=('("priority" >= ? AND "priority" <= ?)', [10, 20]),
         postgresql=('("priority" >= %s::bigint AND "priority" <= %s::bigint)', [10, 20]),
         ),
    case('NOT (score BETWEEN {1.5, 2.5})',
         duckdb=('("score" IS NULL OR "score" < ?::DOUBLE OR "score" > ?::DOUBLE)', [1.5, 2.5]),
         sqlite=('("score" IS NULL OR "score" < ? OR "score" > ?)', [1.5, 2.5]),
         postgresql=('("score" IS NULL OR "score" < %s::double precision OR "score" > %s::double precision)', [1.5, 2.5]),
         ),
    case('priority BETWEEN {nil, 20}',
         duckdb=('FALSE', []),
         sqlite=('0', []),
         postgresql=('FALSE', []),
         ),
    case('due > 2020-01-02@03:04:05',
         duckdb=('"due" > ?::TIMESTAMPTZ', [datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)]),
         sqlite=('"due" > ?', [1577934245000]),
         postgresql=('"due" > %s::timestamptz', [datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)]),
         ),
    case('due == T1600000000:5000000',
         duckdb=('"due" = ?::TIMESTAMPTZ', [datetime.datetime(2020, 9, 13, 12, 26, 40, 5000, tzinfo=datetime.UTC)]),
         sqlite=('"due" = ?', [1600000000005]),
         postgresql=('"due" = %s::timestamptz', [datetime.datetime(2020, 9, 13, 12, 26, 40, 5000, tzinfo=datetime.UTC)]),
         ),
    case('due <= 2020-01-02@03:04:05:1500000',
         duckdb=('"due" <= ?::TIMESTAMPTZ', [datetime.datetime(2020, 1, 2, 3, 4, 5, 1500, tzinfo=datetime.UTC)]),
         sqlite=('"due" <= ?', [1577934245001.5]),
         postgresql=('"due" <= %s::timestamptz', [datetime.datetime(2020, 1, 2, 3, 4, 5, 1500, tzinfo=datetime.UTC)]),
         ),
    case('due BETWEEN {2020-01-01@00:00:00, 2021-01-01@00:00:00}',
         duckdb=('("due" >= ?::TIMESTAMPTZ AND "due" <= ?::TIMESTAMPTZ)', [datetime.datetime(2020, 1, 1, 0, 0, tzinfo=datetime.UTC), datetime.datetime(2021, 1, 1, 0, 0, tzinfo=datetime.UTC)]),
         sqlite=('("due" >= ? AND "due" <= ?)', [1577836800000, 1609459200000]),
         postgresql=('("due" >= %s::timestamptz AND "due" <= %s::timestamptz)', [datetime.datetime(2020, 1, 1, 0, 0, tzinfo=datetime.UTC), datetime.datetime(2021, 1, 1, 0, 0, tzinfo=datetime.UTC)]),
         ),
    case('_id == oid(5f0000000000000000000001)',
         duckdb=('"_id" = ?::VARCHAR', ['5f0000000000000000000001']),
         sqlite=('"_id" = ?', ['5f0000000000000000000001']),
         postgresql=('"_id" = %s::text', ['5f0000000000000000000001']),
         ),
    case("parent_id == '5f0000000000000000000002'",
         duckdb=('"parent_id" = ?::VARCHAR', ['5f0000000000000000000002']),
         sqlite=('"parent_id" = ?', ['5f0000000000000000000002']),
         postgresql=('"parent_id" = %s::text', ['5f0000000000000000000002']),
         ),
    case('ref == uuid(12345678-1234-5678-1234-567812345678)',
         duckdb=('"ref" = ?::VARCHAR', ['12345678-1234-5678-1234-567812345678']),
         sqlite=('"ref" = ?', ['12345678-1234-5678-1234-567812345678']),
         postgresql=('"ref" = %s::text', ['12345678-1234-5678-1234-567812345678']),
         ),
    case("ref != '12345678-1234-5678-1234-567812345678'",
         duckdb=('("ref" IS NULL OR "ref" <> ?::VARCHAR)', ['12345678-1234-5678-1234-567812345678']),
         sqlite=('("ref" IS NULL OR "ref" <> ?)', ['12345678-1234-5678-1234-567812345678']),
         postgresql=('("ref" IS NULL OR "ref" <> %s::text)', ['12345678-1234-5678-1234-567812345678']),
         ),
    case('price == 1.25',
         duckdb=('"price" = ?::DECIMAL(38, 9)', [Decimal('1.250000000')]),
         sqlite=('CAST("price" AS REAL) = ?', [1.25]),
         postgresql=('"price" = %s::numeric', [Decimal('1.25')]),
         ),
    case('price >= 1.0000000001',
         duckdb=('"price" >= ?::DECIMAL(38, 9)', [Decimal('1.000000001')]),
         sqlite=('CAST("price" AS REAL) >= ?', [1.0000000001]),
         postgresql=('"price" >= %s::numeric', [Decimal('1.0000000001')]),
         ),
    case('price < 1e30',
         duckdb=('"price" IS NOT NULL', []),
         sqlite=('CAST("price" AS REAL) < ?', [1e+30]),
         postgresql=('"price" < %s::numeric', [Decimal('1E+30')]),
         ),
    case('price == 1e30',
         duckdb=('FALSE', []),
         sqlite=('CAST("price" AS REAL) = ?', [1e+30]),
         postgresql=('"price" = %s::numeric', [Decimal('1E+30')]),
         ),
    case('score == 3',
         duckdb=('"score" = ?::BIGINT', [3]),
         sqlite=('"score" = ?', [3]),
         postgresql=('"score" = %s::bigint', [3]),
         ),
    case('score == 3.5',
         duckdb=('"score" = ?::DOUBLE', [3.5]),
         sqlite=('"score" = ?', [3.5]),
         postgresql=('"score" = %s::double precision', [3.5]),
         ),
    case('done == true',
         duckdb=('"done" = ?::BOOLEAN', [True]),
         sqlite=('"done" = ?', [1]),
         postgresql=('"done" = %s::boolean', [True]),
         ),
    case('done != false',
         duckdb=('("done" IS NULL OR "done" <> ?::BOOLEAN)', [False]),
         sqlite=('("done" IS NULL OR "done" <> ?)', [0]),
         postgresql=('("done" IS NULL OR "done" <> %s::boolean)', [False]),
         ),
    case('tags.@count > 2',
         duckdb=('coalesce(len("tags"), 0) > ?::BIGINT', [2]),
         sqlite=('coalesce(json_array_length("tags"), 0) > ?', [2]),
         postgresql=('coalesce(jsonb_array_length("tags"), 0) > %s::bigint', [2]),
         ),
    case('counts.@size == 3',
         duckdb=('coalesce(len("counts"), 0) = ?::BIGINT', [3]),
         sqlite=('coalesce(json_array_length("counts"), 0) = ?', [3]),
         postgresql=('coalesce(jsonb_array_length("counts"), 0) = %s::bigint', [3]),
         ),
    case('counts.@sum > 42',
         duckdb=('coalesce(list_sum("counts"), 0) > ?::BIGINT', [42]),
         sqlite=('(SELECT coalesce(sum(e1.value), 0) FROM json_each("counts") AS e1) > ?', [42]),
         postgresql=('(SELECT coalesce(sum((e1.v)::bigint), 0) FROM jsonb_array_elements_text("counts") AS e1(v)) > %s::bigint', [42]),
         ),
    case('name.@size > 3',
         duckdb=('length("name") > ?::BIGINT', [3]),
         sqlite=('length("name") > ?', [3]),
         postgresql=('char_length("name") > %s::bigint', [3]),
         ),
    case('priority > score',
         duckdb=('"priority" > "score"', []),
         sqlite=('"priority" > "score"', []),
         postgresql=('"priority" > "score"', []),
         ),
    case('name ==[c] owner_id',
         duckdb=('("name" IS NULL AND "owner_id" IS NULL OR (translate("name", ?, ?) = translate("owner_id", ?, ?)))', [*FOLD, *FOLD]),
         sqlite=('("name" IS NULL AND "owner_id" IS NULL OR (realm_fold("name") = realm_fold("owner_id")))', []),
         postgresql=('("name" IS NULL AND "owner_id" IS NULL OR (translate("name", %s, %s) = translate("owner_id", %s, %s)))', [*FOLD, *FOLD]),
         ),
    case('NOT (name BEGINSWITH owner_id)',
         duckdb=('("name" IS NULL OR "owner_id" IS NULL OR NOT (starts_with("name", "owner_id")))', []),
         sqlite=('("name" IS NULL OR "owner_id" IS NULL OR NOT (substr("name", 1, length("owner_id")) = "owner_id"))', []),
         postgresql=('("name" IS NULL OR "owner_id" IS NULL OR NOT (starts_with("name", "owner_id")))', []),
         ),
    case('TRUEPREDICATE',
         duckdb=('TRUE', []),
         sqlite=('1', []),
         postgresql=('TRUE', []),
         ),
    case('NOT (TRUEPREDICATE)',
         duckdb=('FALSE', []),
         sqlite=('0', []),
         postgresql=('FALSE', []),
         ),
    case('FALSEPREDICATE OR priority == 42',
         duckdb=('"priority" = ?::BIGINT', [42]),
         sqlite=('"priority" = ?', [42]),
         postgresql=('"priority" = %s::bigint', [42]),
         ),
    case("TRUEPREDICATE AND (priority == 42 OR owner_id IN {}) AND NOT FALSEPREDICATE",
         duckdb=('"priority" = ?::BIGINT', [42]),
         sqlite=('"priority" = ?', [42]),
         postgresql=('"priority" = %s::bigint', [42]),
         ),
    case("priority == 42 AND (FALSEPREDICATE AND owner_id == 'x')",
         duckdb=('FALSE', []),
         sqlite=('0', []),
         postgresql=('FALSE', []),
         ),
    case('3 == 3.0',
         duckdb=('TRUE', []),
         sqlite=('1', []),
         postgresql=('TRUE', []),
         ),
    case("priority == 42 AND NOT (owner_id == 'alice' OR done == false)",
         duckdb=('("priority" = ?::BIGINT AND (("owner_id" IS NULL OR "owner_id" <> ?::VARCHAR) AND ("done" IS NULL OR "done" <> ?::BOOLEAN)))', [42, 'alice', False]),
         sqlite=('("priority" = ? AND (("owner_id" IS NULL OR "owner_id" <> ?) AND ("done" IS NULL OR "done" <> ?)))', [42, 'alice', 0]),
         postgresql=('("priority" = %s::bigint AND (("owner_id" IS NULL OR "owner_id" <> %s::text) AND ("done" IS NULL OR "done" <> %s::boolean)))', [42, 'alice', False]),
         ),
    case("address.city == 'Oslo'",
         duckdb=('struct_extract("address", \'city\') = ?::VARCHAR', ['Oslo']),
         sqlite=UnsupportedQueryError,
         postgresql=UnsupportedQueryError,
         ),
    case('address == nil',
         duckdb=('"address" IS NULL', []),
         sqlite=('"address" IS NULL', []),
         postgresql=('"address" IS NULL', []),
         ),
    case('ANY tags == name',
         duckdb=('len(list_filter("tags", lambda e1: (e1 IS NULL AND "name" IS NULL OR (e1 = "name")))) > 0', []),
         sqlite=UnsupportedQueryError,
         postgresql=UnsupportedQueryError,
         ),
    case('address.zip IN counts',
         duckdb=('len(list_filter("counts", lambda e1: (struct_extract("address", \'zip\') IS NOT NULL AND struct_extract("address", \'zip\') = e1))) > 0', []),
         sqlite=UnsupportedQueryError,
         postgresql=UnsupportedQueryError,
         ),
]


@pytest.mark.parametrize(("rql", "expected"), CASES)
def test_golden(rql: str, expected: dict[str, Any]) -> None:
    assert_compiles(rql, **expected)


def test_full_select_in_primary_key_order() -> None:
    sql, params = parse("priority == 42").compile(SCHEMA, None, "sqlite")
    assert sql == 'SELECT * FROM "Item" WHERE "priority" = ? ORDER BY "_id"'
    assert params == [42]
    sql, params = parse("priority == 42").compile(SCHEMA, None, "sqlite", table='"t"')
    assert sql == 'SELECT * FROM "t" WHERE "priority" = ? ORDER BY "_id"'


def test_modifiers_apply_in_order_and_bind_limit() -> None:
    compiled = parse("priority > 42 SORT(name ASC, address.zip DESC) DISTINCT(owner_id) LIMIT(7)"
                     ).compile(SCHEMA, None, "duckdb")
    assert compiled.sql == (
        'WITH s0 AS (SELECT *, row_number() OVER (ORDER BY "_id") AS __realm_order '
        'FROM "Item" WHERE "priority" > ?::BIGINT), '
        's1 AS (SELECT * EXCLUDE (__realm_order), row_number() OVER (ORDER BY "name" ASC NULLS '
        'FIRST, struct_extract("address", \'zip\') DESC NULLS LAST, __realm_order) AS '
        '__realm_order FROM s0), '
        's2 AS (SELECT * FROM s1 QUALIFY row_number() OVER (PARTITION BY "owner_id" ORDER BY '
        '__realm_order) = 1), '
        's3 AS (SELECT * FROM s2 ORDER BY __realm_order LIMIT ?) '
        'SELECT * EXCLUDE (__realm_order) FROM s3 ORDER BY __realm_order')
    assert list(compiled.params) == [42, 7]
    assert list(compiled.where_params) == [42]
    assert_no_literals(compiled.sql)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("suffix", ["SORT(name ASC)", "DISTINCT(name)", "LIMIT(3)"])
def test_server_dialects_refuse_modifiers(dialect: str, suffix: str) -> None:
    text = f"priority > 42 {suffix}"
    with pytest.raises(UnsupportedQueryError) as caught:
        parse(text).compile(SCHEMA, None, dialect)
    assert caught.value.construct == suffix.split("(")[0]
    assert caught.value.position == text.index(suffix)


def test_numeric_paramstyle_numbers_placeholders_in_text_order() -> None:
    compiled = parse("name ==[c] 'x' AND priority IN {42, 43}").compile(
        SCHEMA, None, PostgreSQLDialect(paramstyle="numeric"))
    assert compiled.where == ('(translate("name", $1, $2) = $3::text AND '
                              '"priority" IN ($4::bigint, $5::bigint))')
    assert list(compiled.params) == [*FOLD, "x", 42, 43]


def test_no_dialect_needs_user_defined_functions() -> None:
    """The server reads SQLite through a driver that cannot register Python functions."""
    for dialect in DIALECTS.values():
        assert parse("name ==[c] 'x'").compile(SCHEMA, None, dialect).functions == frozenset()

def test_arguments_are_parameters_too() -> None:
    compiled = parse("owner_id == $0 AND priority IN $1").compile(
        SCHEMA, None, "sqlite", "it's", [42, 43])
    assert compiled.where == '("owner_id" = ? AND "priority" IN (?, ?))'
    assert list(compiled.params) == ["it's", 42, 43]


@hypothesis_settings(max_examples=300)
@given(query=server_queries())
def test_no_constant_is_ever_spelled_in_server_sql(query: Query) -> None:
    for dialect in DIALECTS.values():
        assert_no_literals(query.compile(SCHEMA, None, dialect).sql)


@hypothesis_settings(max_examples=300)
@given(query=local_queries())
def test_no_constant_is_ever_spelled_in_local_sql(query: Query) -> None:
    assert_no_literals(query.compile(SCHEMA, None, "duckdb").sql)
