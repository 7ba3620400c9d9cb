"""Resolve property paths against a schema and check that comparisons make sense.

Runs before compilation and before subscription checks, so a query that compares
``priority`` with a string fails the same way locally and on the server — with a
caret under the offending value.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from ..errors import QueryError, QueryTypeError
from ..schema import ObjectSchema, Property, PropertyType
from .ast import Aggregate, AggregateOp, Arg, Expr, ListLiteral, Literal, LiteralKind, Path, literal_kind
from .evaluate import bind_arg

__all__ = ["PropertyRef", "ValueRef", "check_value", "resolve", "resolve_value"]


@dataclass(frozen=True)
class PropertyRef:
    """A path resolved against a schema.

    ``steps`` holds the property at each part. ``list_index`` is the index of the
    step whose property is a list (``None`` when the path crosses no list).
    ``target`` is the scalar or embedded property the path ends on (for a list of
    primitives, its element property).
    """

    path: Path
    steps: tuple[Property, ...]
    list_index: int | None
    target: Property

    @property
    def many(self) -> bool:
        return self.list_index is not None

    @property
    def top_level(self) -> bool:
        return len(self.steps) == 1


@dataclass(frozen=True)
class ValueRef:
    """Constant value(s) of an expression: a literal, a bound argument or a list literal."""

    values: tuple[Any, ...]
    kinds: tuple[LiteralKind, ...]
    is_list: bool
    position: int


def resolve(object_schema: ObjectSchema, path: Path, query: str | None = None) -> PropertyRef:
    """Resolve ``path`` in ``object_schema``.

    Raises:
        QueryError: a part names no property, or dots into a scalar.
    """
    steps: list[Property] = []
    list_index: int | None = None
    current: ObjectSchema | None = object_schema
    for index, part in enumerate(path.parts):
        if current is None:
            raise QueryError(f"{path.parts[index - 1]!r} is not an embedded object: cannot "
                             f"follow .{part}", query=query, position=path.position)
        prop = current.get(part)
        if prop is None:
            known = ", ".join(p.name for p in current)
            raise QueryError(f"{current.name} has no property {part!r} (it has: {known})",
                             query=query, position=path.position)
        steps.append(prop)
        if prop.type is PropertyType.ARRAY:
            if list_index is not None:
                raise QueryError(f"the path {path.dotted!r} crosses more than one list",
                                 query=query, position=path.position)
            list_index = index
        element = prop.element
        current = element.embedded if element.type is PropertyType.OBJECT else None
    return PropertyRef(path, tuple(steps), list_index, steps[-1].element)


def resolve_value(node: Expr, args: Sequence[Any]) -> ValueRef | None:
    """The constant behind ``node``, or None when it is a property or aggregate."""
    if isinstance(node, Literal):
        return ValueRef((node.value,), (node.kind,), False, node.position)
    if isinstance(node, Arg):
        value = bind_arg(args, node)
        if isinstance(value, list | tuple | set | frozenset):
            items = tuple(value)
            return ValueRef(items, tuple(_kind(v, node) for v in items), True, node.position)
        return ValueRef((value,), (_kind(value, node),), False, node.position)
    if isinstance(node, ListLiteral):
        items_refs = [resolve_value(item, args) for item in node.items]
        if any(ref is None for ref in items_refs):
            raise QueryError("a list literal can only hold constants", position=node.position)
        values = tuple(ref.values[0] for ref in items_refs if ref is not None)
        kinds = tuple(ref.kinds[0] for ref in items_refs if ref is not None)
        return ValueRef(values, kinds, True, node.position)
    return None


def _kind(value: Any, node: Arg) -> LiteralKind:
    try:
        return literal_kind(value)
    except TypeError as error:
        raise QueryTypeError(f"${node.index}: {error}", position=node.position) from None


_NUMERIC_KINDS = frozenset({LiteralKind.INT, LiteralKind.FLOAT, LiteralKind.DECIMAL})
_ACCEPTS: dict[PropertyType, frozenset[LiteralKind]] = {
    PropertyType.STRING: frozenset({LiteralKind.STRING}),
    PropertyType.INT: _NUMERIC_KINDS,
    PropertyType.LONG: _NUMERIC_KINDS,
    PropertyType.DOUBLE: _NUMERIC_KINDS,
    PropertyType.DECIMAL: _NUMERIC_KINDS,
    PropertyType.BOOL: frozenset({LiteralKind.BOOL}),
    PropertyType.DATE: frozenset({LiteralKind.DATE}),
    PropertyType.OBJECT_ID: frozenset({LiteralKind.OBJECT_ID, LiteralKind.STRING}),
    PropertyType.UUID: frozenset({LiteralKind.UUID, LiteralKind.STRING}),
    PropertyType.OBJECT: frozenset(),
}


def check_value(prop: Property, value: Any, kind: LiteralKind, position: int,
                query: str | None, name: str) -> Any:
    """Check a constant against the property it is compared with; return it converted.

    A string compared with an objectId or uuid property is converted when it is a
    valid id (rule filters write ``"%%user.id"``, a string).

    Raises:
        QueryTypeError: the constant cannot be compared with the property.
    """
    if kind is LiteralKind.NULL:
        return None
    if kind not in _ACCEPTS[prop.type]:
        raise QueryTypeError(f"cannot compare {prop.describe()} property {name!r} with "
                             f"{_article(kind)}", query=query, position=position)
    if prop.type is PropertyType.OBJECT_ID and kind is LiteralKind.STRING:
        if not ObjectId.is_valid(value):
            raise QueryTypeError(f"{value!r} is not an ObjectId for {name!r} (use oid(...))",
                                 query=query, position=position)
        return ObjectId(value)
    if prop.type is PropertyType.UUID and kind is LiteralKind.STRING:
        try:
            return uuid.UUID(value)
        except ValueError:
            raise QueryTypeError(f"{value!r} is not a UUID for {name!r} (use uuid(...))",
                                 query=query, position=position) from None
    return value


def _article(kind: LiteralKind) -> str:
    if kind is LiteralKind.INT:
        return "an int"
    if kind in (LiteralKind.OBJECT_ID,):
        return "an objectId"
    if kind is LiteralKind.UUID:
        return "a uuid"
    return f"a {kind.value}"


def aggregate_property(ref: PropertyRef, node: Aggregate, query: str | None) -> Property:
    """The property describing an aggregate's result (its type for comparisons)."""
    name = node.path.dotted
    if node.op in (AggregateOp.COUNT, AggregateOp.SIZE):
        if ref.many or ref.target.type is PropertyType.STRING:
            return Property(f"{name}{node.op.value}", PropertyType.INT, required=True)
        raise QueryTypeError(f"{node.op.value} needs a list or a string, and {name!r} is "
                             f"{ref.target.describe()}", query=query, position=node.position)
    if not ref.many:
        raise QueryTypeError(f"{node.op.value} needs a list, and {name!r} is "
                             f"{ref.target.describe()}", query=query, position=node.position)
    element = ref.target
    if node.field is not None:
        if element.embedded is None or node.field not in element.embedded:
            raise QueryError(f"{name!r} has no element property {node.field!r}",
                             query=query, position=node.position)
        element = element.embedded[node.field]
    elif element.type is PropertyType.OBJECT:
        raise QueryTypeError(f"{node.op.value} over embedded objects needs a property: "
                             f"{name}.{node.op.value}.<property>", query=query,
                             position=node.position)
    allowed = element.type.is_numeric or (node.op in (AggregateOp.MIN, AggregateOp.MAX)
                                          and element.type is PropertyType.DATE)
    if not allowed:
        raise QueryTypeError(f"{node.op.value} needs numbers, and the elements are "
                             f"{element.describe()}", query=query, position=node.position)
    if node.op is AggregateOp.AVG and element.type is not PropertyType.DECIMAL:
        return Property(f"{name}{node.op.value}", PropertyType.DOUBLE)
    return Property(f"{name}{node.op.value}", element.type)
