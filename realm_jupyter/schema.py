"""Object schemas, read from App Services ``schema.json`` files.

A schema describes the shape every synced document of one object type has: a
primary key ``_id`` and typed properties (scalars, embedded objects, lists and
sets of either). Links to other objects are stored as the target's primary key,
as App Services does. Everything downstream — the server's typed SQL columns,
the query compiler's type checks, the client's DuckDB tables — is derived from
these classes, so there is exactly one place where a ``bsonType`` gets meaning.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SchemaError

__all__ = ["ObjectSchema", "Property", "PropertyType", "Schema"]


class PropertyType(enum.StrEnum):
    """The ``bsonType`` values a synced property can have."""

    OBJECT_ID = "objectId"
    UUID = "uuid"
    STRING = "string"
    INT = "int"
    LONG = "long"
    DOUBLE = "double"
    DECIMAL = "decimal"
    BOOL = "bool"
    DATE = "date"
    OBJECT = "object"
    ARRAY = "array"

    @property
    def is_numeric(self) -> bool:
        return self in (PropertyType.INT, PropertyType.LONG, PropertyType.DOUBLE, PropertyType.DECIMAL)

    @property
    def is_integer(self) -> bool:
        return self in (PropertyType.INT, PropertyType.LONG)


_ALIASES = {"objectid": PropertyType.OBJECT_ID, "integer": PropertyType.INT, "number": PropertyType.DOUBLE,
            "boolean": PropertyType.BOOL, "binData": PropertyType.UUID, "timestamp": PropertyType.DATE}
PRIMARY_KEY_TYPES = frozenset({PropertyType.OBJECT_ID, PropertyType.UUID, PropertyType.STRING,
                               PropertyType.INT, PropertyType.LONG})


@dataclass(frozen=True)
class Property:
    """One property of an object schema.

    ``items`` describes the elements of an ``array``; ``embedded`` the schema of an
    ``object`` (an embedded object has no primary key of its own). ``unique_items``
    marks a set: an array whose elements are kept distinct.
    """

    name: str
    type: PropertyType
    required: bool = False
    items: Property | None = None
    embedded: ObjectSchema | None = None
    unique_items: bool = False

    @property
    def is_list(self) -> bool:
        return self.type is PropertyType.ARRAY

    @property
    def is_scalar(self) -> bool:
        return self.type not in (PropertyType.ARRAY, PropertyType.OBJECT)

    @property
    def element(self) -> Property:
        """The element property of a list, or the property itself for anything else."""
        if self.items is not None:
            return self.items
        return self

    def describe(self) -> str:
        """A short human description such as ``list of string`` or ``int``."""
        if self.type is PropertyType.ARRAY and self.items is not None:
            kind = "set" if self.unique_items else "list"
            return f"{kind} of {self.items.describe()}"
        if self.type is PropertyType.OBJECT and self.embedded is not None:
            return f"embedded {self.embedded.name}"
        return str(self.type)


@dataclass(frozen=True)
class ObjectSchema:
    """The schema of one object type (or of an embedded object when ``embedded``)."""

    name: str
    properties: Mapping[str, Property]
    embedded: bool = False
    primary_key: str = "_id"
    _order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self._order:
            object.__setattr__(self, "_order", tuple(self.properties))

    def __iter__(self) -> Iterator[Property]:
        return (self.properties[name] for name in self._order)

    def __contains__(self, name: object) -> bool:
        return name in self.properties

    def __getitem__(self, name: str) -> Property:
        try:
            return self.properties[name]
        except KeyError:
            raise SchemaError(f"{self.name} has no property {name!r}") from None

    def get(self, name: str) -> Property | None:
        return self.properties.get(name)

    @property
    def primary_key_property(self) -> Property:
        return self[self.primary_key]

    @classmethod
    def from_json_schema(cls, document: Mapping[str, Any], *, name: str | None = None,
                         embedded: bool = False) -> ObjectSchema:
        """Build a schema from an App Services ``schema.json`` document.

        Raises:
            SchemaError: the document is not an object schema we can sync.
        """
        title = name or document.get("title")
        if not isinstance(title, str) or not title:
            raise SchemaError("schema has no 'title' naming its object type")
        if _bson_type(document, title) is not PropertyType.OBJECT:
            raise SchemaError(f"{title}: top-level bsonType must be 'object'")
        raw_properties = document.get("properties", {})
        if not isinstance(raw_properties, Mapping):
            raise SchemaError(f"{title}: 'properties' must be an object")
        required = set(document.get("required", []))
        properties = {
            prop_name: _property(prop_name, spec, prop_name in required, f"{title}.{prop_name}")
            for prop_name, spec in raw_properties.items()
        }
        if not embedded:
            pk = properties.get("_id")
            if pk is None:
                raise SchemaError(f"{title}: an object type needs an '_id' primary key property")
            if pk.type not in PRIMARY_KEY_TYPES:
                raise SchemaError(
                    f"{title}: primary key '_id' must be objectId, uuid, string, int or long, "
                    f"not {pk.type}")
            properties["_id"] = Property("_id", pk.type, required=True)
            order = ("_id", *(n for n in properties if n != "_id"))
            properties = {n: properties[n] for n in order}
        return cls(name=title, properties=properties, embedded=embedded)


def _bson_type(spec: Mapping[str, Any], where: str) -> PropertyType:
    raw = spec.get("bsonType", spec.get("type"))
    if isinstance(raw, list):  # ["string", "null"]: optional, the null adds nothing
        candidates = [t for t in raw if t != "null"]
        if len(candidates) != 1:
            raise SchemaError(f"{where}: mixed bsonType {raw!r} is not supported")
        raw = candidates[0]
    if raw is None and "properties" in spec:
        raw = "object"
    if not isinstance(raw, str):
        raise SchemaError(f"{where}: missing bsonType")
    try:
        return PropertyType(raw)
    except ValueError:
        if raw in _ALIASES:
            return _ALIASES[raw]
        raise SchemaError(f"{where}: unsupported bsonType {raw!r}") from None


def _property(name: str, spec: Any, required: bool, where: str) -> Property:
    if not isinstance(spec, Mapping):
        raise SchemaError(f"{where}: property definition must be an object")
    kind = _bson_type(spec, where)
    if kind is PropertyType.ARRAY:
        items_spec = spec.get("items")
        if not isinstance(items_spec, Mapping):
            raise SchemaError(f"{where}: an array needs an 'items' definition")
        items = _property(name, items_spec, True, f"{where}[]")
        if items.type is PropertyType.ARRAY:
            raise SchemaError(f"{where}: lists of lists are not supported")
        return Property(name, kind, required=True, items=items,
                        unique_items=bool(spec.get("uniqueItems", False)))
    if kind is PropertyType.OBJECT:
        title = spec.get("title") or name
        embedded = ObjectSchema.from_json_schema({**spec, "bsonType": "object"}, name=title,
                                                 embedded=True)
        return Property(name, kind, required=required, embedded=embedded)
    return Property(name, kind, required=required)


@dataclass(frozen=True)
class Schema:
    """All object types of an app, by name."""

    types: Mapping[str, ObjectSchema]

    def __iter__(self) -> Iterator[ObjectSchema]:
        return iter(self.types.values())

    def __contains__(self, name: object) -> bool:
        return name in self.types

    def __getitem__(self, name: str) -> ObjectSchema:
        try:
            return self.types[name]
        except KeyError:
            known = ", ".join(sorted(self.types)) or "none"
            raise SchemaError(f"unknown object type {name!r} (known types: {known})") from None

    @property
    def names(self) -> list[str]:
        return sorted(self.types)

    @classmethod
    def from_documents(cls, documents: list[Mapping[str, Any]]) -> Schema:
        """Build a schema from ``schema.json`` documents (one per object type)."""
        types: dict[str, ObjectSchema] = {}
        for document in documents:
            object_schema = ObjectSchema.from_json_schema(document)
            if object_schema.name in types:
                raise SchemaError(f"object type {object_schema.name!r} is defined twice")
            types[object_schema.name] = object_schema
        return cls(types)

    def to_json(self) -> dict[str, Any]:
        """The schema as App Services JSON documents, keyed by type (sent to clients)."""
        return {name: _object_json(object_schema) for name, object_schema in self.types.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schema:
        return cls.from_documents([{**doc, "title": name} for name, doc in data.items()])

    @classmethod
    def from_file(cls, path: Path) -> Schema:
        return cls.from_json(json.loads(path.read_text()))


def _property_json(prop: Property) -> dict[str, Any]:
    if prop.type is PropertyType.ARRAY and prop.items is not None:
        out: dict[str, Any] = {"bsonType": "array", "items": _property_json(prop.items)}
        if prop.unique_items:
            out["uniqueItems"] = True
        return out
    if prop.type is PropertyType.OBJECT and prop.embedded is not None:
        return _object_json(prop.embedded)
    return {"bsonType": str(prop.type)}


def _object_json(object_schema: ObjectSchema) -> dict[str, Any]:
    return {
        "title": object_schema.name,
        "bsonType": "object",
        "required": [p.name for p in object_schema if p.required and not p.is_list],
        "properties": {p.name: _property_json(p) for p in object_schema},
    }
