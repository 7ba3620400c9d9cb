"""A small schema that uses every kind of property, and caches on real DuckDB files."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from realm_jupyter.cache import Cache
from realm_jupyter.schema import Schema
from realm_jupyter.wire import rows_to_arrow

SCHEMA = Schema.from_documents([
    {"title": "Thing", "bsonType": "object", "required": ["_id", "name"], "properties": {
        "_id": {"bsonType": "objectId"},
        "name": {"bsonType": "string"},
        "count": {"bsonType": "int"},
        "ratio": {"bsonType": "double"},
        "price": {"bsonType": "decimal"},
        "done": {"bsonType": "bool"},
        "when": {"bsonType": "date"},
        "place": {"bsonType": "object", "title": "Place", "properties": {
            "city": {"bsonType": "string"}, "floor": {"bsonType": "int"}}},
        "tags": {"bsonType": "array", "items": {"bsonType": "string"}},
    }},
    {"title": "Counter", "bsonType": "object", "required": ["_id"], "properties": {
        "_id": {"bsonType": "int"},
        "value": {"bsonType": "long"},
    }},
])


def oid(n: int) -> str:
    return f"{n:024x}"


def thing(n: int, **changes: Any) -> dict[str, Any]:
    """A plain (wire) Thing document."""
    return {"_id": oid(n), "name": f"thing {n}", "count": n, "ratio": n / 4, "price": f"{n}.25",
            "done": n % 2 == 0, "when": f"2025-01-{n % 28 + 1:02d}T10:00:00.000Z",
            "place": {"city": "Oslo", "floor": n}, "tags": [f"t{n}"], **changes}


def wire(rows: Sequence[Mapping[str, Any]], object_type: str = "Thing") -> pa.Table:
    return rows_to_arrow(SCHEMA[object_type], rows)


def open_cache(path: Path) -> Cache:
    cache = Cache(path)
    cache.ensure_schema(SCHEMA)
    return cache


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Cache]:
    opened = open_cache(tmp_path / "cache.duckdb")
    try:
        yield opened
    finally:
        opened.close()


def names(cache: Cache, object_type: str = "Thing") -> list[str]:
    return [row[0] for row in cache.execute(
        f'SELECT name FROM "{object_type}" ORDER BY _id').fetchall()]
