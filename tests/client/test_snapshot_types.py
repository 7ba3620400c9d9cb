"""Every property type survives a snapshot with its DuckDB type and pandas dtype (real DuckDB,
no server): uuid and long too, which the demo schema does not use; nulls and empty lists."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pandas as pd

from realm_jupyter import Realm, Schema
from realm_jupyter.cache import Cache
from realm_jupyter.cache.frames import key_ordered_frame
from realm_jupyter.client.snapshot import Identity, save

SCHEMA = Schema.from_documents([{
    "title": "Everything",
    "properties": {
        "_id": {"bsonType": "objectId"},
        "ref": {"bsonType": "uuid"},
        "name": {"bsonType": "string"},
        "small": {"bsonType": "int"},
        "big": {"bsonType": "long"},
        "ratio": {"bsonType": "double"},
        "price": {"bsonType": "decimal"},
        "flag": {"bsonType": "bool"},
        "when": {"bsonType": "date"},
        "address": {"bsonType": "object", "title": "Address", "properties": {
            "city": {"bsonType": "string"},
            "points": {"bsonType": "array", "items": {"bsonType": "int"}}}},
        "tags": {"bsonType": "array", "items": {"bsonType": "string"}},
        "lines": {"bsonType": "array", "items": {"bsonType": "object", "title": "Line",
                                                 "properties": {
                                                     "sku": {"bsonType": "string"},
                                                     "qty": {"bsonType": "long"}}}},
    },
    "required": ["_id"],
}])


def test_every_property_type_round_trips(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache.duckdb")
    try:
        cache.ensure_schema(SCHEMA)
        rows = [
            ["65a000000000000000000001", "0b1e9b6e-6f1c-4d1e-9a57-3f1c2d3e4f50", "ä ∑ 😀", 3,
             2**62, 0.1, decimal.Decimal("12345678901234567890.123456789"), True,
             dt.datetime(2026, 12, 8, 3, 4, 5, 678901, tzinfo=dt.UTC),
             {"city": "Oslo", "points": [1, 2]}, ["a", "b"], [{"sku": "x", "qty": 2**40}]],
            ["65a000000000000000000002", None, None, None, None, None, None, None, None, None,
             [], []],
        ]
        with cache.transaction() as conn:
            for row in rows:
                conn.execute('INSERT INTO "Everything" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                             row)
        live = key_ordered_frame(cache, "Everything", "_id")  # what Realm.df reads
        save(cache, Identity("app", "http://127.0.0.1:1", "user-1"), tmp_path / "snap")
    finally:
        cache.close()
    with Realm.open_snapshot(tmp_path / "snap") as snapshot:
        pd.testing.assert_frame_equal(snapshot.df("Everything"), live)
        described = snapshot.sql('DESCRIBE "Everything"')
        assert dict(zip(described["column_name"], described["column_type"], strict=True))[
            "lines"] == "STRUCT(sku VARCHAR, qty BIGINT)[]"

