"""Read documents from files: Extended JSON arrays, NDJSON (``mongoexport``) and BSON (``mongodump``).

Every document is validated against the schema before anything is written; a
file with bad documents is refused whole, with each problem named by its line
(or, for BSON, its position in the file). A path that is not a readable regular
file (a directory, a FIFO, a device, a missing or unreadable file) is refused
before anything is read from it, so a FIFO cannot make the import wait for a
writer, and documents nested deeper than MongoDB allows are refused by line
instead of exhausting the decoder's recursion.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from bson.errors import BSONError

from ..documents import from_extended_json, to_plain, validate_document
from ..errors import RealmJupyterError, SchemaError
from ..schema import ObjectSchema
from ..wire import rows_to_arrow

__all__ = ["ImportFileError", "ImportProblem", "InvalidDocumentsError", "read_documents",
           "read_raw_documents", "to_wire_table"]

MAX_PROBLEMS_SHOWN = 20
#: Deepest nesting of objects and arrays in one document: MongoDB's limit for BSON
#: documents, so nothing a real export holds is refused.
MAX_DEPTH = 100
#: What decoding one bad Extended JSON value raises: ``{"$oid": "x"}`` a BSONError,
#: ``{"$numberDecimal": "abc"}`` an ArithmeticError — each must name its line, not escape.
_DECODE_ERRORS = (ValueError, TypeError, ArithmeticError, BSONError)


@dataclass(frozen=True)
class ImportProblem:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ImportFileError(RealmJupyterError):
    """A file given to import cannot be read as documents; nothing was imported."""


class InvalidDocumentsError(SchemaError):
    """Some documents of a file do not fit the schema; nothing was imported."""

    def __init__(self, path: Path, problems: list[ImportProblem]) -> None:
        if len(problems) == 1:  # the common case reads as one line
            message = f"{path}: {problems[0]}; nothing was imported"
        else:
            shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
            more = len(problems) - MAX_PROBLEMS_SHOWN
            tail = f"\n  … and {more} more" if more > 0 else ""
            message = (f"{path}: {len(problems)} invalid document(s); nothing was imported\n"
                       f"{shown}{tail}")
        super().__init__(message)
        self.path = path
        self.problems = problems


def read_documents(path: Path, object_schema: ObjectSchema,
                   ignore: Collection[str] = ()) -> list[dict[str, Any]]:
    """All documents of ``path``, validated (top-level fields in ``ignore`` — those the
    app's schema declares but we cannot serve, such as empty embedded objects — are
    left out first).

    Raises:
        ImportFileError: ``path`` is missing, not a regular file or unreadable.
        InvalidDocumentsError: any document is malformed or does not fit the schema.
    """
    data = _read_regular_file(path)
    documents: list[dict[str, Any]] = []
    problems: list[ImportProblem] = []
    for location, raw in _records(path, data):
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


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, refusing anything but a readable regular file.

    The file is opened without blocking and checked on its descriptor, so a FIFO
    (which would wait for a writer) or a device is refused before any read, and
    nothing can swap the path between the check and the read.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except PermissionError:
        raise ImportFileError(f"{path}: permission denied: cannot read it") from None
    except OSError as error:
        raise ImportFileError(f"{path}: cannot open it: {error.strerror}") from None
    kind = _kind(os.fstat(descriptor).st_mode)
    if kind is not None:
        os.close(descriptor)
        raise ImportFileError(f"{path}: is {kind}, not a regular file")
    with open(descriptor, "rb", closefd=True) as file:
        try:
            return file.read()
        except OSError as error:
            raise ImportFileError(f"{path}: cannot read it: {error.strerror}") from None


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def read_raw_documents(path: Path) -> list[dict[str, Any]]:
    """All documents of ``path`` as decoded, with no schema to check them against
    (schema inference, server-side custom user data).

    Raises:
        ImportFileError: ``path`` is missing, not a regular file or unreadable.
        InvalidDocumentsError: a record is not valid JSON/BSON or not an object.
    """
    documents: list[dict[str, Any]] = []
    problems: list[ImportProblem] = []
    for location, raw in _records(path, _read_regular_file(path)):
        if isinstance(raw, ImportProblem):
            problems.append(raw)
        elif not isinstance(raw, dict):
            problems.append(ImportProblem(location, "a document must be an object"))
        else:
            documents.append(raw)
    if problems:
        raise InvalidDocumentsError(path, problems)
    return documents


def _records(path: Path, data: bytes) -> Iterator[tuple[str, Any]]:
    if path.suffix == ".bson":
        yield from _bson_records(data)
        return
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as Windows tools write, is fine
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        location = f"line {line}"
        yield location, ImportProblem(location, f"not valid UTF-8 (byte 0x{data[error.start]:02x} "
                                                f"at offset {error.start})")
        return
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
        yield location, _decoded(location, line)


def _decoded(location: str, text: str) -> Any:
    """One Extended JSON document, or the problem that names why it is not one."""
    try:
        document = from_extended_json(text)
    except RecursionError:
        return _too_deep(location)
    except _DECODE_ERRORS as error:
        return ImportProblem(location, f"not valid Extended JSON: {error}")
    return _too_deep(location) if _depth_exceeds(document, MAX_DEPTH) else document


def _too_deep(location: str) -> ImportProblem:
    return ImportProblem(location, f"the document is nested more than {MAX_DEPTH} levels deep")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether objects and arrays in ``value`` nest deeper than ``limit`` (no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _array_records(text: str) -> Iterator[tuple[str, Any]]:
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    line, counted = 1, 0  # lines are counted once, as the position moves on
    while True:
        position = _skip(text, position)
        if position >= len(text):
            line = text.count("\n") + 1
            yield f"line {line}", ImportProblem(f"line {line}", "the array is not closed with ']'")
            return
        if text[position] == "]":
            return
        line += text.count("\n", counted, position)
        counted = position
        location = f"line {line}"
        try:
            _, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            yield location, ImportProblem(f"line {error.lineno}", f"not valid JSON: {error.msg}")
            return
        except RecursionError:  # where it ends is unknown: nothing after it can be read
            yield location, _too_deep(location)
            return
        yield location, _decoded(location, text[position:end])
        position = _skip(text, end)
        if position < len(text) and text[position] == ",":
            position += 1


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _bson_records(data: bytes) -> Iterator[tuple[str, Any]]:
    import bson
    from bson.codec_options import CodecOptions

    options: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, uuid_representation=4)
    offset = 0
    number = 0
    while offset < len(data):
        number += 1
        location = f"document {number} (byte {offset})"
        left = len(data) - offset
        size = int.from_bytes(data[offset : offset + 4], "little") if left >= 4 else 0
        if left < 5 or size > left:
            declared = f"it declares {size:,} bytes, " if left >= 4 else ""
            yield location, ImportProblem(
                location, f"truncated BSON document: {declared}{left:,} remain in the file")
            return
        if size < 5:  # a length no document has: the rest cannot be split into documents
            yield location, ImportProblem(location, f"not valid BSON: a length of {size}")
            return
        try:
            document = bson.decode(data[offset : offset + size], codec_options=options)
        except (bson.errors.InvalidBSON, ValueError) as error:
            if "recursion" in str(error):
                yield location, _too_deep(location)
            else:
                yield location, ImportProblem(location, f"not valid BSON: {error}")
            return
        yield location, _too_deep(location) if _depth_exceeds(document, MAX_DEPTH) else document
        offset += size


def to_wire_table(object_schema: ObjectSchema, documents: list[dict[str, Any]]) -> pa.Table:
    """Validated documents as a wire-schema table (for ``Store.bulk_load``)."""
    return rows_to_arrow(object_schema, [to_plain(doc) for doc in documents])
