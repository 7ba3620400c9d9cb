"""MongoDB rule filters parsed into the query AST: expansions, operators, and the
same answers from the evaluator and the compiled SQL."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from realm_jupyter.errors import QueryError
from realm_jupyter.query import Query, parse, parse_filter
from realm_jupyter.query.ast import (
    And,
    CompareOp,
    Comparison,
    Constant,
    ListLiteral,
    Literal,
    Not,
    Or,
    Path,
)
from tests.query.engines import assert_agree
from tests.strategies import document_batches, hypothesis_settings

USER = {"id": "u1", "custom_data": {"role": "admin", "teams": ["red", "blue"], "level": 3,
                                    "oid": "5f0000000000000000000001"}}


def expand(name: str) -> Any:
    if name in ("%%true", "%%false"):
        return name == "%%true"
    parts = name[2:].split(".")
    if parts[0] != "user":
        raise QueryError(f"unknown expansion {name!r}")
    value: Any = USER
    for part in parts[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def lit(value: Any) -> Literal:
    return Literal.of(value)


def path(name: str) -> Path:
    return Path(tuple(name.split(".")))


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(("rule", "expected"), [
    ({"owner_id": "%%user.id"}, Comparison(CompareOp.EQ, path("owner_id"), lit("u1"))),
    ({"owner_id": {"$eq": "%%user.id"}}, Comparison(CompareOp.EQ, path("owner_id"), lit("u1"))),
    ({"team": {"$in": "%%user.custom_data.teams"}},
     Comparison(CompareOp.IN, path("team"), ListLiteral((lit("red"), lit("blue"))))),
    ({"team": "%%user.custom_data.teams"},  # a field against an array expansion: membership
     Comparison(CompareOp.IN, path("team"), ListLiteral((lit("red"), lit("blue"))))),
    ({"team": {"$nin": ["a"]}},
     Not(Comparison(CompareOp.IN, path("team"), ListLiteral((lit("a"),))))),
    ({"tags": {"$all": ["a", "b"]}},
     And((Comparison(CompareOp.IN, lit("a"), path("tags")),
          Comparison(CompareOp.IN, lit("b"), path("tags"))))),
    ({"tags": {"$all": []}}, Constant(False)),
    ({"$or": [{"a": 1}, {"b": 2}]},
     Or((Comparison(CompareOp.EQ, path("a"), lit(1)), Comparison(CompareOp.EQ, path("b"), lit(2))))),
    ({"$and": [{"a": 1}, {"b": 2}]},
     And((Comparison(CompareOp.EQ, path("a"), lit(1)),
          Comparison(CompareOp.EQ, path("b"), lit(2))))),
    ({"$nor": [{"a": 1}, {"b": 2}]},
     Not(Or((Comparison(CompareOp.EQ, path("a"), lit(1)),
             Comparison(CompareOp.EQ, path("b"), lit(2)))))),
    ({"a": {"$not": {"$gt": 5}}}, Not(Comparison(CompareOp.GT, path("a"), lit(5)))),
    ({"a": {"$gte": 1, "$lt": 5}},
     And((Comparison(CompareOp.GE, path("a"), lit(1)), Comparison(CompareOp.LT, path("a"), lit(5))))),
    ({"a": {"$exists": True}}, Not(Comparison(CompareOp.EQ, path("a"), lit(None)))),
    ({"a": {"$exists": False}}, Comparison(CompareOp.EQ, path("a"), lit(None))),
    ({"a": {"$ne": "x"}}, Not(Comparison(CompareOp.EQ, path("a"), lit("x")))),
    ({"a": None}, Comparison(CompareOp.EQ, path("a"), lit(None))),
    ({"address.city": "Oslo"}, Comparison(CompareOp.EQ, path("address.city"), lit("Oslo"))),
    ({"_id": {"%stringToOid": "%%user.custom_data.oid"}},
     Comparison(CompareOp.EQ, path("_id"), lit(ObjectId("5f0000000000000000000001")))),
    ({}, Constant(True)),
    ({"a": 1, "b": 2},
     And((Comparison(CompareOp.EQ, path("a"), lit(1)), Comparison(CompareOp.EQ, path("b"), lit(2))))),
])
def test_filter_shapes(rule: dict[str, Any], expected: Any) -> None:
    assert parse_filter(rule, expand) == expected


@pytest.mark.parametrize(("rule", "value"), [
    ({"%%user.custom_data.role": "admin"}, True),
    ({"%%user.custom_data.role": "user"}, False),
    ({"%%user.custom_data.role": {"$in": ["admin", "owner"]}}, True),
    ({"%%user.custom_data.role": {"$ne": "admin"}}, False),
    ({"%%user.custom_data.level": {"$gte": 3}}, True),
    ({"%%user.custom_data.level": {"$lt": 3}}, False),
    ({"%%user.custom_data.teams": "red"}, True),
    ({"%%user.custom_data.teams": "green"}, False),
    ({"%%user.custom_data.teams": {"$in": ["green", "blue"]}}, True),
    ({"%%user.custom_data.teams": {"$ne": "red"}}, False),
    ({"%%user.custom_data.missing": None}, True),
    ({"%%user.custom_data.missing": {"$exists": True}}, False),
    ({"%%true": True}, True),
    ({"%%false": True}, False),
    ({"$or": [{"%%user.custom_data.role": "user"}, {"%%true": True}]}, True),
])
def test_expansion_keys_are_constants(rule: dict[str, Any], value: bool) -> None:
    """``apply_when`` style rules: no field involved, so one answer for every document,
    the same from the evaluator and from each compiled dialect."""
    query = Query(parse_filter(rule, expand))
    assert query.matches({}) is value
    for dialect in ("sqlite", "duckdb", "postgresql"):
        where = query.compile(parse_schema(), None, dialect).where
        assert where in (("TRUE", "1") if value else ("FALSE", "0"))


def parse_schema() -> Any:
    from tests.strategies import SCHEMA

    return SCHEMA


@pytest.mark.parametrize(("rule", "fragment"), [
    ({"a": {"$regex": "x"}}, "unsupported operator '$regex'"),
    ({"a": {"$size": 2}}, "unsupported operator '$size'"),
    ({"$where": "this.a == 1"}, "unsupported top-level operator '$where'"),
    ({"$and": []}, "$and needs a non-empty array"),
    ({"$or": {"a": 1}}, "$or needs a non-empty array"),
    ({"$nor": [1]}, "$nor needs an array of filter objects"),
    ({"a": {"$not": 5}}, "$not needs an operator object"),
    ({"a": {"$all": "x"}}, "$all needs an array"),
    ({"%%user.custom_data.teams": {"$exists": True}}, "$exists needs a field"),
    ({"%%user.custom_data.teams": {"$gt": 1}}, "cannot compare an array expansion"),
    ({"a": {"$eq": {"b": 1}}}, "cannot be compared"),
])
def test_unknown_and_malformed_operators(rule: dict[str, Any], fragment: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_filter(rule, expand)
    assert fragment in caught.value.message


def test_expansions_need_a_callback_and_filters_are_objects() -> None:
    with pytest.raises(QueryError, match=r"expansion '%%user\.id' is not available"):
        parse_filter({"owner_id": "%%user.id"})
    with pytest.raises(QueryError, match="must be an object"):
        parse_filter([{"a": 1}])  # type: ignore[arg-type]


def test_ne_on_an_array_means_no_element_equals() -> None:
    """MongoDB's ``$ne`` on an array field: true when *no* element equals."""
    query = Query(parse_filter({"tags": {"$ne": "x"}}))
    assert not query.matches({"tags": ["x", "y"]})
    assert query.matches({"tags": ["y"]})
    assert query.matches({"tags": []})
    assert query.matches({"tags": None})
    # and on a scalar it is plain Realm !=, null included
    scalar = Query(parse_filter({"owner_id": {"$ne": "x"}}))
    assert scalar.matches({"owner_id": None}) and not scalar.matches({"owner_id": "x"})
    assert scalar == Query(parse("NOT (owner_id == 'x')").predicate)


def test_exists_is_not_null_and_lists_always_exist() -> None:
    exists, missing = (Query(parse_filter({f: {"$exists": flag}})) for f, flag in
                       (("owner_id", True), ("owner_id", False)))
    assert exists.matches({"owner_id": "x"}) and not exists.matches({"owner_id": None})
    assert missing.matches({"owner_id": None}) and not missing.matches({"owner_id": "x"})
    for tags in ([], ["a"]):
        assert Query(parse_filter({"tags": {"$exists": True}})).matches({"tags": tags})
        assert not Query(parse_filter({"tags": {"$exists": False}})).matches({"tags": tags})


# --------------------------------------------------------------------------- differential

_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["a", "A", "alice", "", "100%", "a_b"]),
    "owner_id": st.sampled_from(["alice", "bob", "%%user.id", "u1"]),
    "priority": st.sampled_from([-1, 0, 1, 2, 3, 2.5, 100]),
    "score": st.sampled_from([0, 0.5, 1.5, 3, -3.0]),
    "done": st.booleans(),
    "tags": st.sampled_from(["a", "x", "Ab", "%%user.custom_data.teams"]),
    "counts": st.sampled_from([0, 1, 2, 5]),
}
_ORDERED = ("priority", "score", "name", "counts")


@st.composite
def _field_clause(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(_FIELD_VALUES)))
    values = _FIELD_VALUES[name]
    value = draw(values)
    if isinstance(value, str) and value.startswith("%%") and draw(st.booleans()):
        return {name: value}
    shape = draw(st.sampled_from(["plain", "null", "eq", "ne", "order", "in", "nin", "exists",
                                  "not", "all"]))
    if shape == "plain":
        return {name: value}
    if shape == "null":
        return {name: None}
    if shape == "eq":
        return {name: {"$eq": value}}
    if shape == "ne":
        return {name: {"$ne": draw(st.one_of(values, st.none()))}}
    if shape == "order" and name in _ORDERED:
        op = draw(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]))
        return {name: {op: value}}
    if shape in ("in", "nin"):
        items = draw(st.lists(st.one_of(values, st.none()), max_size=3))
        items = [i for i in items if not (isinstance(i, str) and i.startswith("%%"))]
        return {name: {f"${shape}": items}}
    if shape == "exists":
        return {name: {"$exists": draw(st.booleans())}}
    if shape == "all" and name in ("tags", "counts"):
        items = [i for i in draw(st.lists(values, max_size=2))
                 if not (isinstance(i, str) and i.startswith("%%"))]
        return {name: {"$all": items}}
    if shape == "not" and name in _ORDERED:
        return {name: {"$not": {draw(st.sampled_from(["$gt", "$lte"])): value}}}
    return {name: value}


def _filters() -> st.SearchStrategy[dict[str, Any]]:
    def extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        parts = st.lists(children, min_size=1, max_size=3)
        return st.one_of(parts.map(lambda p: {"$and": p}), parts.map(lambda p: {"$or": p}),
                         parts.map(lambda p: {"$nor": p}))

    return st.recursive(_field_clause(), extend, max_leaves=5)


@hypothesis_settings(max_examples=100)
@given(batch=document_batches(), rules=st.lists(_filters(), min_size=1, max_size=5))
def test_compiled_rules_agree_with_the_evaluator(python_engine: Any, sqlite_engine: Any,
                                                 duckdb_engine: Any, batch: Any,
                                                 rules: list[dict[str, Any]]) -> None:
    engines = [python_engine, sqlite_engine, duckdb_engine]
    for engine in engines:
        engine.load(batch)
    for rule in rules:
        try:
            predicate = parse_filter(rule, expand)
        except QueryError:
            continue
        assert_agree(engines, Query(predicate), documents=batch)
