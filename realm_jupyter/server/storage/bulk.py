"""Loading many documents at once: seed data, ``realm-jupyter import``, benchmark fixtures.

Small loads go through the normal write path, so every document gets a history
entry and connected clients receive it. Large loads (more than
``BULK_HISTORY_LIMIT`` documents) are columnar end to end — Arrow into a temporary
table through ADBC, then one ``INSERT … SELECT`` — and compact the history
instead: the server version advances once and the trim point moves to it, so a
client that synced before the load re-bootstraps (a client reset) rather than
replaying a million history entries. Either way the load is all or nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from ...documents import from_plain
from ...schema import ObjectSchema, PropertyType
from . import layout
from .base import Change, WriteTransaction

if TYPE_CHECKING:
    from .sql import SQLStore

__all__ = ["BULK_HISTORY_LIMIT", "bulk_load", "wire_documents"]

BULK_HISTORY_LIMIT = 20_000


def wire_documents(object_schema: ObjectSchema, table: pa.Table) -> list[dict[str, Any]]:
    """Rows of a wire-schema table as documents of Python values (small tables only)."""
    documents = []
    nested = {p.name for p in object_schema if p.type in (PropertyType.OBJECT, PropertyType.ARRAY)}
    for row in table.to_pylist():
        plain = {k: (orjson.loads(v) if k in nested and v is not None else v)
                 for k, v in row.items()}
        documents.append(from_plain(object_schema, plain))
    return documents


async def bulk_load(store: SQLStore, object_schema: ObjectSchema, table: pa.Table,
                    compact: bool | None = None) -> int:
    """Insert or replace the documents of ``table`` (wire schema); return the new version.

    ``compact`` (default: when the load is large, or no client has ever synced, as on a
    fresh store being seeded) takes the columnar path that compacts the history.
    """
    if compact is None:
        compact = table.num_rows > BULK_HISTORY_LIMIT or not await store.has_clients()
    if not compact:
        documents = wire_documents(object_schema, table)
        pk = object_schema.primary_key

        def work(tx: WriteTransaction) -> None:
            existing = tx.get(object_schema.name, [doc[pk] for doc in documents])
            for document in documents:
                tx.put(Change(object_schema.name, document[pk], document), existing.get(document[pk]))

        _, version = await store.write(work)
        return version
    # through the store's runner: a driver's error (a full disk) becomes a StorageError
    version = await store._run(lambda: _compacting_load(store, object_schema, table))
    from .base import Event

    await store.publish(Event("history", str(version)))
    return version


def _compacting_load(store: SQLStore, object_schema: ObjectSchema, table: pa.Table) -> int:
    sqlite = store.dialect == "sqlite"
    if sqlite:
        wrapper = store._connect()  # the store's own ADBC connection: WAL, busy timeout
        wrapper.execute("BEGIN IMMEDIATE")
        conn = wrapper.raw
        data = layout.from_wire_sqlite(object_schema, table)
        placeholder = "?"
    else:
        import adbc_driver_postgresql.dbapi as adbc_pg

        conn = adbc_pg.connect(store.url)
        data = table
        placeholder = "$1"
    with store._write_lock:
        try:
            cursor = conn.cursor()
            if not sqlite:
                cursor.execute("SELECT version FROM _realm_counter WHERE id = 1 FOR UPDATE")
                cursor.fetchall()
            cursor.adbc_ingest("_realm_load", data, mode="replace", temporary=True)
            columns = [layout.quote(p.name) for p in object_schema]
            # Rows go in in key order: the table grows at its end (SQLite's clustered key,
            # PostgreSQL's heap in index order), and bootstraps read it back sequentially.
            key = layout.quote(object_schema.primary_key)
            key_order = key + layout.key_collation(object_schema.primary_key_property,
                                                   store.dialect)
            selects = [_cast(store.dialect, p.type, layout.quote(p.name)) for p in object_schema]
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
            cursor.execute(
                f"INSERT INTO {layout.quote(object_schema.name)} ({', '.join(columns)}) "
                f"SELECT {', '.join(selects)} FROM _realm_load WHERE true ORDER BY {key_order} "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}")
            cursor.execute("UPDATE _realm_counter SET version = version + 1 WHERE id = 1")
            cursor.execute("SELECT version FROM _realm_counter WHERE id = 1")
            row = cursor.fetchone()
            assert row is not None
            version = int(row[0])
            cursor.execute("INSERT INTO _realm_meta (key, value) VALUES ('trimmed_through', "
                           f"{placeholder}) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                           parameters=(str(version),))
            cursor.execute("DROP TABLE _realm_load")
            cursor.close()
            if sqlite:
                wrapper.execute("COMMIT")
            else:
                conn.commit()
                analyze = conn.cursor()  # fresh statistics: the planner sees the key order
                analyze.execute(f"ANALYZE {layout.quote(object_schema.name)}")
                analyze.close()
                conn.commit()
            return version
        except BaseException:
            if sqlite:
                wrapper.rollback()
            else:
                conn.rollback()
            raise
        finally:
            conn.close()


def _cast(dialect: str, kind: PropertyType, column: str) -> str:
    if dialect == "sqlite":
        return column
    if kind is PropertyType.DECIMAL:
        return f"{column}::numeric"
    if kind in (PropertyType.OBJECT, PropertyType.ARRAY):
        return f"{column}::jsonb"
    return column

