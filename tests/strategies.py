"""Hypothesis strategies: a test schema, documents for it, and queries as ASTs.

Values come mostly from small shared pools, so that random queries and random
documents actually meet (equal strings, equal instants, ints equal to doubles),
and partly from wide ranges. Strings are full of traps: ``%``, ``_``, ``*``,
``?``, quotes, backslashes, newlines, and letters whose case folds (or must not).

Two query strategies build well-typed ASTs (literal kinds that fit the property,
and only what the parser can produce, so ``parse(render(ast)) == ast``):

* :func:`subscription_queries` — the Flexible Sync subset: top-level queryable
  fields, no modifiers, no aggregates, no dotted paths;
* :func:`local_queries` — the cache's language: adds dotted paths into the
  embedded object, ``ANY/ALL/NONE``, aggregates and ``SORT/DISTINCT/LIMIT``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

from bson import ObjectId
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from realm_jupyter.documents import validate_document
from realm_jupyter.query import Query
from realm_jupyter.query.ast import (
    Aggregate,
    AggregateOp,
    And,
    Between,
    CompareOp,
    Comparison,
    Constant,
    Distinct,
    Limit,
    ListLiteral,
    Literal,
    LiteralKind,
    Modifier,
    Not,
    Or,
    Path,
    Predicate,
    Quantifier,
    Sort,
    SortKey,
)
from realm_jupyter.schema import ObjectSchema, PropertyType

__all__ = [
    "SCHEMA",
    "SCHEMA_JSON",
    "document_batches",
    "documents",
    "hypothesis_settings",
    "literals",
    "local_queries",
    "server_queries",
    "subscription_queries",
]

UTC = dt.UTC


def hypothesis_settings(**overrides: Any) -> settings:
    """Settings for the query suite: no deadline, no example database, derandomised.

    Runs are reproducible (CI and the ~60 s budget rely on it). Set
    ``REALM_HYPOTHESIS_EXPLORE=<factor>`` to draw fresh random examples instead,
    ``factor`` times as many (``1`` keeps the counts).
    """
    explore = os.environ.get("REALM_HYPOTHESIS_EXPLORE", "")
    factor = int(explore) if explore.isdigit() and int(explore) > 0 else 1
    if "max_examples" in overrides:
        overrides["max_examples"] *= factor
    return settings(deadline=None, database=None, derandomize=not explore, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much],
                    **overrides)


# --------------------------------------------------------------------------- the schema

SCHEMA_JSON: dict[str, Any] = {
    "title": "Item",
    "bsonType": "object",
    "required": ["_id"],
    "properties": {
        "_id": {"bsonType": "objectId"},
        "name": {"bsonType": "string"},
        "owner_id": {"bsonType": "string"},
        "priority": {"bsonType": "int"},
        "score": {"bsonType": "double"},
        "price": {"bsonType": "decimal"},
        "done": {"bsonType": "bool"},
        "due": {"bsonType": "date"},
        "ref": {"bsonType": "uuid"},
        "parent_id": {"bsonType": "objectId"},
        "tags": {"bsonType": "array", "items": {"bsonType": "string"}},
        "counts": {"bsonType": "array", "items": {"bsonType": "int"}},
        "address": {
            "bsonType": "object",
            "title": "Address",
            "properties": {"city": {"bsonType": "string"}, "zip": {"bsonType": "int"}},
        },
    },
}
SCHEMA = ObjectSchema.from_json_schema(SCHEMA_JSON)

#: Top-level scalar properties by type (all queryable in the tests' sync config).
SCALARS: dict[str, PropertyType] = {
    p.name: p.type for p in SCHEMA if p.is_scalar
}
LISTS: dict[str, PropertyType] = {"tags": PropertyType.STRING, "counts": PropertyType.INT}
#: Dotted paths into the embedded object (local language only).
EMBEDDED: dict[str, PropertyType] = {"address.city": PropertyType.STRING,
                                     "address.zip": PropertyType.INT}
ORDERABLE = frozenset({PropertyType.STRING, PropertyType.INT, PropertyType.DOUBLE,
                       PropertyType.DECIMAL, PropertyType.DATE, PropertyType.OBJECT_ID,
                       PropertyType.UUID})
NUMERIC = frozenset({PropertyType.INT, PropertyType.DOUBLE, PropertyType.DECIMAL})


# --------------------------------------------------------------------------- value pools

STRING_POOL = (
    "", "a", "A", "ab", "Ab", "AB", "abc", "b", "alice", "Alice", "bob", "100%", "100",
    "1000", "100x", "a_", "a_b", "axb", "ab_", "a%", "a%b", "x*y", "x?y", "xzy", "xy", "*", "?",
    "%", "_", "it's", 'say "hi"', "back\\slash", "line\nbreak", "tab\there", "[a]", "Åsa",
    "åsa", "ÅSA", "asa", "straße", "STRASSE", "Ǆ", "ǅ", "ǆ", "İ", "i", "ı", "I", "Ω", "ω", "é",
    "É", "ÿ", "Ÿ", "ǺǺ", "ǻǻ", "Ǻǻ", "ſ", "s", "S", "ǅemal", "e\u0301", "👍", "a👍b",
)
#: Characters for free-form strings: the traps plus letters that fold and some that must not.
STRING_ALPHABET = "aAbBxyzZ%_*?'\"\\\n\t []åÅéÉÿŸßǄǅǆİıΩωſ0123456789!\u0301👍"
INT_POOL = (-3, -1, 0, 1, 2, 3, 5, 10, 100)
DOUBLE_POOL = (-3.0, -1.5, -1.0, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 0.1, 0.3,
               0.30000000000000004, 1e16, 1e-07, 100.0)
DECIMAL_POOL = tuple(decimal.Decimal(t) for t in (
    "0", "0.0", "1", "1.0", "1.50", "1.5", "-1.5", "2", "3.000", "0.1", "0.3", "10", "100",
    "123456.789012", "-0.000001", "999999999999", "0.000001"))
DATE_POOL = tuple(dt.datetime(*parts, tzinfo=UTC) for parts in (
    (2020, 1, 1), (2020, 1, 1, 0, 0, 0, 1000), (2020, 1, 1, 12, 30), (2021, 6, 15, 8, 0, 0, 999000),
    (1969, 12, 31, 23, 59, 59, 999000), (1970, 1, 1), (1900, 3, 1), (2038, 1, 19, 3, 14, 8),
    (1000, 5, 5), (9999, 12, 31, 23, 59, 59, 999000)))
OID_POOL = tuple(ObjectId(h) for h in (
    "000000000000000000000000", "5f0000000000000000000001", "5f0000000000000000000002",
    "64a1b2c3d4e5f60718293a4b", "ffffffffffffffffffffffff"))
UUID_POOL = tuple(uuid.UUID(u) for u in (
    "00000000-0000-0000-0000-000000000000", "12345678-1234-5678-1234-567812345678",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "ffffffff-ffff-ffff-ffff-ffffffffffff"))


def _pooled(pool: Sequence[Any], wide: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool), wide)


strings = _pooled(STRING_POOL, st.text(STRING_ALPHABET, max_size=6))
ints = _pooled(INT_POOL, st.integers(-(2**53), 2**53))
doubles = st.one_of(
    st.sampled_from(DOUBLE_POOL),
    st.sampled_from(INT_POOL).map(float),
    st.sampled_from(DECIMAL_POOL).map(float),
    st.floats(allow_nan=False, allow_infinity=False),
)
decimals = st.one_of(
    st.sampled_from(DECIMAL_POOL),
    st.sampled_from(INT_POOL).map(decimal.Decimal),
    st.builds(lambda digits, exponent: decimal.Decimal(digits).scaleb(exponent),
              st.integers(-(10**12) + 1, 10**12 - 1), st.integers(-6, 0)),
)
ms_dates = st.one_of(
    st.sampled_from(DATE_POOL),
    st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31),
                 timezones=st.just(UTC)).map(
                     lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)),
)
object_ids = _pooled(OID_POOL, st.binary(min_size=12, max_size=12).map(ObjectId))
uuids = _pooled(UUID_POOL, st.uuids())
booleans = st.booleans()

VALUES: dict[PropertyType, st.SearchStrategy[Any]] = {
    PropertyType.STRING: strings,
    PropertyType.INT: ints,
    PropertyType.DOUBLE: doubles,
    PropertyType.DECIMAL: decimals,
    PropertyType.BOOL: booleans,
    PropertyType.DATE: ms_dates,
    PropertyType.OBJECT_ID: object_ids,
    PropertyType.UUID: uuids,
}


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy, strategy)


# --------------------------------------------------------------------------- documents


_MISSING = object()
_FIELD_VALUES = {name: st.one_of(st.just(_MISSING), _optional(VALUES[kind]))
                 for name, kind in SCALARS.items() if name != "_id"}
_RAW_IDS = st.binary(min_size=12, max_size=12).map(ObjectId)
_TAGS = st.lists(strings, max_size=4)
_COUNTS = st.lists(ints, max_size=4)
_ADDRESSES = st.one_of(st.none(), st.fixed_dictionaries(
    {}, optional={"city": _optional(strings), "zip": _optional(ints)}))


@st.composite
def documents(draw: st.DrawFn, _id: st.SearchStrategy[ObjectId] | None = None) -> dict[str, Any]:
    """A document of :data:`SCHEMA`, validated (missing optional fields become null)."""
    raw: dict[str, Any] = {"_id": draw(_id or _RAW_IDS)}
    for name, values in _FIELD_VALUES.items():
        value = draw(values)
        if value is not _MISSING:
            raw[name] = value
    raw["tags"] = draw(_TAGS)
    raw["counts"] = draw(_COUNTS)
    address = draw(_ADDRESSES)
    if address is not None or draw(st.booleans()):
        raw["address"] = address
    return validate_document(SCHEMA, raw)


@cache
def document_batches(max_size: int = 12) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of documents with distinct primary keys."""
    return st.lists(documents(), min_size=1, max_size=max_size,
                    unique_by=lambda doc: str(doc["_id"]))


# --------------------------------------------------------------------------- literals


@cache
def literals(kind: PropertyType, *, nil: bool = True) -> st.SearchStrategy[Literal]:
    """A literal the parser could produce that fits a property of ``kind``."""
    options: list[st.SearchStrategy[Literal]] = [_LITERALS[kind]]
    if nil:
        options.append(st.just(Literal(None, LiteralKind.NULL)))
    return st.one_of(*options)


def _number_literals(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Literal]:
    """Ints and doubles near ``values`` (the property's own pool) and far from it."""
    integral = values.filter(lambda v: v == int(v) and -(2**63) <= int(v) < 2**63).map(int)
    ints_ = st.one_of(st.sampled_from(INT_POOL), st.integers(-(2**53), 2**53), integral)
    floats_ = st.one_of(doubles, values.map(float))
    return st.one_of(ints_.map(lambda v: Literal(v, LiteralKind.INT)),
                     floats_.map(lambda v: Literal(v, LiteralKind.FLOAT)))


_LITERALS: dict[PropertyType, st.SearchStrategy[Literal]] = {
    PropertyType.STRING: strings.map(lambda v: Literal(v, LiteralKind.STRING)),
    PropertyType.INT: _number_literals(ints),
    PropertyType.DOUBLE: _number_literals(doubles),
    PropertyType.DECIMAL: _number_literals(decimals),
    PropertyType.BOOL: booleans.map(lambda v: Literal(v, LiteralKind.BOOL)),
    PropertyType.DATE: st.one_of(
        ms_dates, st.datetimes(timezones=st.just(UTC))).map(
            lambda v: Literal(v, LiteralKind.DATE)),
    PropertyType.OBJECT_ID: st.one_of(
        object_ids.map(lambda v: Literal(v, LiteralKind.OBJECT_ID)),
        object_ids.map(lambda v: Literal(str(v), LiteralKind.STRING))),
    PropertyType.UUID: st.one_of(
        uuids.map(lambda v: Literal(v, LiteralKind.UUID)),
        uuids.map(lambda v: Literal(str(v), LiteralKind.STRING))),
}

#: Property types with a literal strategy (for schema-free ASTs).
LITERAL_KINDS = tuple(sorted(_LITERALS))

like_patterns = st.one_of(
    st.sampled_from(("*", "?", "a*", "*a", "*%*", "100%", "a_", "a?", "?_*", "x*y", "x?y",
                     "*\\*", "[a]", "*'*", "Å*", "*\n*", "??", "")),
    st.lists(st.one_of(st.sampled_from(("*", "?")), strings), max_size=3).map("".join),
)


# --------------------------------------------------------------------------- predicates


def _choice(options: Sequence[Any]) -> st.SearchStrategy[Any]:
    """``sampled_from``, built once per set of options (strategies are costly to rebuild)."""
    return _sampled(tuple(options))


@cache
def _sampled(options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


def _path(dotted: str) -> Path:
    return Path(tuple(dotted.split(".")))


_SYMBOL_OPS = (CompareOp.EQ, CompareOp.NE, CompareOp.LT, CompareOp.LE, CompareOp.GT,
               CompareOp.GE)
_STRING_OPS = (CompareOp.BEGINSWITH, CompareOp.ENDSWITH, CompareOp.CONTAINS, CompareOp.LIKE)


@cache
def _value_comparison(subject: Path | Aggregate, kind: PropertyType,
                      quantifier: Quantifier | None = None) -> st.SearchStrategy[Predicate]:
    return _value_comparison_draw(subject, kind, quantifier)


@st.composite
def _value_comparison_draw(draw: st.DrawFn, subject: Path | Aggregate, kind: PropertyType,
                           quantifier: Quantifier | None = None) -> Predicate:
    """``subject op literal`` (or flipped), ``subject IN {...}`` or ``BETWEEN``."""
    shape = draw(_choice(("op", "op", "op", "in", "between", "flip")))
    if shape == "in":
        items = draw(st.lists(literals(kind), max_size=4))
        ci = kind is PropertyType.STRING and draw(st.booleans())
        return Comparison(CompareOp.IN, subject, ListLiteral(tuple(items)), ci, quantifier)
    if shape == "between" and kind in ORDERABLE:
        low, high = draw(literals(kind, nil=False)), draw(literals(kind, nil=False))
        if draw(st.integers(0, 9)) == 0:
            low = Literal(None, LiteralKind.NULL)
        return Between(subject, low, high, quantifier)
    ops = list(_SYMBOL_OPS if kind in ORDERABLE else _SYMBOL_OPS[:2])
    if kind is PropertyType.STRING:
        ops += _STRING_OPS
    op = draw(_choice(ops))
    ci = kind is PropertyType.STRING and not op.is_ordering and draw(st.booleans())
    value = (Literal(draw(like_patterns), LiteralKind.STRING) if op is CompareOp.LIKE
             else draw(literals(kind)))
    if shape == "flip" and not op.is_string_op and quantifier is None:
        return Comparison(op, value, subject, ci)
    return Comparison(op, subject, value, ci, quantifier)


@st.composite
def _list_membership(draw: st.DrawFn) -> Predicate:
    """``'x' IN tags`` / ``5 IN counts``."""
    name, kind = draw(_choice(sorted(LISTS.items())))
    ci = kind is PropertyType.STRING and draw(st.booleans())
    return Comparison(CompareOp.IN, draw(literals(kind)), Path((name,)), ci)


def _scalar_comparisons(fields: dict[str, PropertyType]) -> st.SearchStrategy[Predicate]:
    return st.one_of([_value_comparison(_path(name), fields[name]) for name in sorted(fields)])


@st.composite
def _property_comparison(draw: st.DrawFn, fields: dict[str, PropertyType]) -> Predicate:
    """Two properties of compatible types: ``priority < score``, ``name ==[c] owner_id``."""
    groups = [tuple(sorted(n for n, k in fields.items() if k in NUMERIC))]
    for kind in (PropertyType.STRING, PropertyType.DATE, PropertyType.OBJECT_ID,
                 PropertyType.BOOL):
        groups.append(tuple(sorted(n for n, k in fields.items() if k is kind)))
    group = draw(_choice([g for g in groups if g]))
    left, right = draw(_choice(group)), draw(_choice(group))
    kind = fields[left]
    ops = list(_SYMBOL_OPS if kind in ORDERABLE else _SYMBOL_OPS[:2])
    if kind is PropertyType.STRING:
        ops += _STRING_OPS[:3]
    op = draw(_choice(ops))
    ci = kind is PropertyType.STRING and not op.is_ordering and draw(st.booleans())
    return Comparison(op, _path(left), _path(right), ci)


@st.composite
def _quantified(draw: st.DrawFn) -> Predicate:
    """``ANY/ALL/NONE tags ...`` (or unquantified, meaning ANY), ``tags IN {...}`` too."""
    name, kind = draw(_choice(sorted(LISTS.items())))
    quantifier = draw(_choice((None, Quantifier.ANY, Quantifier.ALL, Quantifier.NONE)))
    return draw(_value_comparison(Path((name,)), kind, quantifier))


@st.composite
def _list_vs_property(draw: st.DrawFn) -> Predicate:
    """``ANY tags == name``, ``NONE counts < priority``, ``address.city IN tags`` (local)."""
    name, kind = draw(_choice(sorted(LISTS.items())))
    fields = {**SCALARS, **EMBEDDED}
    others = sorted(n for n, k in fields.items()
                    if k is kind or (kind in NUMERIC and k in NUMERIC))
    other = _path(draw(_choice(others)))
    ci = kind is PropertyType.STRING and draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        return Comparison(CompareOp.IN, other, Path((name,)), ci)
    ops = list(_SYMBOL_OPS) + (list(_STRING_OPS[:3]) if kind is PropertyType.STRING else [])
    op = draw(_choice(ops))
    quantifier = draw(_choice((None, Quantifier.ANY, Quantifier.ALL, Quantifier.NONE)))
    ci = ci and not op.is_ordering
    if draw(st.booleans()):
        return Comparison(op, Path((name,)), other, ci, quantifier)
    return Comparison(op, other, Path((name,)), ci, quantifier)


@st.composite
def _aggregate_comparison(draw: st.DrawFn) -> Predicate:
    """``tags.@count``, ``name.@size`` (string length), ``counts.@sum/@avg/@min/@max``."""
    choice = draw(_choice(("list_count", "string_size", "numeric")))
    if choice == "list_count":
        name = draw(_choice(sorted(LISTS)))
        subject = Aggregate(Path((name,)), draw(_choice((AggregateOp.COUNT, AggregateOp.SIZE))))
        kind = PropertyType.INT
    elif choice == "string_size":
        name = draw(_choice(("name", "owner_id", "address.city")))
        subject = Aggregate(_path(name), draw(_choice((AggregateOp.COUNT, AggregateOp.SIZE))))
        kind = PropertyType.INT
    else:
        op = draw(_choice((AggregateOp.SUM, AggregateOp.AVG, AggregateOp.MIN, AggregateOp.MAX)))
        subject = Aggregate(Path(("counts",)), op)
        kind = PropertyType.DOUBLE if op is AggregateOp.AVG else PropertyType.INT
    op_ = draw(_choice(_SYMBOL_OPS))
    if draw(st.integers(0, 3)) == 0:
        return Between(subject, draw(literals(kind, nil=False)), draw(literals(kind, nil=False)))
    return Comparison(op_, subject, draw(literals(kind)))


CONSTANTS = st.sampled_from((Constant(True), Constant(False)))


def combine(leaves: st.SearchStrategy[Predicate], max_leaves: int) -> st.SearchStrategy[Predicate]:
    def extend(children: st.SearchStrategy[Predicate]) -> st.SearchStrategy[Predicate]:
        operands = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(operands.map(And), operands.map(Or), children.map(Not))

    return st.recursive(leaves, extend, max_leaves=max_leaves)


@cache
def subscription_predicates(max_leaves: int = 6) -> st.SearchStrategy[Predicate]:
    """Predicates of the Flexible Sync subset on :data:`SCHEMA`."""
    leaves = st.one_of(_scalar_comparisons(SCALARS), _scalar_comparisons(SCALARS),
                       _list_membership(), CONSTANTS)
    return combine(leaves, max_leaves)


@cache
def subscription_queries(max_leaves: int = 6) -> st.SearchStrategy[Query]:
    return subscription_predicates(max_leaves).map(Query)


@cache
def server_queries(max_leaves: int = 6) -> st.SearchStrategy[Query]:
    """The subscription subset plus comparisons of two top-level properties and
    unquantified list comparisons — everything the server dialects compile."""
    leaves = st.one_of(_scalar_comparisons(SCALARS), _scalar_comparisons(SCALARS),
                       _list_membership(), _property_comparison(SCALARS), _quantified(),
                       CONSTANTS)
    return combine(leaves, max_leaves).map(Query)


@cache
def local_predicates(max_leaves: int = 6) -> st.SearchStrategy[Predicate]:
    fields = {**SCALARS, **EMBEDDED}
    address_nil = st.sampled_from((CompareOp.EQ, CompareOp.NE)).map(
        lambda op: Comparison(op, Path(("address",)), Literal(None, LiteralKind.NULL)))
    leaves = st.one_of(_scalar_comparisons(fields), _scalar_comparisons(EMBEDDED),
                       _list_membership(), _quantified(), _aggregate_comparison(),
                       _property_comparison(fields), _list_vs_property(), address_nil,
                       CONSTANTS)
    return combine(leaves, max_leaves)


_SORTABLE = sorted({**SCALARS, **EMBEDDED})


@cache
def modifiers() -> st.SearchStrategy[tuple[Modifier, ...]]:
    paths = st.sampled_from(_SORTABLE).map(_path)
    sort = st.lists(st.builds(SortKey, paths, st.booleans()), min_size=1, max_size=3).map(
        lambda keys: Sort(tuple(keys)))
    distinct = st.lists(paths, min_size=1, max_size=2).map(lambda ps: Distinct(tuple(ps)))
    limit = st.integers(0, 6).map(Limit)
    return st.lists(st.one_of(sort, distinct, limit), max_size=3).map(tuple)


@cache
def local_queries(max_leaves: int = 6) -> st.SearchStrategy[Query]:
    """The full local language on :data:`SCHEMA`, with SORT/DISTINCT/LIMIT."""
    return st.builds(Query, local_predicates(max_leaves), modifiers())
