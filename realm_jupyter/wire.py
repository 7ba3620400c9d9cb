"""The wire format shared by server and client: frames and Arrow column types.

Both sides import this module and nothing of each other. ``docs/protocol.md`` is
the prose version; keep the two in step (``PROTOCOL_VERSION`` bumps on any
incompatible change).

**Frames.** The server→client stream is a sequence of frames. A frame is one line
of JSON (UTF-8, ending in ``\\n``); if its object has a ``"payload"`` key, exactly
that many bytes of binary payload follow the newline. Payloads are Arrow IPC
streams in the *wire schema* of one object type.

**Wire schema.** One Arrow column per schema property, typed so that the server
can produce it straight from its SQL columns and the client can ingest it into
DuckDB without touching rows in Python:

==============  ===========================  ======================================
bsonType        Arrow type                   notes
==============  ===========================  ======================================
objectId        string                       24 lowercase hex digits
uuid            string                       canonical 8-4-4-4-12 lowercase
string          string
int, long       int64
double          float64
decimal         string                       decimal text, exact
bool            bool
date            timestamp[ms, UTC]
object          string                       plain JSON (see ``documents``)
array           string                       plain JSON array
==============  ===========================  ======================================
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa

from .errors import ProtocolError
from .schema import ObjectSchema, Property, PropertyType

__all__ = [
    "PROTOCOL_VERSION",
    "arrow_schema",
    "arrow_type",
    "decode_ipc",
    "encode_frame",
    "encode_ipc",
    "rows_to_arrow",
]

PROTOCOL_VERSION = 1

_ARROW_TYPES: dict[PropertyType, pa.DataType] = {
    PropertyType.OBJECT_ID: pa.string(),
    PropertyType.UUID: pa.string(),
    PropertyType.STRING: pa.string(),
    PropertyType.INT: pa.int64(),
    PropertyType.LONG: pa.int64(),
    PropertyType.DOUBLE: pa.float64(),
    PropertyType.DECIMAL: pa.string(),
    PropertyType.BOOL: pa.bool_(),
    PropertyType.DATE: pa.timestamp("ms", tz="UTC"),
    PropertyType.OBJECT: pa.string(),
    PropertyType.ARRAY: pa.string(),
}


def arrow_type(prop: Property) -> pa.DataType:
    """The wire Arrow type of one top-level property."""
    return _ARROW_TYPES[prop.type]


def arrow_schema(object_schema: ObjectSchema) -> pa.Schema:
    """The wire schema of an object type: one column per property, primary key first."""
    return pa.schema([pa.field(p.name, arrow_type(p), nullable=p.name != "_id")
                      for p in object_schema])


def rows_to_arrow(object_schema: ObjectSchema, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Plain-JSON rows (see ``documents.to_plain``) as a wire-schema table.

    Used for small batches (steady-state changes); bulk data never takes this path.
    """
    columns: dict[str, list[Any]] = {p.name: [] for p in object_schema}
    for row in rows:
        for prop in object_schema:
            value = row.get(prop.name)
            if prop.type in (PropertyType.OBJECT, PropertyType.ARRAY):
                value = None if value is None else orjson.dumps(value).decode()
            elif prop.type is PropertyType.DATE and isinstance(value, str):
                value = _parse_plain_date(value)
            columns[prop.name].append(value)
    schema = arrow_schema(object_schema)
    return pa.table({f.name: pa.array(columns[f.name], f.type) for f in schema}, schema=schema)


def _parse_plain_date(text: str) -> Any:
    import datetime as dt

    return dt.datetime.fromisoformat(text)


def encode_ipc(table: pa.Table | pa.RecordBatch) -> bytes:
    """One Arrow IPC stream holding ``table``."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write(table)
    return sink.getvalue()


def decode_ipc(payload: bytes) -> pa.Table:
    """Inverse of :func:`encode_ipc`.

    Raises:
        ProtocolError: the payload is not an Arrow IPC stream.
    """
    try:
        return pa.ipc.open_stream(payload).read_all()
    except (pa.ArrowException, OSError) as error:  # corrupt bytes can raise any Arrow error
        raise ProtocolError(f"bad Arrow payload: {error}") from error


def encode_frame(header: Mapping[str, Any], payload: bytes | None = None) -> bytes:
    """A frame: the JSON header line, then the payload (its length set in the header)."""
    if payload is not None:
        header = {**header, "payload": len(payload)}
        return orjson.dumps(header) + b"\n" + payload
    return orjson.dumps(header) + b"\n"
