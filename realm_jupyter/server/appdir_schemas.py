"""Export quirks of ``schema.json`` files, settled before a schema is built.

Real exports carry shapes an App Services client tolerated but a typed store
cannot hold:

* **placeholder schemas** — ``{"title": "X", "properties": {}}`` or no ``_id``: App
  Services wrote them for collections nobody synced; they are skipped with one
  warning instead of failing the app;
* **empty embedded objects** — ``{"bsonType": "object", "properties": {}}`` as a
  field: no column type can hold "an object of nothing" (DuckDB has no empty
  STRUCT), and no value but ``{}`` fits it; the field is dropped with a warning;
* **field names that differ only in case** (``lastBreakTime``, ``lastBreaktime``):
  distinct in MongoDB, one column in SQLite and DuckDB, whose identifiers ignore
  case; refused at start-up naming both fields, instead of a "duplicate column"
  crash later.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..errors import SchemaError

__all__ = ["is_placeholder", "prepare_schema"]

logger = logging.getLogger(__name__)


def is_placeholder(document: Mapping[str, Any]) -> bool:
    """A schema with no properties or no ``_id``: nothing that could sync."""
    properties = document.get("properties")
    return not isinstance(properties, Mapping) or not properties or "_id" not in properties


def prepare_schema(document: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``document`` without empty embedded objects, checked for case-colliding names.

    Raises:
        SchemaError: two fields of one object differ only in case.
    """
    return _object(document, where)


def _object(spec: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = dict(spec)
    properties = spec.get("properties")
    if not isinstance(properties, Mapping):
        return out
    kept: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for name, prop in properties.items():
        other = seen.get(name.lower())
        if other is not None:
            raise SchemaError(f"{where}: fields {other!r} and {name!r} differ only in case; "
                              "the store and the cache cannot keep them apart (rename one)")
        seen[name.lower()] = name
        if isinstance(prop, Mapping):
            prop = _property(prop, f"{where}.{name}")
            if prop is None:
                logger.warning("%s.%s is an embedded object with no properties: field dropped",
                               where, name)
                continue
        kept[name] = prop
    out["properties"] = kept
    if isinstance(spec.get("required"), list):
        out["required"] = [n for n in spec["required"] if n in kept]
    return out


def _property(prop: Mapping[str, Any], where: str) -> Mapping[str, Any] | None:
    kind = prop.get("bsonType", prop.get("type"))
    if kind == "array" and isinstance(prop.get("items"), Mapping):
        items = _property(prop["items"], f"{where}[]")
        return None if items is None else {**prop, "items": items}
    if kind == "object" or (kind is None and "properties" in prop):
        if "additionalProperties" in prop and not prop.get("properties"):
            return prop  # a dictionary, not an embedded object
        if not prop.get("properties"):
            return None
        return _object(prop, where)
    return prop
