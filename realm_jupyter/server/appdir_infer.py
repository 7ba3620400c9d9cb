"""Development mode: a collection's ``schema.json`` inferred from its documents.

App Services in development mode takes the schema from the clients, so an
exported app in that mode often has collections with no ``schema.json`` at all.
Here the documents stand in for the clients: seed data (``data/<Coll>.json``)
and imported files are sampled the way App Services' schema generation samples
a collection — every document, every field, in first-seen order, so the result
is deterministic — and a field is ``required`` only when every document has a
non-null value for it. Integers stay ``int`` unless one needs 64 bits (``long``);
``int`` mixed with ``double`` widens to ``double``. Any other mix of types would
need ``mixed``, which we do not serve yet: that is an error naming the field.

``realm-jupyter schema infer --app-dir DIR [--write]`` prints (or writes) what this
module infers, so the result can be reviewed and kept as real ``schema.json`` files.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from bson import Binary, Decimal128, Int64, ObjectId

from ..errors import SchemaError

__all__ = ["infer_schema"]

INT32 = range(-(2**31), 2**31)


def infer_schema(title: str, documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An App Services ``schema.json`` document for ``documents`` of object type ``title``.

    Raises:
        SchemaError: no document, no ``_id``, a field whose values have several
            incompatible types, a binary value, or a list that is empty in every document.
    """
    docs = list(documents)
    if not docs:
        raise SchemaError(f"{title}: no documents to infer a schema from")
    if any("_id" not in doc for doc in docs):
        raise SchemaError(f"{title}: every document needs an '_id' to infer a schema from")
    schema = _object(docs, title)
    ordered = {"_id": schema["properties"].pop("_id"), **schema["properties"]}
    required = schema.get("required", [])
    out: dict[str, Any] = {"title": title, "bsonType": "object", "properties": ordered}
    out["required"] = ["_id", *(name for name in required if name != "_id")]
    return out


def _object(docs: list[Mapping[str, Any]], where: str) -> dict[str, Any]:
    names: dict[str, None] = {}
    for doc in docs:
        names.update(dict.fromkeys(doc))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name in names:
        values = [doc.get(name) for doc in docs]
        present = [v for v in values if v is not None]
        if not present:
            continue  # only nulls: nothing to tell its type by; the field stays unknown
        properties[name] = _spec(present, f"{where}.{name}")
        if len(present) == len(values) and properties[name]["bsonType"] != "array":
            required.append(name)
    result: dict[str, Any] = {"bsonType": "object", "properties": properties}
    if required:
        result["required"] = required
    return result


def _spec(values: list[Any], where: str) -> dict[str, Any]:
    kinds = {_kind(v, where) for v in values}
    if kinds == {"array"}:
        elements = [item for value in values for item in value]
        present = [item for item in elements if item is not None]
        if not present:
            raise SchemaError(f"{where}: every list is empty, so its element type cannot be "
                              "inferred; write this collection's schema.json")
        return {"bsonType": "array", "items": _spec(present, f"{where}[]")}
    if kinds == {"object"}:
        return _object(values, where)
    if kinds <= {"int", "long"}:
        return {"bsonType": "long" if "long" in kinds else "int"}
    if kinds <= {"int", "long", "double"}:
        return {"bsonType": "double"}
    if len(kinds) > 1:
        raise SchemaError(f"{where}: values of several types ({', '.join(sorted(kinds))}) would "
                          "need bsonType 'mixed', which is not supported yet")
    return {"bsonType": kinds.pop()}


def _kind(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "long"
    if isinstance(value, int):
        return "int" if value in INT32 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, ObjectId):
        return "objectId"
    if isinstance(value, Decimal128):
        return "decimal"
    if isinstance(value, datetime.datetime):
        return "date"
    if isinstance(value, uuid.UUID) or (isinstance(value, Binary) and value.subtype == 4):
        return "uuid"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    raise SchemaError(f"{where}: a {type(value).__name__} value has no supported bsonType")
