"""Four engines that answer one query over one set of documents.

* ``python`` — the evaluator (``Query.filter``), the reference;
* ``duckdb`` — the client cache's layout, documents ingested from the wire format;
* ``sqlite`` — the server's embedded store, rows from ``layout.encode_row``;
* ``postgresql`` — the server's production store (psycopg 3, JSON as ``jsonb``).

Each engine holds one table for the test schema, created once; ``load`` replaces
its contents and ``keys`` runs a query and returns the primary keys it selects, in
the engine's order.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb

from realm_jupyter import documents as docs
from realm_jupyter import wire
from realm_jupyter.cache import ddl
from realm_jupyter.query import PostgreSQLDialect, Query
from realm_jupyter.schema import ObjectSchema, PropertyType
from realm_jupyter.server.storage import layout
from realm_jupyter.server.storage.sqlite import AdbcConnection

Document = Mapping[str, Any]


class Engine(Protocol):
    name: str

    def load(self, documents: Sequence[Document]) -> None: ...

    def keys(self, query: Query, *args: Any) -> list[str]: ...


class PythonEngine:
    name = "python"

    def __init__(self, schema: ObjectSchema) -> None:
        self.schema = schema
        self.documents: list[Document] = []

    def load(self, documents: Sequence[Document]) -> None:
        self.documents = list(documents)

    def keys(self, query: Query, *args: Any) -> list[str]:
        pk = self.schema.primary_key
        return [str(doc[pk]) for doc in query.filter(self.documents, *args, primary_key=pk)]


class _SQLEngine:
    name: str
    dialect: Any

    def __init__(self, schema: ObjectSchema) -> None:
        self.schema = schema
        self.table = layout.quote(schema.name)

    def execute(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        raise NotImplementedError

    def keys(self, query: Query, *args: Any) -> list[str]:
        sql, params = query.compile(self.schema, None, self.dialect, *args)
        columns, rows = self.execute(sql, params)
        index = columns.index(self.schema.primary_key)
        return [str(row[index]) for row in rows]


class DuckDBEngine(_SQLEngine):
    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, schema: ObjectSchema) -> None:
        super().__init__(schema)
        self.conn = duckdb.connect()
        self.conn.execute(ddl.create_table_sql(schema))

    def load(self, documents: Sequence[Document]) -> None:
        self.conn.execute(f"DELETE FROM {self.table}")
        if not documents:
            return
        batch = wire.rows_to_arrow(self.schema, [docs.to_plain(d) for d in documents])
        self.conn.register("incoming_batch", batch)
        try:
            self.conn.execute(f"INSERT INTO {self.table} "
                              f"{ddl.ingest_select_sql(self.schema, 'incoming_batch')}")
        finally:
            self.conn.unregister("incoming_batch")

    def execute(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.conn.execute(sql, list(params))
        return [d[0] for d in cursor.description], cursor.fetchall()

    def close(self) -> None:
        self.conn.close()


class SQLiteEngine(_SQLEngine):
    name = "sqlite"
    dialect = "sqlite"

    def __init__(self, schema: ObjectSchema) -> None:
        """The server's own SQLite engine: ADBC's SQLite, through the store's adapter."""
        super().__init__(schema)
        self.directory = tempfile.TemporaryDirectory()
        self.conn = AdbcConnection(Path(self.directory.name) / "query.sqlite3")
        self.conn.execute(layout.create_table_sql(schema, "sqlite"))
        marks = ", ".join("?" for _ in schema)
        self.insert = f"INSERT INTO {self.table} VALUES ({marks})"

    def load(self, documents: Sequence[Document]) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(f"DELETE FROM {self.table}")
        for document in documents:
            self.conn.execute(self.insert, layout.encode_row(self.schema, document, "sqlite"))
        self.conn.commit()

    def execute(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        result = self.conn.execute(sql, list(params))
        return [d[0] for d in result.description or []], result.fetchall()

    def close(self) -> None:
        self.conn.close()
        self.directory.cleanup()


class PostgreSQLEngine(_SQLEngine):
    name = "postgresql"

    def __init__(self, schema: ObjectSchema, url: str) -> None:
        import psycopg

        super().__init__(schema)
        self.dialect = PostgreSQLDialect(paramstyle="format")
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(layout.create_table_sql(schema, "postgresql"))  # type: ignore[arg-type]
        marks = ", ".join("%s::jsonb" if p.type in (PropertyType.OBJECT, PropertyType.ARRAY)
                          else "%s" for p in schema)
        self.insert = f"INSERT INTO {self.table} VALUES ({marks})"

    def load(self, documents: Sequence[Document]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.table}")  # type: ignore[arg-type]
            cursor.executemany(self.insert,  # type: ignore[arg-type]
                               [layout.encode_row(self.schema, d, "postgresql")
                                for d in documents])

    def execute(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, list(params))  # type: ignore[arg-type]
            assert cursor.description is not None
            return [d.name for d in cursor.description], cursor.fetchall()

    def close(self) -> None:
        self.conn.close()


def answers(engines: Sequence[Engine], query: Query, *args: Any,
            ordered: bool = False) -> dict[str, Any]:
    """Each engine's keys for ``query``: lists when ``ordered``, else sorted lists."""
    result: dict[str, Any] = {}
    for engine in engines:
        keys = engine.keys(query, *args)
        result[engine.name] = keys if ordered else sorted(keys)
    return result


def assert_agree(engines: Sequence[Engine], query: Query, *args: Any, ordered: bool = False,
                 documents: Sequence[Document] = ()) -> list[str]:
    """All engines return the reference's keys; returns them."""
    found = answers(engines, query, *args, ordered=ordered)
    reference = found[engines[0].name]
    wrong = {name: keys for name, keys in found.items() if keys != reference}
    if wrong:
        lines = [f"query: {query.render()}", f"{engines[0].name}: {reference}"]
        lines += [f"{name}: {keys}" for name, keys in wrong.items()]
        lines += [f"doc: {dict(d)!r}" for d in documents]
        raise AssertionError("\n".join(lines))
    return list(reference)
