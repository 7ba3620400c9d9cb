"""What the client tests expect, computed without the client.

The server's documents come from its store's history (folded per primary key),
the demo users' read rules are written out here in plain Python, and DataFrames
are turned back into plain values, so "the cache equals the server's view" is
checked by code that shares nothing with the client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from realm_jupyter.demo import DEMO_APP_DIR, DEMO_USERS
from realm_jupyter.schema import Schema

ALICE, BOB, CAROL = DEMO_USERS
USERS = {user.email: user for user in DEMO_USERS}
DATE_FIELDS = {"Item": {"created_at"}, "Order": {"ordered_at"}}
DECIMAL_FIELDS = {"Order": {"amount"}}
Doc = dict[str, Any]


def _demo_fields() -> dict[str, dict[str, Any]]:
    """Each demo type's fields and the value a missing one has in the cache ([] for lists)."""
    out = {}
    for path in DEMO_APP_DIR.glob("data_sources/*/*/*/schema.json"):
        schema = json.loads(path.read_text())
        out[schema["title"]] = {name: ([] if spec.get("bsonType") == "array" else None)
                                for name, spec in schema["properties"].items()}
    return out


FIELDS = _demo_fields()
EMBEDDED = {"Order": {"customer"}}
SCHEMA = Schema.from_documents([json.loads(path.read_text()) for path in
                                DEMO_APP_DIR.glob("data_sources/*/*/*/schema.json")])
Predicate = Callable[[Mapping[str, Any]], bool]


async def server_documents(store: Any, object_type: str) -> dict[str, Doc]:
    """The store's current documents of one type, read from a snapshot (plain values)."""
    def read() -> list[dict[str, Any]]:
        object_schema = next(o for o in SCHEMA if o.name == object_type)
        snapshot = store.snapshot()
        try:
            return [row for table in snapshot.batches(object_schema, "1 = 1", [])
                    for row in table.to_pylist()]
        finally:
            snapshot.close()

    nested = {name for name, empty in FIELDS[object_type].items() if isinstance(empty, list)}
    nested |= EMBEDDED.get(object_type, set())  # JSON text on the wire
    documents = {}
    for row in await asyncio.to_thread(read):
        documents[str(row["_id"])] = {
            name: json.loads(value) if name in nested and value is not None else value
            for name, value in row.items()}
    return documents


def readable(email: str, object_type: str, doc: Mapping[str, Any]) -> bool:
    """The demo rules (``demo/app/data_sources/.../rules.json``) for one user."""
    user = USERS[email]
    if object_type == "UserProfile":
        return bool(doc.get("user_id") == user.id)
    if user.role == "admin":
        return True
    if object_type == "Item":
        return bool(doc.get("owner_id") == user.id or doc.get("team") in user.teams)
    if object_type == "Order":
        return doc.get("region") in user.teams
    return False


def hidden_fields(email: str, object_type: str) -> set[str]:
    """Fields the user may not read: they arrive as nulls."""
    if object_type == "Order" and USERS[email].role == "member":
        return {"customer"}
    return set()


async def expected_view(store: Any, email: str, object_type: str,
                        matches: Predicate) -> dict[str, Doc]:
    """What ``email`` must hold of ``object_type`` for a subscription ``matches``."""
    hidden = hidden_fields(email, object_type)
    out = {}
    for pk, doc in (await server_documents(store, object_type)).items():
        if matches(doc) and readable(email, object_type, doc):
            out[pk] = normalise(object_type, {k: (None if k in hidden else v)
                                              for k, v in doc.items()})
    return out


def normalise(object_type: str, doc: Mapping[str, Any]) -> Doc:
    """A document (plain JSON from the store, or a DataFrame row) as comparable values."""
    out = dict(FIELDS[object_type])
    for name, value in doc.items():
        value = _plain(value)
        if value is not None and name in DATE_FIELDS.get(object_type, ()):
            value = pd.Timestamp(value).tz_convert("UTC") if pd.Timestamp(value).tzinfo \
                else pd.Timestamp(value, tz="UTC")
        elif value is not None and name in DECIMAL_FIELDS.get(object_type, ()):
            value = decimal.Decimal(str(value)).normalize()
        out[name] = value
    return out


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.datetime) and not isinstance(value, pd.Timestamp):
        return pd.Timestamp(value)
    return value


def frame_documents(object_type: str, frame: pd.DataFrame) -> dict[str, Doc]:
    """A DataFrame of one type (``_id`` a column) as normalised documents by key."""
    return {str(row["_id"]): normalise(object_type, row)
            for row in frame.to_dict("records")}


def assert_same_documents(actual: Mapping[str, Doc], expected: Mapping[str, Doc]) -> None:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing and not extra, f"missing {missing[:5]}, unexpected {extra[:5]}"
    for pk, doc in expected.items():
        assert actual[pk] == doc, f"{pk}: {actual[pk]} != {doc}"
