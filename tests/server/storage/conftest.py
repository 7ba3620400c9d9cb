"""A store of each backend, opened on a small schema that covers every column type."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from realm_jupyter.query import parse
from realm_jupyter.query.compiler import compile_predicate
from realm_jupyter.query.dialects import Dialect, PostgreSQLDialect, SQLiteDialect
from realm_jupyter.schema import ObjectSchema
from realm_jupyter.server.storage import Change, Store, open_store

NOTE = ObjectSchema.from_json_schema({
    "title": "Note", "bsonType": "object", "required": ["_id"],
    "properties": {
        "_id": {"bsonType": "string"},
        "n": {"bsonType": "int"},
        "body": {"bsonType": "string"},
        "secret": {"bsonType": "string"},
        "price": {"bsonType": "decimal"},
        "flag": {"bsonType": "bool"},
        "when": {"bsonType": "date"},
        "ratio": {"bsonType": "double"},
        "tags": {"bsonType": "array", "items": {"bsonType": "string"}},
        "meta": {"title": "Meta", "bsonType": "object",
                 "properties": {"k": {"bsonType": "string"}, "v": {"bsonType": "int"}}},
    },
})
COUNTER = ObjectSchema.from_json_schema({
    "title": "Counter", "bsonType": "object", "required": ["_id"],
    "properties": {"_id": {"bsonType": "long"}, "value": {"bsonType": "int"}},
})
SCHEMAS = {"Note": NOTE, "Counter": COUNTER}
QUERYABLE = {"Note": frozenset({"_id", "n", "body"}), "Counter": frozenset({"_id", "value"})}
T0 = dt.datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=dt.UTC)


def note(pk: str, n: int | None = 1, **fields: Any) -> dict[str, Any]:
    """A Note with Python values (what ``Change.doc`` holds)."""
    document: dict[str, Any] = {
        "_id": pk, "n": n, "body": f"body of {pk}", "secret": f"secret of {pk}",
        "price": decimal.Decimal("12.50"), "flag": True, "when": T0, "ratio": 0.25,
        "tags": ["a", "b"], "meta": {"k": "x", "v": 7},
    }
    document.update(fields)
    return document


async def open_test_store(url: str) -> Store:
    store = open_store(url)
    await store.open(SCHEMAS, QUERYABLE)
    return store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    store = await open_test_store(store_url)
    try:
        yield store
    finally:
        await store.close()


def dialect(store: Store) -> Dialect:
    return SQLiteDialect() if store.dialect == "sqlite" else PostgreSQLDialect("numeric")


def where(store: Store, query: str, object_schema: ObjectSchema = NOTE
          ) -> tuple[str, list[Any], frozenset[str]]:
    """A subscription query compiled for ``store`` (the bootstrap path's SQL)."""
    return compile_predicate(parse(query).predicate, object_schema, dialect(store))


async def put_all(store: Store, documents: list[dict[str, Any]], object_type: str = "Note",
                  **options: Any) -> int:
    def work(tx: Any) -> None:
        existing = tx.get(object_type, [d["_id"] for d in documents])
        for document in documents:
            tx.put(Change(object_type, document["_id"], document), existing.get(document["_id"]))

    _, version = await store.write(work, **options)
    return int(version)


def putter(object_type: str, pk: Any, document: dict[str, Any] | None) -> Callable[[Any], None]:
    def work(tx: Any) -> None:
        before = tx.get(object_type, [pk]).get(pk)
        tx.put(Change(object_type, pk, document), before)

    return work
