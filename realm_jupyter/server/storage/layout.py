"""How documents are laid out in the server's SQL store.

One table per object type, named after it, with one typed column per schema
property — so subscriptions and read rules compile to SQL that runs in the
database, and bootstraps leave the store as Arrow columns without any
per-document Python work. Embedded objects and lists are JSON (SQLite text,
PostgreSQL JSONB) in plain form (see ``documents``).

==============  ==============  ===========================
bsonType        SQLite          PostgreSQL
==============  ==============  ===========================
objectId, uuid  TEXT            text
string          TEXT            text
int, long       INTEGER         bigint
double          REAL            double precision
decimal         TEXT (exact)    numeric
bool            INTEGER 0/1     boolean
date            INTEGER ms      timestamptz
object, array   TEXT (JSON)     jsonb
==============  ==============  ===========================
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from bson import ObjectId

from ...documents import from_plain_value, plain_value
from ...schema import ObjectSchema, Property, PropertyType
from ...wire import arrow_schema

__all__ = [
    "POSTGRES_TYPES",
    "SQLITE_TYPES",
    "column_type",
    "create_table_sql",
    "encode_row",
    "quote",
    "rebatch",
    "storage_columns",
    "to_wire",
]

SQLITE_TYPES = {
    PropertyType.OBJECT_ID: "TEXT", PropertyType.UUID: "TEXT", PropertyType.STRING: "TEXT",
    PropertyType.INT: "INTEGER", PropertyType.LONG: "INTEGER", PropertyType.DOUBLE: "REAL",
    PropertyType.DECIMAL: "TEXT", PropertyType.BOOL: "INTEGER", PropertyType.DATE: "INTEGER",
    PropertyType.OBJECT: "TEXT", PropertyType.ARRAY: "TEXT",
}
POSTGRES_TYPES = {
    PropertyType.OBJECT_ID: "text", PropertyType.UUID: "text", PropertyType.STRING: "text",
    PropertyType.INT: "bigint", PropertyType.LONG: "bigint", PropertyType.DOUBLE: "double precision",
    PropertyType.DECIMAL: "numeric", PropertyType.BOOL: "boolean", PropertyType.DATE: "timestamptz",
    PropertyType.OBJECT: "jsonb", PropertyType.ARRAY: "jsonb",
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TEXT_KEYS = frozenset({PropertyType.OBJECT_ID, PropertyType.UUID, PropertyType.STRING})
_TEXT_ON_WIRE = frozenset({PropertyType.OBJECT, PropertyType.ARRAY, PropertyType.DECIMAL})


def quote(identifier: str) -> str:
    """Quote an identifier that comes from the schema (never from a request)."""
    return '"' + identifier.replace('"', '""') + '"'


def column_type(prop: Property, dialect: str) -> str:
    types = SQLITE_TYPES if dialect == "sqlite" else POSTGRES_TYPES
    return types[prop.type]


def create_table_sql(object_schema: ObjectSchema, dialect: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one object type (primary key ``_id``)."""
    columns = []
    for prop in object_schema:
        definition = f"{quote(prop.name)} {column_type(prop, dialect)}"
        if prop.name == object_schema.primary_key:
            definition += f"{key_collation(prop, dialect)} PRIMARY KEY"
        columns.append(definition)
    # SQLite: clustered on the primary key, so a bootstrap's ``ORDER BY _id`` is one
    # sequential scan, not an index walk with a row lookup each (benchmark B1: 3.0 s →
    # 1.7 s of CPU to read a million Orders).
    clustered = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return (f"CREATE TABLE IF NOT EXISTS {quote(object_schema.name)} "
            f"({', '.join(columns)}){clustered}")


def key_collation(prop: Property, dialect: str) -> str:
    """`` COLLATE "C"`` for a PostgreSQL text key, else nothing.

    Bootstraps send documents in byte order of their keys (SQLite's and DuckDB's
    order too); a primary-key index in that collation, over a table loaded in that
    order, lets PostgreSQL read a bootstrap by walking the index instead of sorting.
    """
    return ' COLLATE "C"' if dialect == "postgresql" and prop.type in _TEXT_KEYS else ""


def index_sql(object_schema: ObjectSchema, fields: frozenset[str], dialect: str) -> list[str]:
    """Indexes on the queryable scalar fields (lists are matched through JSON)."""
    statements = []
    for prop in object_schema:
        if prop.name in fields and prop.is_scalar and prop.name != object_schema.primary_key:
            name = quote(f"{object_schema.name}_{prop.name}_idx")
            statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON "
                              f"{quote(object_schema.name)} ({quote(prop.name)})")
    return statements


def storage_columns(object_schema: ObjectSchema) -> list[str]:
    return [p.name for p in object_schema]


def encode_row(object_schema: ObjectSchema, document: Mapping[str, Any], dialect: str) -> list[Any]:
    """A validated document as the parameters of an INSERT in column order."""
    return [encode_value(prop, document.get(prop.name), dialect) for prop in object_schema]


def encode_value(prop: Property, value: Any, dialect: str) -> Any:
    if prop.type in (PropertyType.OBJECT, PropertyType.ARRAY):
        if value is None:
            return "[]" if prop.type is PropertyType.ARRAY else None
        return orjson.dumps(plain_value(value)).decode()
    if value is None:
        return None
    if isinstance(value, ObjectId | uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value) if dialect == "sqlite" else value
    if isinstance(value, dt.datetime):
        if dialect != "sqlite":
            return value
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if isinstance(value, bool) and dialect == "sqlite":
        return int(value)
    return value


def select_columns_sql(object_schema: ObjectSchema, dialect: str,
                       hidden: frozenset[str] = frozenset()) -> str:
    """The SELECT list that reads wire-ready columns (hidden fields read as NULL).

    PostgreSQL's native types are turned into the wire's text forms in SQL so both
    backends hand the same Arrow types to :func:`to_wire`.
    """
    parts = []
    for prop in object_schema:
        name = quote(prop.name)
        as_text = dialect == "postgresql" and prop.type in _TEXT_ON_WIRE
        if prop.name in hidden:
            pg_type = "text" if as_text else POSTGRES_TYPES[prop.type]
            expr = f"NULL::{pg_type}" if dialect == "postgresql" else "NULL"
        else:
            expr = f"{name}::text" if as_text else name
        parts.append(f"{expr} AS {name}")
    return ", ".join(parts)


def sqlite_arrow_schema(object_schema: ObjectSchema) -> pa.Schema:
    """Arrow types of the SQLite columns as stored (before :func:`to_wire`)."""
    types = {"TEXT": pa.string(), "INTEGER": pa.int64(), "REAL": pa.float64()}
    return pa.schema([pa.field(p.name, types[SQLITE_TYPES[p.type]]) for p in object_schema])


def witness_sql(object_schema: ObjectSchema) -> str:
    """A one-row SELECT with a non-null value of each column's SQLite type.

    The ADBC SQLite driver infers Arrow types from the first rows it reads; a
    leading witness row pins every column's type even when real values are null.
    """
    samples = {"TEXT": "''", "INTEGER": "0", "REAL": "0.0"}
    return ", ".join(f"{samples[SQLITE_TYPES[p.type]]} AS {quote(p.name)}" for p in object_schema)


def rebatch(batches: Iterable[pa.RecordBatch | pa.Table], batch_rows: int,
            batch_bytes: int | None = None) -> Iterator[pa.Table]:
    """The rows of ``batches`` as tables of at most ``batch_rows`` rows and about
    ``batch_bytes`` bytes of Arrow data (every table but the last is full by one of them).

    Drivers hand over record batches of their own sizes (ADBC PostgreSQL by bytes,
    SQLite minus its witness row); bootstrap frames promise at most ``batch_rows``
    and stay near ``batch_bytes`` whatever the documents weigh, so that a connection
    cut mid-frame loses little. A driver batch's rows are taken as equally heavy (its
    bytes over its rows). Slices and concatenations are zero-copy or columnar: no
    per-row work.
    """
    pending: list[pa.Table] = []
    size = 0
    weight = 0.0
    for batch in batches:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        per_row = table.nbytes / table.num_rows if table.num_rows else 0.0
        while table.num_rows:
            room = batch_rows - size
            if batch_bytes is not None and per_row > 0:
                room = min(room, max(1, int((batch_bytes - weight) // per_row)))
            take = min(room, table.num_rows)
            pending.append(table.slice(0, take))
            size += take
            weight += take * per_row
            table = table.slice(take)
            if size == batch_rows or (batch_bytes is not None and
                                      weight + per_row > batch_bytes):
                yield pa.concat_tables(pending)
                pending, size, weight = [], 0, 0.0
    if size:
        yield pa.concat_tables(pending)


def to_wire(object_schema: ObjectSchema, batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """Columns read from the store, cast to the wire schema (no per-row work)."""
    schema = arrow_schema(object_schema)
    columns = []
    for field in schema:
        column = batch.column(field.name) if isinstance(batch, pa.Table) \
            else batch.column(batch.schema.get_field_index(field.name))
        columns.append(_cast(column, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _cast(column: Any, target: pa.DataType) -> Any:
    source = column.type
    if source == target:
        return column
    if pa.types.is_timestamp(target):
        if pa.types.is_integer(source) or pa.types.is_null(source):
            return pc.cast(pc.cast(column, pa.int64()), target)
        return pc.cast(column, target)
    if pa.types.is_boolean(target) and pa.types.is_integer(source):
        return pc.not_equal(column, 0)
    if pa.types.is_string(target) and pa.types.is_large_string(source):
        return pc.cast(column, target)
    return pc.cast(column, target)


def from_wire_sqlite(object_schema: ObjectSchema, table: pa.Table) -> pa.Table:
    """A wire-schema table in SQLite's column forms (dates as int ms, booleans 0/1)."""
    columns = []
    for prop in object_schema:
        column = table.column(prop.name)
        if prop.type is PropertyType.DATE:
            column = pc.cast(pc.cast(column, pa.timestamp("ms", tz="UTC")), pa.int64())
        elif prop.type is PropertyType.BOOL:
            column = pc.cast(column, pa.int64())
        elif prop.type is PropertyType.ARRAY:
            column = pc.fill_null(column, "[]")
        columns.append(column)
    return pa.Table.from_arrays(columns, names=[p.name for p in object_schema])


def decode_row(object_schema: ObjectSchema, row: Any, dialect: str) -> dict[str, Any]:
    """A row read with ``SELECT <all columns>`` as a document of Python values."""
    document: dict[str, Any] = {}
    for prop, value in zip(object_schema, row, strict=True):
        document[prop.name] = decode_value(prop, value, dialect)
    return document


def decode_value(prop: Property, value: Any, dialect: str) -> Any:
    """A stored value as Python: JSON columns, SQLite's 0/1 booleans and millisecond dates
    are storage forms; everything else is stored in its plain form."""
    if prop.type in (PropertyType.OBJECT, PropertyType.ARRAY) and isinstance(value, str | bytes):
        value = orjson.loads(value)
    if value is None:
        return [] if prop.type is PropertyType.ARRAY else None
    if prop.type is PropertyType.BOOL:
        return bool(value)
    if prop.type is PropertyType.DATE:
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC)
        return _EPOCH + dt.timedelta(milliseconds=int(value))
    return from_plain_value(prop, value)
