"""MongoDB query syntax, as App Services rules use it, parsed into the query AST.

Rules and subscriptions share one AST, so one evaluator and one compiler serve
both. Expansions (``"%%user.id"``, ``"%%user.custom_data.teams"``, ``"%%true"``)
are resolved while parsing, through the ``expand`` callback, so the resulting
predicate holds only constants — it is evaluated once per session, as App
Services does. A key that is itself an expansion (``{"%%user.custom_data.role":
"admin"}``, common in ``apply_when``) compares the expanded value.

Operators: ``$and $or $nor $not $in $nin $all $eq $ne $gt $gte $lt $lte $exists``.
A field compared with an array-valued expansion means membership (``$in``).
``$ne`` is MongoDB's: *no* element of an array field equals the value, so it
becomes ``NOT (field == value)`` (the same as ``!=`` for a scalar field, and
right for lists, where Realm's ``!=`` would mean *some* element differs).

Given the collection's ``fields``, a clause on a field the collection lacks is
evaluated as App Services does — the field is null (``{"owner_id": "%%user.id"}``
is false, ``{"owner_id": {"$exists": false}}`` true) — and folded to a constant, so
the predicate names only real fields and every engine (bootstrap SQL, steady-state
evaluation, write checks) agrees without knowing about absent fields.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from ..errors import QueryError
from .ast import (
    And,
    CompareOp,
    Comparison,
    Constant,
    ListLiteral,
    Literal,
    Not,
    Or,
    Path,
    Predicate,
)

__all__ = ["Expand", "parse_filter"]

Expand = Callable[[str], Any]
Subject = Path | Literal | ListLiteral

_COMPARISONS = {"$eq": CompareOp.EQ, "$ne": CompareOp.NE, "$gt": CompareOp.GT,
                "$gte": CompareOp.GE, "$lt": CompareOp.LT, "$lte": CompareOp.LE}
_MISSING = object()


def parse_filter(document: Mapping[str, Any], expand: Expand | None = None,
                 fields: Collection[str] | None = None) -> Predicate:
    """Parse a MongoDB filter document into a predicate.

    ``fields``, when given, are the top-level fields the collection has; clauses
    on any other field are folded to the constant they are for a null field.

    Raises:
        QueryError: an unknown operator, a malformed operand or an unknown expansion
            (the message names the key).
    """
    if not isinstance(document, Mapping):
        raise QueryError(f"a filter must be an object, not {type(document).__name__}")
    return _Parser(expand or _no_expansions, fields).document(document)


def _no_expansions(name: str) -> Any:
    raise QueryError(f"expansion {name!r} is not available here")


def _simplify(parts: list[Predicate], joiner: type[And] | type[Or]) -> Predicate:
    identity = joiner is And  # True for AND, False for OR
    if any(isinstance(p, Constant) and p.value is not identity for p in parts):
        return Constant(not identity)  # AND with a false part, OR with a true one
    parts = [p for p in parts if not isinstance(p, Constant)]
    if not parts:
        return Constant(identity)
    if len(parts) == 1:
        return parts[0]
    return joiner(tuple(parts))


def _negate(predicate: Predicate) -> Predicate:
    if isinstance(predicate, Constant):
        return Constant(not predicate.value)
    return Not(predicate)


class _Parser:
    def __init__(self, expand: Expand, fields: Collection[str] | None = None) -> None:
        self.expand = expand
        self.fields = fields

    def value(self, raw: Any) -> Any:
        if isinstance(raw, str) and raw.startswith("%%"):
            return self.expand(raw)
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, Mapping) and set(raw) == {"%stringToOid"}:
            from bson import ObjectId

            return ObjectId(self.value(raw["%stringToOid"]))
        if isinstance(raw, Mapping) and set(raw) == {"%oidToString"}:
            return str(self.value(raw["%oidToString"]))
        return raw

    def literal(self, value: Any, where: str) -> Literal:
        try:
            return Literal.of(value)
        except TypeError:
            raise QueryError(f"{where}: {value!r} cannot be compared") from None

    def document(self, document: Mapping[str, Any]) -> Predicate:
        parts = [self.clause(key, value) for key, value in document.items()]
        return _simplify(parts, And)

    def clause(self, key: str, value: Any) -> Predicate:
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list) or not value:
                raise QueryError(f"{key} needs a non-empty array of filters")
            parts = [self.document(_object(item, key)) for item in value]
            if key == "$and":
                return _simplify(parts, And)
            combined = _simplify(parts, Or)
            return _negate(combined) if key == "$nor" else combined
        if key.startswith("$"):
            raise QueryError(f"unsupported top-level operator {key!r}")
        subject: Subject
        if key.startswith("%%"):
            expanded = self.value(key)
            if isinstance(expanded, list):
                subject = ListLiteral(tuple(self.literal(v, key) for v in expanded))
            else:
                subject = self.literal(expanded, key)
        else:
            subject = Path(tuple(key.split(".")))
        if isinstance(value, Mapping) and value and all(k.startswith("$") for k in value):
            clause = _simplify([self.operator(subject, op, arg, key) for op, arg in value.items()],
                               And)
        else:
            clause = self.equals(subject, self.value(value), key)
        if isinstance(subject, Path) and self.fields is not None \
                and subject.parts[0] not in self.fields:
            from .evaluate import evaluate

            return Constant(evaluate(clause, {}))  # an absent field is null
        return clause

    def equals(self, subject: Subject, value: Any, key: str) -> Predicate:
        if isinstance(value, list):
            return self.membership(subject, value, key)
        if isinstance(subject, ListLiteral):  # an array-valued expansion contains the value
            return Comparison(CompareOp.IN, self.literal(value, key), subject)
        return Comparison(CompareOp.EQ, subject, self.literal(value, key))

    def membership(self, subject: Subject, values: list[Any], key: str) -> Predicate:
        items = tuple(self.literal(v, key) for v in values)
        if isinstance(subject, ListLiteral):
            # {"%%user.custom_data.teams": {"$in": [...]}}: any shared element
            return _simplify([Comparison(CompareOp.IN, item, subject) for item in items], Or)
        return Comparison(CompareOp.IN, subject, ListLiteral(items))

    def operator(self, subject: Subject, op: str, raw: Any, key: str) -> Predicate:
        if op == "$not":
            if not isinstance(raw, Mapping) or not raw:
                raise QueryError(f"{key}: $not needs an operator object such as {{'$gt': 5}}")
            return Not(_simplify([self.operator(subject, inner, arg, key)
                                  for inner, arg in raw.items()], And))
        value = self.value(raw)
        if op == "$exists":
            if isinstance(subject, ListLiteral):
                raise QueryError(f"{key}: $exists needs a field")
            # Missing fields are stored as null (lists as empty lists, which exist):
            # "exists" is "not null", spelled so that a list field always exists.
            absent = Comparison(CompareOp.EQ, subject, Literal.of(None))
            return Not(absent) if value else absent
        if op in ("$in", "$nin"):
            if not isinstance(value, list):
                value = [value]
            result = self.membership(subject, value, key)
            return Not(result) if op == "$nin" else result
        if op == "$all":
            if not isinstance(value, list):
                raise QueryError(f"{key}: $all needs an array")
            if not isinstance(subject, Path):
                raise QueryError(f"{key}: $all needs a field")
            if not value:  # MongoDB: {$all: []} matches no document
                return Constant(False)
            return _simplify([Comparison(CompareOp.IN, self.literal(v, key), subject)
                              for v in value], And)
        if op in _COMPARISONS:
            if isinstance(value, list) and op in ("$eq", "$ne"):
                result = self.membership(subject, value, key)
                return Not(result) if op == "$ne" else result
            if op == "$ne":  # MongoDB: no element equals (for a scalar: plain !=)
                return Not(self.equals(subject, value, key))
            if isinstance(subject, ListLiteral):
                if op == "$eq":
                    return self.equals(subject, value, key)
                raise QueryError(f"{key}: {op} cannot compare an array expansion")
            return Comparison(_COMPARISONS[op], subject, self.literal(value, key))
        raise QueryError(f"{key}: unsupported operator {op!r} (supported: $eq $ne $gt $gte $lt "
                         "$lte $in $nin $all $exists $not, and $and $or $nor)")


def _object(item: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise QueryError(f"{key} needs an array of filter objects")
    return item
