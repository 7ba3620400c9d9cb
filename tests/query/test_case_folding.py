"""``[c]`` on DuckDB: the fast ``lower()`` path agrees with Realm's fold table, letter by letter.

The compiler uses DuckDB's ``lower()`` (an order of magnitude faster than ``translate()``
with the fold table) only where ``values.lower_fold_guards`` proves it gives the same
answer. These tests check that proof against DuckDB itself: its case mapping over every
cased code point is the one the guards were derived from, and ``[c]`` queries whose
patterns hold the tricky letters (``i`` beside ``İ``, ``k`` beside the Kelvin sign, Greek,
the sentinel) select exactly the rows Python's fold selects, over a table holding every
character that any case mapping touches.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from realm_jupyter.query import parse
from realm_jupyter.query.values import FOLD_FROM, SENTINEL, _lower_outside_table, fold
from realm_jupyter.schema import Schema


def _cased() -> list[str]:
    chars = [chr(cp) for cp in range(0x1F000) if not 0xD800 <= cp <= 0xDFFF]
    return [c for c in chars if c.lower() != c or c.upper() != c]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    letters = [*_cased(), "\u0130", SENTINEL, "a", "K", "\u212a"]
    words = [*letters, *(f"x{c}y" for c in letters), "deliver", "DELIVER", "dEİiv", "Kelvin",
             "\u212aelvin", "ΣΑΣ", "σας", None]
    conn.register("words", pa.table({"_id": list(range(len(words))), "s": words}))
    conn.execute('CREATE TABLE "T" AS SELECT * FROM words')
    return conn


SCHEMA = Schema.from_documents([{"title": "T", "bsonType": "object", "required": ["_id"],
                                  "properties": {"_id": {"bsonType": "long"},
                                                 "s": {"bsonType": "string"}}}])


def test_duckdb_lowers_exactly_what_the_guards_were_derived_from(con: duckdb.DuckDBPyConnection) -> None:
    unsafe, guarded = _lower_outside_table()
    rows = con.execute('SELECT s, lower(s) FROM "T" WHERE length(s) = 1 AND lower(s) <> s').fetchall()
    table = dict(zip(FOLD_FROM, fold(FOLD_FROM), strict=True))
    for upper, lower in rows:
        if upper in table:
            assert table[upper] == lower, upper  # the table's letters: lower() folds them alike
        elif upper in guarded:
            assert guarded[upper] == lower, upper
        else:
            assert upper in unsafe and lower in unsafe, (upper, lower)


PATTERNS = ["deliv", "DELIV", "i", "İ", "k", "K", "\u212a", "å", "Å", "ß", "ẞ", "σ", "Σ", "ας",
            "x", "y", SENTINEL, "ȿ", "a"]


@pytest.mark.parametrize("operator", ["CONTAINS[c]", "BEGINSWITH[c]", "ENDSWITH[c]", "==[c]",
                                      "!=[c]", "LIKE[c]"])
def test_fast_folding_selects_what_the_fold_table_selects(con: duckdb.DuckDBPyConnection,
                                                          operator: str) -> None:
    words = dict(con.execute('SELECT _id, s FROM "T"').fetchall())
    for pattern in PATTERNS:
        text = f"*{pattern}*" if operator == "LIKE[c]" else pattern
        query = parse(f"s {operator} $0")
        compiled = query.compile(SCHEMA, "T", "duckdb", text)
        got = {pk for (pk,) in con.execute(f'SELECT _id FROM "T" WHERE {compiled.where}',
                                            list(compiled.where_params)).fetchall()}
        want = {pk for pk, word in words.items() if query.matches({"_id": pk, "s": word}, text)}
        assert got == want, (operator, pattern, sorted(got ^ want)[:5])


def test_the_fast_path_is_taken_where_it_is_exact() -> None:
    def where(text: str) -> str:
        return parse(f"s CONTAINS[c] '{text}'").compile(SCHEMA, "T", "duckdb").where

    assert where("DELIV").startswith("contains(lower(replace(")  # 'i': İ is guarded
    assert where("open").startswith("contains(lower(\"s\")")  # nothing to guard
    assert "translate" in where("Σ")  # Greek: lower() would fold it, Realm does not
