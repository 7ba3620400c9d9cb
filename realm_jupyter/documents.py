"""Document values: Extended JSON in, validated Python values, and the plain JSON form.

Three representations of one document meet here:

* **Extended JSON** (``{"$oid": ...}``, ``{"$date": ...}``) is what App Services
  exports, ``mongoexport`` writes and users type; pymongo's ``bson.json_util``
  decodes it.
* **Python values** are what the query evaluator, the rules and the write path
  work on: ``ObjectId``, ``uuid.UUID``, ``str``, ``int``, ``float``,
  ``decimal.Decimal``, ``bool``, timezone-aware UTC ``datetime`` (millisecond
  precision, as in BSON), ``dict`` for embedded objects and ``list`` for lists.
* **Plain JSON** is what the server stores in JSON columns and what travels in
  change messages: ObjectId and UUID as strings, decimals as strings, dates as
  ISO-8601 text ending in ``Z``. With the schema at hand it converts back
  losslessly, and DuckDB's ``from_json`` reads it straight into typed STRUCTs.

Validation is the one gate every value passes on its way in (local writes,
uploads, seed files, imports): besides the type, it refuses what some replica
could not hold — integers past 64 bits, NaN or infinite doubles, decimals beyond
the cache's DECIMAL(38, 9) or Decimal128's 34 digits, strings with NUL — since a
stored value that a client's cache cannot load stops every client holding it.
Untrusted plain JSON (an upload) goes through :func:`document_from_plain` and
:func:`value_from_plain`, which also refuse the wrong JSON shape (a string where a
list belongs) instead of coercing it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from bson import Decimal128, Int64, ObjectId, json_util
from bson.binary import UuidRepresentation
from bson.json_util import JSONOptions

from .errors import SchemaError
from .schema import ObjectSchema, Property, PropertyType

__all__ = [
    "DECIMAL_FRACTION_DIGITS",
    "DECIMAL_INTEGER_DIGITS",
    "distinct",
    "document_from_plain",
    "from_extended_json",
    "from_plain",
    "from_plain_value",
    "plain_value",
    "to_extended_json",
    "to_plain",
    "validate_document",
    "validate_value",
    "value_from_plain",
]

UTC = dt.UTC
_EXTENDED_JSON = JSONOptions(tz_aware=True, tzinfo=UTC, uuid_representation=UuidRepresentation.STANDARD)
_RELAXED_OUT = json_util.RELAXED_JSON_OPTIONS.with_options(uuid_representation=UuidRepresentation.STANDARD)

#: What every replica holds of a decimal. The client's cache keeps decimals as
#: DECIMAL(38, 9) (``cache.ddl.DECIMAL_TYPE``): 29 digits before the point, 9 after.
#: A value outside that would be acknowledged, stored and then fail to load into
#: every cache holding the document, so it is refused where values come in.
DECIMAL_INTEGER_DIGITS = 29
DECIMAL_FRACTION_DIGITS = 9
#: Decimal128 keeps 34 significant digits.
DECIMAL_SIGNIFICANT_DIGITS = 34
_INT64 = (-(2**63), 2**63)


def from_extended_json(text: str | bytes) -> Any:
    """Decode Extended JSON (canonical or relaxed) into Python values."""
    return json_util.loads(text, json_options=_EXTENDED_JSON)


def to_extended_json(value: Any) -> str:
    """Encode Python values as relaxed Extended JSON."""
    return json_util.dumps(value, json_options=_RELAXED_OUT)


# --------------------------------------------------------------------------- validation


def validate_document(object_schema: ObjectSchema, document: Mapping[str, Any], *,
                      partial: bool = False) -> dict[str, Any]:
    """Check ``document`` against ``object_schema`` and return it with normalised values.

    Missing optional scalars become ``None`` and missing lists ``[]`` (unless
    ``partial``, used for updates, where only the given fields are checked).

    Raises:
        SchemaError: a field is unknown, a required field is missing or null, or a
            value has the wrong type. The message names the field path.
    """
    document = _known_fields(object_schema, document, object_schema.name,
                             f"a document must be an object, not {type(document).__name__}")
    out: dict[str, Any] = {}
    for prop in object_schema:
        if prop.name in document:
            out[prop.name] = validate_value(prop, document[prop.name],
                                            f"{object_schema.name}.{prop.name}")
        elif not partial:
            out[prop.name] = validate_value(prop, None, f"{object_schema.name}.{prop.name}")
    return out


def validate_value(prop: Property, value: Any, where: str) -> Any:
    """Normalise one value for ``prop`` (see :func:`validate_document`)."""
    if prop.type is PropertyType.ARRAY:
        assert prop.items is not None
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise SchemaError(f"{where}: expected a list, got {_describe(value)}")
        items = [validate_value(prop.items, item, f"{where}[{i}]") for i, item in enumerate(value)]
        return distinct(items) if prop.unique_items else items
    if value is None:
        if prop.required:
            raise SchemaError(f"{where}: required field is missing or null")
        return None
    if prop.type is PropertyType.OBJECT:
        embedded = _embedded(prop, value, where)
        return {p.name: validate_value(p, embedded.get(p.name), f"{where}.{p.name}")
                for p in prop.embedded or ()}
    return _scalar(prop.type, value, where)


class _Refused(ValueError):
    """A value of the right type that no replica can hold; the message says why."""


def distinct(items: list[Any]) -> list[Any]:
    """``items`` without repeats, first occurrence kept: linear for scalars, whose equality
    agrees with their hash (an upload's set of a million elements must not take n² steps)."""
    seen: set[Any] = set()
    unique: list[Any] = []
    for item in items:
        if isinstance(item, Mapping):  # embedded objects are not hashable: compare them
            if item not in unique:
                unique.append(item)
        elif item not in seen:
            seen.add(item)
            unique.append(item)
    return unique


def _scalar(kind: PropertyType, value: Any, where: str) -> Any:
    try:
        converted = _SCALARS[kind](value)
    except _Refused as error:
        raise SchemaError(f"{where}: {kind} {_describe(value, typed=False)} cannot be synced: "
                          f"{error}") from None
    except (TypeError, ValueError, decimal.InvalidOperation, OverflowError) as error:
        raise SchemaError(f"{where}: expected {kind}, got {_describe(value)}") from error
    return converted


def _object_id(value: Any) -> ObjectId:
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and ObjectId.is_valid(value):
        return ObjectId(value)
    raise TypeError(value)


def _uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value)
    raise TypeError(value)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    if "\x00" in value:
        raise _Refused("a NUL character cannot be stored")  # PostgreSQL text cannot hold it
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused("not valid Unicode (a lone surrogate)") from None
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, Int64 | int | float):
        if isinstance(value, float) and not value.is_integer():
            raise TypeError(value)  # also NaN and infinity
        number = int(value)
        if not _INT64[0] <= number < _INT64[1]:
            raise _Refused("out of the 64-bit integer range")
        return number
    raise TypeError(value)


def _double(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value)
        if not math.isfinite(number):
            # JSON cannot carry NaN or infinity, and SQLite stores NaN as NULL.
            raise _Refused("NaN and infinity cannot be synced")
        return number
    raise TypeError(value)


def _decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, Decimal128):
        result = value.to_decimal()
    elif isinstance(value, decimal.Decimal):
        result = value
    elif isinstance(value, int):
        result = decimal.Decimal(value)
    elif isinstance(value, float):
        result = decimal.Decimal(repr(value))
    elif isinstance(value, str):
        if len(value) > 100:  # no decimal that fits is written that long
            raise _Refused("too many digits")
        result = decimal.Decimal(value)
    else:
        raise TypeError(value)
    _check_decimal(result)
    return result


def _check_decimal(value: decimal.Decimal) -> None:
    """Refuse a decimal some replica cannot hold (see ``DECIMAL_INTEGER_DIGITS``)."""
    if not value.is_finite():
        raise _Refused("NaN and infinity cannot be synced as decimals")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    significant = list(digits)
    while len(significant) > 1 and significant[-1] == 0 and exponent < 0:
        significant.pop()
        exponent += 1
    while significant and significant[0] == 0:
        significant.pop(0)
    if not significant:
        return  # zero, whatever its exponent
    if len(significant) > DECIMAL_SIGNIFICANT_DIGITS:
        raise _Refused(f"more than {DECIMAL_SIGNIFICANT_DIGITS} significant digits")
    if len(significant) + exponent > DECIMAL_INTEGER_DIGITS:
        raise _Refused(f"more than {DECIMAL_INTEGER_DIGITS} digits before the decimal point")
    if -exponent > DECIMAL_FRACTION_DIGITS:
        raise _Refused(f"more than {DECIMAL_FRACTION_DIGITS} digits after the decimal point")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(value)


def _date(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        instant: dt.datetime = value.astimezone(UTC)
        return instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    raise TypeError(value)


_SCALARS = {
    PropertyType.OBJECT_ID: _object_id,
    PropertyType.UUID: _uuid,
    PropertyType.STRING: _string,
    PropertyType.INT: _integer,
    PropertyType.LONG: _integer,
    PropertyType.DOUBLE: _double,
    PropertyType.DECIMAL: _decimal,
    PropertyType.BOOL: _bool,
    PropertyType.DATE: _date,
}


def _describe(value: Any, typed: bool = True) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}" if typed else text


# --------------------------------------------------------------------------- plain JSON


def document_from_plain(object_schema: ObjectSchema, document: Any) -> dict[str, Any]:
    """An untrusted plain-JSON document (an upload) as a validated document.

    Unlike :func:`from_plain`, which reads what the server itself stored, nothing
    is dropped or coerced silently: an unknown field, a string where a list or an
    embedded object belongs, an unparsable key or date are all refused.

    Raises:
        SchemaError: as :func:`validate_document`, naming the field path.
    """
    document = _known_fields(object_schema, document, object_schema.name,
                             f"a document must be an object, not {type(document).__name__}")
    decoded = {name: _decode_plain(object_schema.properties[name], value,
                                   f"{object_schema.name}.{name}")
               for name, value in document.items()}
    return validate_document(object_schema, decoded)


def value_from_plain(prop: Property, value: Any, where: str) -> Any:
    """One untrusted plain-JSON value as the validated Python value ``prop`` holds.

    Raises:
        SchemaError: the value does not fit ``prop``; the message starts with ``where``.
    """
    return validate_value(prop, _decode_plain(prop, value, where), where)


def _embedded(prop: Property, value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as the mapping of an embedded object of ``prop`` (see ``_known_fields``)."""
    assert prop.embedded is not None
    return _known_fields(prop.embedded, value, where,
                         f"expected an embedded {prop.embedded.name} object, "
                         f"got {_describe(value)}")


def _known_fields(object_schema: ObjectSchema, value: Any, where: str,
                  not_an_object: str) -> Mapping[str, Any]:
    """``value`` as a mapping holding only fields ``object_schema`` declares.

    Raises:
        SchemaError: ``value`` is not a mapping (``not_an_object`` says so), or names a
            field the schema does not declare.
    """
    if not isinstance(value, Mapping):
        raise SchemaError(f"{where}: {not_an_object}")
    unknown = [name for name in value if name not in object_schema.properties]
    if unknown:
        raise SchemaError(f"{where}: unknown field {str(unknown[0])[:80]!r}")
    return value


def _decode_plain(prop: Property, value: Any, where: str) -> Any:
    """Plain JSON → Python values, checking the JSON shape; :func:`validate_value` does the rest."""
    if value is None:
        return None
    if prop.type is PropertyType.ARRAY:
        assert prop.items is not None
        if not isinstance(value, list):
            raise SchemaError(f"{where}: expected a list, got {_describe(value)}")
        return [_decode_plain(prop.items, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if prop.type is PropertyType.OBJECT:
        embedded = _embedded(prop, value, where)
        assert prop.embedded is not None
        return {name: _decode_plain(prop.embedded.properties[name], item, f"{where}.{name}")
                for name, item in embedded.items()}
    if prop.type is PropertyType.DOUBLE and isinstance(value, str):
        # Plain doubles are JSON numbers; text would smuggle in NaN or infinity.
        raise SchemaError(f"{where}: expected double, got {_describe(value)}")
    return value


def plain_value(value: Any) -> Any:
    """One Python value in plain JSON form (schema-free: used for keys and literals)."""
    if isinstance(value, ObjectId | uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_date(value)
    if isinstance(value, Mapping):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    return value


def format_date(value: dt.datetime) -> str:
    """ISO-8601 with milliseconds and a ``Z``: fixed width, so text order is time order."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z")


def to_plain(document: Mapping[str, Any]) -> dict[str, Any]:
    """A validated document in plain JSON form."""
    return {k: plain_value(v) for k, v in document.items()}


def from_plain(object_schema: ObjectSchema, document: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`to_plain`: typed Python values again, following the schema."""
    return {name: from_plain_value(object_schema.properties[name], value)
            for name, value in document.items() if name in object_schema.properties}


def from_plain_value(prop: Property, value: Any) -> Any:
    """One plain-JSON value as the Python value ``prop`` holds."""
    if value is None:
        return [] if prop.type is PropertyType.ARRAY else None
    if prop.type is PropertyType.ARRAY:
        assert prop.items is not None
        return [from_plain_value(prop.items, v) for v in value]
    if prop.type is PropertyType.OBJECT:
        assert prop.embedded is not None
        return {p.name: from_plain_value(p, value.get(p.name)) for p in prop.embedded}
    if prop.type is PropertyType.OBJECT_ID:
        return ObjectId(value)
    if prop.type is PropertyType.UUID:
        return uuid.UUID(value)
    if prop.type is PropertyType.DECIMAL:
        return decimal.Decimal(value)
    if prop.type is PropertyType.DATE:
        return _date(value)
    if prop.type is PropertyType.DOUBLE:
        return float(value)
    return value


def dumps(value: Any) -> bytes:
    """Compact JSON of plain values (orjson: this sits on hot paths)."""
    return orjson.dumps(value, default=plain_value, option=orjson.OPT_PASSTHROUGH_DATETIME)


def loads(data: str | bytes) -> Any:
    return orjson.loads(data)
