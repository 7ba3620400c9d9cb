"""Read documents from files: Extended JSON arrays, NDJSON (``mongoexport``) and BSON (``mongodump``).

Every document is validated against the schema before anything is written; a
file with bad documents is refused whole, with each problem named by its line
(or, for BSON, its position in the file).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from bson.errors import BSONError

from ..documents import from_extended_json, to_plain, validate_document
from ..errors import SchemaError
from ..schema import ObjectSchema
from ..wire import rows_to_arrow

__all__ = ["ImportProblem", "InvalidDocumentsError", "read_documents", "read_raw_documents",
           "to_wire_table"]

MAX_PROBLEMS_SHOWN = 20
#: What decoding one bad Extended JSON value raises: ``{"$oid": "x"}`` a BSONError,
#: ``{"$numberDecimal": "abc"}`` an ArithmeticError — each must name its line, not escape.
_DECODE_ERRORS = (ValueError, TypeError, ArithmeticError, BSONError)


@dataclass(frozen=True)
class ImportProblem:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class InvalidDocumentsError(SchemaError):
    """Some documents of a file do not fit the schema; nothing was imported."""

    def __init__(self, path: Path, problems: list[ImportProblem]) -> None:
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(f"{path}: {len(problems)} invalid document(s); nothing was imported\n"
                         f"{shown}{tail}")
        self.path = path
        self.problems = problems


def read_documents(path: Path, object_schema: ObjectSchema,
                   ignore: Collection[str] = ()) -> list[dict[str, Any]]:
    """All documents of ``path``, validated (top-level fields in ``ignore`` — those the
    app's schema declares but we cannot serve, such as empty embedded objects — are
    left out first).

    Raises:
        InvalidDocumentsError: any document is malformed or does not fit the schema.
        OSError: the file cannot be read.
    """
    documents: list[dict[str, Any]] = []
    problems: list[ImportProblem] = []
    for location, raw in _records(path):
        if isinstance(raw, ImportProblem):
            problems.append(raw)
            continue
        if ignore and isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if k not in ignore}
        try:
            documents.append(validate_document(object_schema, raw))
        except SchemaError as error:
            problems.append(ImportProblem(location, error.message))
    if problems:
        raise InvalidDocumentsError(path, problems)
    return documents


def read_raw_documents(path: Path) -> list[dict[str, Any]]:
    """All documents of ``path`` as decoded, with no schema to check them against
    (schema inference, server-side custom user data).

    Raises:
        InvalidDocumentsError: a record is not valid JSON/BSON or not an object.
        OSError: the file cannot be read.
    """
    documents: list[dict[str, Any]] = []
    problems: list[ImportProblem] = []
    for location, raw in _records(path):
        if isinstance(raw, ImportProblem):
            problems.append(raw)
        elif not isinstance(raw, dict):
            problems.append(ImportProblem(location, "a document must be an object"))
        else:
            documents.append(raw)
    if problems:
        raise InvalidDocumentsError(path, problems)
    return documents


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    if path.suffix == ".bson":
        yield from _bson_records(path)
        return
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from _array_records(text)
    else:
        yield from _ndjson_records(text)


def _ndjson_records(text: str) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        location = f"line {number}"
        try:
            yield location, from_extended_json(line)
        except _DECODE_ERRORS as error:
            yield location, ImportProblem(location, f"not valid Extended JSON: {error}")


def _array_records(text: str) -> Iterator[tuple[str, Any]]:
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    while True:
        position = _skip(text, position)
        if position >= len(text):
            line = text.count("\n") + 1
            yield f"line {line}", ImportProblem(f"line {line}", "the array is not closed with ']'")
            return
        if text[position] == "]":
            return
        line = text.count("\n", 0, position) + 1
        location = f"line {line}"
        try:
            _, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            yield location, ImportProblem(f"line {error.lineno}", f"not valid JSON: {error.msg}")
            return
        try:
            yield location, from_extended_json(text[position:end])
        except _DECODE_ERRORS as error:
            yield location, ImportProblem(location, f"not valid Extended JSON: {error}")
        position = _skip(text, end)
        if position < len(text) and text[position] == ",":
            position += 1


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _bson_records(path: Path) -> Iterator[tuple[str, Any]]:
    import bson
    from bson.codec_options import CodecOptions

    options: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, uuid_representation=4)
    data = path.read_bytes()
    offset = 0
    number = 0
    while offset < len(data):
        number += 1
        location = f"document {number} (byte {offset})"
        if len(data) - offset < 5:
            yield location, ImportProblem(location, "truncated BSON document")
            return
        size = int.from_bytes(data[offset : offset + 4], "little")
        try:
            yield location, bson.decode(data[offset : offset + size], codec_options=options)
        except (bson.errors.InvalidBSON, ValueError) as error:
            yield location, ImportProblem(location, f"not valid BSON: {error}")
            return
        offset += size


def to_wire_table(object_schema: ObjectSchema, documents: list[dict[str, Any]]) -> pa.Table:
    """Validated documents as a wire-schema table (for ``Store.bulk_load``)."""
    return rows_to_arrow(object_schema, [to_plain(doc) for doc in documents])
