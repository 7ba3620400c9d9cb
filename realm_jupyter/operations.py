"""Write operations: what a local write records, uploads, and the server integrates.

An operation targets one object (type + primary key) and, for field-level
operations, one field (``address.city`` reaches into an embedded object). The
same :func:`apply_operation` runs on the client (the optimistic local write, and
replaying unacknowledged writes over downloaded changes) and on the server (after
conflict resolution), so both sides agree on what an operation means.

Operations travel as plain JSON (``Operation.to_json``), values in plain form.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .documents import (
    distinct,
    document_from_plain,
    plain_value,
    validate_document,
    validate_value,
    value_from_plain,
)
from .errors import SchemaError, WriteError
from .schema import ObjectSchema, Property, PropertyType

__all__ = ["KINDS", "Operation", "apply_operation", "field_property"]

KINDS = frozenset({"create", "set", "delete", "add_integer", "list_insert", "list_set",
                   "list_erase", "list_move", "list_clear", "set_add", "set_remove"})
LIST_KINDS = frozenset({"list_insert", "list_set", "list_erase", "list_move", "list_clear",
                        "set_add", "set_remove"})
#: The keys each kind's JSON may have (what ``to_json`` writes); anything else is a mistake,
#: such as a ``delete`` carrying a document that names another object.
_TARGET = ("op", "type", "pk")
JSON_KEYS = {
    "create": frozenset({*_TARGET, "doc"}),
    "delete": frozenset(_TARGET),
    "set": frozenset({*_TARGET, "field", "value"}),
    "add_integer": frozenset({*_TARGET, "field", "value"}),
    "list_insert": frozenset({*_TARGET, "field", "index", "value"}),
    "list_set": frozenset({*_TARGET, "field", "index", "value"}),
    "list_erase": frozenset({*_TARGET, "field", "index"}),
    "list_move": frozenset({*_TARGET, "field", "index", "to"}),
    "list_clear": frozenset({*_TARGET, "field"}),
    "set_add": frozenset({*_TARGET, "field", "value"}),
    "set_remove": frozenset({*_TARGET, "field", "value"}),
}
#: List positions beyond this are refused (lists are clamped, so nothing real is lost).
MAX_POSITION = 2**31 - 1
_INT64 = (-(2**63), 2**63)


@dataclass(frozen=True)
class Operation:
    """One write. ``value``/``doc`` hold Python values (validated against the schema)."""

    kind: str
    object_type: str
    pk: Any
    field: str | None = None
    value: Any = None
    index: int | None = None
    to: int | None = None
    doc: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.kind, "type": self.object_type,
                                "pk": plain_value(self.pk)}
        if self.field is not None:
            data["field"] = self.field
        if self.kind in ("set", "add_integer", "list_insert", "list_set", "set_add", "set_remove"):
            data["value"] = plain_value(self.value)
        if self.index is not None:
            data["index"] = self.index
        if self.to is not None:
            data["to"] = self.to
        if self.doc is not None:
            data["doc"] = plain_value(dict(self.doc))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], object_schema: ObjectSchema) -> Operation:
        """Decode and validate an operation (plain JSON) against its schema.

        Raises:
            SchemaError: unknown kind or field, or values of the wrong type.
        """
        kind = data.get("op")
        if kind not in KINDS:
            raise SchemaError(f"unknown operation {str(kind)[:40]!r}")
        unknown = sorted(str(key) for key in data if key not in JSON_KEYS[kind])
        if unknown:
            raise SchemaError(f"{kind}: unexpected key {unknown[0][:80]!r}")
        pk_prop = object_schema.primary_key_property
        if data.get("pk") is None:
            raise SchemaError(f"{object_schema.name}.{object_schema.primary_key}: "
                              f"the operation needs a primary key")
        pk = value_from_plain(pk_prop, data.get("pk"), f"{object_schema.name}.{pk_prop.name}")
        if kind == "create":
            raw = data.get("doc")
            if not isinstance(raw, Mapping):
                raise SchemaError("create needs a document")
            document = document_from_plain(object_schema, raw)
            # The primary key names the target everywhere (permission checks, clocks, history):
            # a document that names another object would write that one instead.
            if document.get(object_schema.primary_key) != pk:
                raise SchemaError(f"create: the document's {object_schema.primary_key} differs "
                                  f"from the operation's primary key")
            return cls("create", object_schema.name, pk, doc=document)
        if kind == "delete":
            return cls("delete", object_schema.name, pk)
        name = data.get("field")
        if not isinstance(name, str):
            raise SchemaError(f"{kind} needs a field")
        prop = field_property(object_schema, name)
        where = f"{object_schema.name}.{name}"
        value = data.get("value")
        index = data.get("index")
        to = data.get("to")
        if kind in LIST_KINDS and prop.type is not PropertyType.ARRAY:
            raise SchemaError(f"{where} is not a list")
        if kind == "set":
            value = value_from_plain(prop, value, where)
        elif kind == "add_integer":
            if not prop.type.is_integer or not isinstance(value, int) or isinstance(value, bool):
                raise SchemaError(f"{where}: add_integer needs an int field and an int, "
                                  f"not {prop.describe()} and {str(value)[:40]!r}")
            if not _INT64[0] <= value < _INT64[1]:
                raise SchemaError(f"{where}: add_integer amount is out of the 64-bit range")
        elif kind in ("list_insert", "list_set", "set_add", "set_remove"):
            assert prop.items is not None
            value = value_from_plain(prop.items, value, f"{where}[]")
        for label, number in (("index", index), ("to", to)):
            if number is not None and (not isinstance(number, int) or isinstance(number, bool)
                                       or not 0 <= number <= MAX_POSITION):
                raise SchemaError(f"{where}: list position {label!r} must be an integer from 0 "
                                  f"to {MAX_POSITION}")
        if kind in ("list_insert", "list_set", "list_erase", "list_move") and index is None:
            raise SchemaError(f"{where}: {kind} needs an index")
        if kind == "list_move" and to is None:
            raise SchemaError(f"{where}: list_move needs 'to'")
        return cls(kind, object_schema.name, pk, name, value, index, to)


def field_property(object_schema: ObjectSchema, path: str) -> Property:
    """The property at a dotted field path (``address.city``).

    Raises:
        SchemaError: a part of the path names no property, or dots into a non-object.
    """
    current: ObjectSchema | None = object_schema
    prop: Property | None = None
    for part in path.split("."):
        if current is None:
            raise SchemaError(f"{object_schema.name}.{path}: cannot reach into a non-object")
        prop = current.get(part)
        if prop is None:
            raise SchemaError(f"{object_schema.name} has no field {path!r}")
        current = prop.embedded if prop.type is PropertyType.OBJECT else None
    assert prop is not None
    if prop.name == object_schema.primary_key and "." not in path:
        raise SchemaError("the primary key cannot be changed")
    return prop


def _get_parent(document: dict[str, Any], path: str, create: bool) -> tuple[dict[str, Any], str]:
    """The object holding the last part of ``path``, copying each embedded object on the way
    (the caller's document stays as it was)."""
    parts = path.split(".")
    target = document
    for part in parts[:-1]:
        nested = target.get(part)
        if not isinstance(nested, dict):
            if not create:
                raise WriteError(f"{path}: the embedded object {part!r} is null")
            nested = {}
        else:
            nested = dict(nested)
        target[part] = nested
        target = nested
    return target, parts[-1]


def apply_operation(document: Mapping[str, Any] | None, operation: Operation,
                    object_schema: ObjectSchema) -> dict[str, Any] | None:
    """The document after ``operation`` (None: deleted or absent).

    Operations on an absent object do nothing (a concurrent delete won), except
    ``create``. List positions past the end are clamped (another writer may have
    shortened the list); a set keeps its elements distinct.

    The operation's value was validated when it was made or decoded, so only the
    field it touched is checked again, and only what it touched is copied: a
    changeset of thousands of operations on one object costs each operation the size
    of its field, not of the whole document (which would be quadratic).

    Raises:
        SchemaError: the touched field no longer fits its schema (an integer past
            64 bits after a merge, a required field of a new embedded object).
        WriteError: a path reaches through an embedded object that is null.
    """
    if operation.kind == "create":
        assert operation.doc is not None
        return validate_document(object_schema, operation.doc)
    if operation.kind == "delete" or document is None:
        return None
    result = dict(document)
    for prop in object_schema:
        if prop.name not in result:
            result[prop.name] = [] if prop.is_list else None
    assert operation.field is not None
    parent, key = _get_parent(result, operation.field, create=operation.kind == "set")
    if operation.kind == "set":
        parent[key] = operation.value
    elif operation.kind == "add_integer":
        current = parent.get(key)
        if current is not None:
            parent[key] = _wrap64(int(current) + int(operation.value))
    else:
        items = list(parent.get(key) or [])
        parent[key] = _list_op(items, operation)
    outer = object_schema[operation.field.split(".")[0]]
    where = f"{object_schema.name}.{outer.name}"
    if operation.kind in LIST_KINDS and outer.is_list:
        # the elements were validated one by one; a set must still stay distinct
        if outer.unique_items:
            result[outer.name] = distinct(result[outer.name])
    else:
        result[outer.name] = validate_value(outer, result[outer.name], where)
    return result


def _list_op(items: list[Any], operation: Operation) -> list[Any]:
    kind = operation.kind
    index = operation.index if operation.index is not None else 0
    if kind == "list_insert":
        items.insert(min(index, len(items)), operation.value)
    elif kind == "list_set":
        if index < len(items):
            items[index] = operation.value
    elif kind == "list_erase":
        if index < len(items):
            del items[index]
    elif kind == "list_move":
        if index < len(items):
            value = items.pop(index)
            items.insert(min(operation.to or 0, len(items)), value)
    elif kind == "list_clear":
        items = []
    elif kind == "set_add":
        if operation.value not in items:
            items.append(operation.value)
    elif kind == "set_remove":
        items = [item for item in items if item != operation.value]
    return items


def _wrap64(value: int) -> int:
    return (value + 2**63) % 2**64 - 2**63
