"""Rows and write transactions of the SQL stores: history entries, documents by key.

Shared by both backends; the SQL is written with ``?`` and converted by the store
(``SQLStore.sql``) for drivers that use ``%s``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ...documents import plain_value, to_plain
from ...schema import ObjectSchema
from . import layout
from .base import Change, HistoryEntry, WriteTransaction

if TYPE_CHECKING:
    from .sql import DBConnection, SQLStore

__all__ = ["Transaction", "decode_json", "encode_pk", "history_entry", "now_ms", "select_documents"]


def now_ms() -> int:
    return int(time.time() * 1000)


def encode_pk(pk: Any) -> str:
    return orjson.dumps(plain_value(pk)).decode()


def decode_json(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def history_entry(row: Sequence[Any]) -> HistoryEntry:
    return HistoryEntry(version=int(row[0]), object_type=row[1], pk=decode_json(row[2]),
                        doc=decode_json(row[3]), prev=decode_json(row[4]), client_id=row[5],
                        client_version=None if row[6] is None else int(row[6]),
                        timestamp=int(row[7]), revert=bool(row[8]),
                        reason=row[9] if len(row) > 9 else None)


def select_documents(store: SQLStore, conn: DBConnection, object_schema: ObjectSchema,
                      pks: Sequence[Any]) -> dict[Any, dict[str, Any]]:
    found: dict[Any, dict[str, Any]] = {}
    pk_prop = object_schema.primary_key_property
    columns = ", ".join(layout.quote(p.name) for p in object_schema)
    table = layout.quote(object_schema.name)
    for start in range(0, len(pks), 500):
        chunk = list(pks[start : start + 500])
        marks = ", ".join([store.mark] * len(chunk))
        params = [layout.encode_value(pk_prop, pk, store.dialect) for pk in chunk]
        rows = conn.execute(f"SELECT {columns} FROM {table} WHERE "
                            f"{layout.quote(object_schema.primary_key)} IN ({marks})",
                            params).fetchall()
        for row in rows:
            document = layout.decode_row(object_schema, row, store.dialect)
            found[document[object_schema.primary_key]] = document
    return found


class Transaction(WriteTransaction):
    def __init__(self, store: SQLStore, conn: DBConnection, version: int, client_id: str | None,
                 client_version: int | None) -> None:
        self.store = store
        self.conn = conn
        self.version = version
        self.client_id = client_id
        self.client_version = client_version
        self.timestamp = now_ms()

    def get(self, object_type: str, pks: Sequence[Any]) -> dict[Any, dict[str, Any]]:
        return select_documents(self.store, self.conn, self.store.schema[object_type], pks)

    def put(self, change: Change, prev: Mapping[str, Any] | None, *, revert: bool = False,
            reason: str | None = None) -> None:
        store = self.store
        object_schema = store.schema[change.object_type]
        table = layout.quote(object_schema.name)
        pk_column = layout.quote(object_schema.primary_key)
        if revert:
            pass
        elif change.doc is None:
            pk_value = layout.encode_value(object_schema.primary_key_property, change.pk,
                                           store.dialect)
            self.conn.execute(f"DELETE FROM {table} WHERE {pk_column} = {store.mark}", (pk_value,))
        else:
            columns = [layout.quote(p.name) for p in object_schema]
            marks = [store._json() if not p.is_scalar else store.mark for p in object_schema]
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
            conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
            self.conn.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(marks)}) "
                f"ON CONFLICT ({pk_column}) {conflict}",
                layout.encode_row(object_schema, change.doc, store.dialect))
        self.version += 1
        doc_json = None if change.doc is None else orjson.dumps(to_plain(change.doc)).decode()
        prev_json = None if prev is None else orjson.dumps(to_plain(prev)).decode()
        self.conn.execute(store.sql(
            "INSERT INTO _realm_history (version, object_type, pk, doc, prev, client_id, "
            f"client_version, ts, revert, reason) VALUES (?, ?, ?, {store._json()}, {store._json()}, "
            "?, ?, ?, ?, ?)"),
            (self.version, change.object_type, encode_pk(change.pk), doc_json, prev_json,
             self.client_id, self.client_version, self.timestamp, revert, reason))

    def claim_upload(self, client_id: str, client_version: int) -> bool:
        claimed = self.conn.execute(self.store.sql(
            "UPDATE _realm_clients SET upload_version = ? WHERE id = ? AND upload_version < ? "
            "RETURNING id"), (client_version, client_id, client_version)).fetchall()
        return bool(claimed)

    def get_clock(self, object_type: str, pk: Any) -> str | None:
        row = self.conn.execute(self.store.sql(
            "SELECT clock FROM _realm_clocks WHERE object_type = ? AND pk = ?"),
            (object_type, encode_pk(pk))).fetchone()
        return None if row is None else str(row[0])

    def set_clock(self, object_type: str, pk: Any, clock: str) -> None:
        self.conn.execute(self.store.sql(
            "INSERT INTO _realm_clocks (object_type, pk, clock) VALUES (?, ?, ?) "
            "ON CONFLICT (object_type, pk) DO UPDATE SET clock = excluded.clock"),
            (object_type, encode_pk(pk), clock))

    def get_state(self, key: str) -> str | None:
        row = self.conn.execute(self.store.sql("SELECT value FROM _realm_meta WHERE key = ?"),
                                (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str | None) -> None:
        if value is None:
            self.conn.execute(self.store.sql("DELETE FROM _realm_meta WHERE key = ?"), (key,))
        else:
            self.conn.execute(self.store.sql(
                "INSERT INTO _realm_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"), (key, value))
