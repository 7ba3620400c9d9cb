"""The Flexible Sync subset: what a subscription may say, and how a refusal reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given

from realm_jupyter.errors import (
    NotQueryableError,
    QueryError,
    QuerySyntaxError,
    QueryTypeError,
    UnsupportedQueryError,
)
from realm_jupyter.query import MAX_QUERY_BYTES, Query, QueryableFields, check_subscription, parse
from realm_jupyter.query.subscription import MAX_LIKE_PATTERN, MAX_QUERY_TERMS, query_terms
from realm_jupyter.schema import ObjectSchema, Schema
from tests.strategies import SCHEMA, hypothesis_settings, subscription_queries

STORE = ObjectSchema.from_json_schema({
    "title": "Store", "bsonType": "object",
    "properties": {"_id": {"bsonType": "objectId"}, "store_id": {"bsonType": "long"},
                   "region": {"bsonType": "string"}, "a": {"bsonType": "int"},
                   "b": {"bsonType": "int"}, "secret": {"bsonType": "string"},
                   "tags": {"bsonType": "array", "items": {"bsonType": "string"}}},
})
APP_SCHEMA = Schema({"Item": SCHEMA, "Store": STORE})


@dataclass
class Config:
    """A tiny stand-in for the sync configuration (the QueryableFields protocol)."""

    fields: dict[str, frozenset[str]] = field(default_factory=dict)
    indexed_queryable_fields_names: tuple[str, ...] = ()

    def queryable_fields(self, object_type: str) -> frozenset[str]:
        return self.fields.get(object_type, frozenset())


ALL_ITEM_FIELDS = Config({"Item": frozenset(p.name for p in SCHEMA)})
STORE_FIELDS = frozenset({"_id", "store_id", "region", "a", "b", "tags"})
INDEXED = Config({"Store": STORE_FIELDS}, ("store_id",))


def test_the_stand_in_satisfies_the_protocol() -> None:
    config: QueryableFields = ALL_ITEM_FIELDS
    assert "name" in config.queryable_fields("Item")


@hypothesis_settings(max_examples=200)
@given(query=subscription_queries())
def test_every_query_of_the_subset_is_accepted(query: Query) -> None:
    text = query.render()
    assert check_subscription(text, APP_SCHEMA, "Item", ALL_ITEM_FIELDS) == query
    assert check_subscription(query, APP_SCHEMA, "Item", ALL_ITEM_FIELDS) == query


def test_returns_the_parsed_query() -> None:
    query = check_subscription("priority > 2 AND 'x' IN tags", APP_SCHEMA, "Item",
                               ALL_ITEM_FIELDS)
    assert query == parse("priority > 2 AND 'x' IN tags")
    bound = parse("owner_id == $0").bind("alice")
    assert check_subscription(bound, APP_SCHEMA, "Item", ALL_ITEM_FIELDS) == bound


def test_non_queryable_field_is_named_with_a_caret() -> None:
    config = Config({"Item": frozenset({"_id", "priority"})})
    text = "priority > 2 AND\n  owner_id == 'alice'"
    with pytest.raises(NotQueryableError) as caught:
        check_subscription(text, APP_SCHEMA, "Item", config)
    error = caught.value
    assert error.field == "owner_id" and error.object_type == "Item"
    assert "'owner_id'" in error.message and "queryable" in error.message
    assert error.position == text.index("owner_id")
    assert (error.line, error.column) == (2, 3)
    assert error.render().splitlines()[-1] == "      ^"
    assert error.hint is not None and "queryable_fields_names" in error.hint


@pytest.mark.parametrize("make", [
    lambda: parse("owner_id == $0 AND priority > 1").bind("a much longer value"),
    lambda: Query(parse("owner_id == 'a much longer value' AND priority > 1").predicate),
])
def test_carets_point_into_the_text_of_bound_and_built_queries(make: object) -> None:
    config = Config({"Item": frozenset({"_id", "owner_id"})})
    with pytest.raises(NotQueryableError) as caught:
        check_subscription(make(), APP_SCHEMA, "Item", config)  # type: ignore[operator]
    error = caught.value
    assert error.query == "owner_id == 'a much longer value' AND priority > 1"
    assert error.position == error.query.index("priority")


@pytest.mark.parametrize(("text", "construct", "at"), [
    ("priority > 2 SORT(name ASC)", "SORT", "SORT"),
    ("priority > 2 DISTINCT(name)", "DISTINCT", "DISTINCT"),
    ("priority > 2 LIMIT(5)", "LIMIT", "LIMIT"),
    ("priority > 2 AND tags.@count > 1", "@count", "tags"),
    ("counts.@sum > 1", "@sum", "counts"),
    ("address.city == 'Oslo'", "dotted path", "address"),
    ("{'a', 'b'} IN tags", "list-vs-list", "{"),
    ("tags IN {'a', 'b'}", "list-vs-list", "tags"),
    ("ANY {'a'} == tags", "list-vs-list", "ANY"),
    ("owner_id == $0", "argument", "$0"),
    ("priority > 2 OR name IN $1", "argument", "$1"),
    ("ANY tags == name", "list comparison", "ANY"),
    ("name IN tags", "property IN list", "name"),
])
def test_constructs_outside_the_subset_are_named(text: str, construct: str, at: str) -> None:
    with pytest.raises(UnsupportedQueryError) as caught:
        check_subscription(text, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)
    assert caught.value.construct == construct
    assert caught.value.position == text.index(at)
    assert caught.value.query == text


def test_the_query_size_limit() -> None:
    names = ", ".join(f"'{n:08d}'" for n in range(MAX_QUERY_BYTES // 12 + 1))
    text = f"name IN {{{names}}}"
    assert len(text.encode()) > MAX_QUERY_BYTES
    with pytest.raises(UnsupportedQueryError) as caught:
        check_subscription(text, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)
    assert caught.value.construct == "query size"
    assert "256" in caught.value.message or f"{MAX_QUERY_BYTES:,}" in caught.value.message
    small = "name IN {'a'}"
    assert check_subscription(small, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)


def test_a_huge_or_is_refused_and_a_long_in_list_is_not() -> None:
    """12,500 ORed comparisons would be evaluated on every changed document (and made
    SQLite refuse the statement); the same values as one IN list are one comparison."""
    text = " OR ".join(f"priority == {n}" for n in range(12_500))
    with pytest.raises(UnsupportedQueryError) as caught:
        check_subscription(text, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)
    assert caught.value.construct == "query size"
    assert f"{MAX_QUERY_TERMS:,}" in caught.value.message and "IN" in caught.value.message
    assert caught.value.position == text.index(f"priority == {MAX_QUERY_TERMS}")
    most = " OR ".join(f"priority == {n}" for n in range(MAX_QUERY_TERMS))
    assert query_terms(check_subscription(most, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)) \
        == MAX_QUERY_TERMS
    listed = "priority IN {" + ",".join(str(n) for n in range(40_000)) + "}"
    assert len(listed.encode()) < MAX_QUERY_BYTES
    assert query_terms(check_subscription(listed, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)) == 1


def test_long_like_patterns_are_refused() -> None:
    longest = "name LIKE '" + "*a" * (MAX_LIKE_PATTERN // 2) + "'"
    assert check_subscription(longest, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)
    text = "priority > 1 AND name LIKE[c] '" + "?" * (MAX_LIKE_PATTERN + 1) + "'"
    with pytest.raises(UnsupportedQueryError) as caught:
        check_subscription(text, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)
    assert caught.value.construct == "LIKE pattern size"
    assert caught.value.position == text.index("'")


def test_bytes_not_characters_count_toward_the_limit() -> None:
    text = "name == '" + "é" * (MAX_QUERY_BYTES // 2) + "'"
    assert len(text) < MAX_QUERY_BYTES < len(text.encode())
    with pytest.raises(UnsupportedQueryError):
        check_subscription(text, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)


@pytest.mark.parametrize(("text", "error"), [
    ("priority == 'high'", QueryTypeError),
    ("name > 3", QueryTypeError),
    ("done < true", QueryTypeError),
    ("priority BEGINSWITH 'x'", QueryTypeError),
    ("nonexistent == 1", QueryError),
    ("priority ==", QuerySyntaxError),
])
def test_type_errors_and_unknown_properties(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_subscription(text, APP_SCHEMA, "Item", ALL_ITEM_FIELDS)


def test_unknown_object_type() -> None:
    with pytest.raises(QueryError, match="unknown object type 'Nope'"):
        check_subscription("TRUEPREDICATE", APP_SCHEMA, "Nope", ALL_ITEM_FIELDS)


# --------------------------------------------------------------------------- indexed field


@pytest.mark.parametrize("text", [
    'store_id IN {1,2,3} AND region == "NE"',
    "store_id == 1 AND (a < 5 OR b < 10)",
    "store_id == 1",
    "region == 'NE' AND store_id == 1",
    "1 == store_id AND a < 5",
    "(store_id == 1 AND a < 5) AND b < 10",
    "store_id IN {1} AND NOT (region == 'x' OR a > 2)",
])
def test_indexed_queryable_field_valid(text: str) -> None:
    assert check_subscription(text, APP_SCHEMA, "Store", INDEXED)


@pytest.mark.parametrize("text", [
    'store_id IN {1,2,3} OR region == "NE"',
    "store_id == 1 AND a < 5 OR b < 10",
    "store_id > 2 AND a < 5",
    'region == "NE"',
    "truepredicate",
    "store_id != 1 AND a < 5",
    "store_id == nil AND a < 5",
    "store_id IN {1, nil} AND a < 5",
    "NOT (store_id == 1)",
    "store_id BETWEEN {1, 2}",
])
def test_indexed_queryable_field_invalid(text: str) -> None:
    with pytest.raises(UnsupportedQueryError) as caught:
        check_subscription(text, APP_SCHEMA, "Store", INDEXED)
    assert caught.value.construct == "indexed queryable field"
    assert "store_id" in caught.value.message
    assert caught.value.query == text


def test_an_indexed_field_of_another_type_does_not_apply() -> None:
    assert check_subscription("priority > 1", APP_SCHEMA, "Item",
                              Config({"Item": ALL_ITEM_FIELDS.fields["Item"]}, ("store_id",)))
