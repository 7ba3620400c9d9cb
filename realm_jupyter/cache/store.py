"""The local cache: one DuckDB file per (server, app, user), owned by one process.

Object tables live in DuckDB's ``main`` schema, named after their types, so
``%realm_sql SELECT * FROM Item`` just works. Sync metadata lives beside them in
the ``_realm`` schema of the same file: the download cursor, subscription sets,
the staged bootstrap, the upload queue and a log of applied changes. Because it
is one file, one transaction covers data and metadata — a reader never sees
half a checkpoint, and a crash never separates a change from its bookkeeping.

A DuckDB file open for writing locks out every other process, readers included,
so a second kernel on the same cache gets :class:`CacheLockedError` naming the
holder. Inside one process DuckDB would share the file instead, and two realms
syncing into one cache would corrupt each other's cursor and queue: a second
read-write open in the same process is refused the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from ..errors import CacheError, CacheLockedError
from ..schema import Schema
from . import ddl

__all__ = ["Cache", "default_cache_path"]

logger = logging.getLogger(__name__)
META = "_realm"
#: Cache files this process holds open for writing (DuckDB's lock only covers other processes).
_OPEN_FOR_WRITING: set[Path] = set()

_METADATA_DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {META}",
    f"CREATE TABLE IF NOT EXISTS {META}.meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {META}.subscription_sets (version BIGINT PRIMARY KEY, "
    "state VARCHAR NOT NULL, error VARCHAR, snapshot_client_version BIGINT NOT NULL, "
    "created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {META}.subscriptions (version BIGINT NOT NULL, id VARCHAR NOT NULL, "
    "name VARCHAR, object_type VARCHAR NOT NULL, query VARCHAR NOT NULL, "
    "created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {META}.bootstrap (version BIGINT NOT NULL, kind VARCHAR NOT NULL, "
    "first_snapshot BIGINT NOT NULL, snapshot BIGINT NOT NULL, step INTEGER, after VARCHAR, "
    "received BIGINT NOT NULL, totals VARCHAR NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {META}.staged_removes (object_type VARCHAR NOT NULL, "
    "pk VARCHAR NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {META}.upload_queue (client_version BIGINT PRIMARY KEY, "
    "timestamp BIGINT NOT NULL, last_server_version BIGINT NOT NULL, ops VARCHAR NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {META}.changes (server_version BIGINT, "
    "applied_at TIMESTAMPTZ NOT NULL, object_type VARCHAR NOT NULL, pk VARCHAR, "
    "operation VARCHAR NOT NULL, rows BIGINT NOT NULL, origin VARCHAR NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {META}.rejected_writes (object_type VARCHAR NOT NULL, "
    "primary_key VARCHAR, reason VARCHAR NOT NULL, server_version BIGINT, "
    "client_version BIGINT, reported_at TIMESTAMPTZ NOT NULL)",
]


def default_cache_path(base_url: str, app_id: str, user_id: str) -> Path:
    """``<user cache dir>/realm-jupyter/<app>-<hash>.duckdb`` for this server, app and user."""
    import platformdirs

    digest = hashlib.sha256(f"{base_url.rstrip('/')}|{app_id}|{user_id}".encode()).hexdigest()[:12]
    safe_app = re.sub(r"[^A-Za-z0-9_.-]", "_", app_id)
    return Path(platformdirs.user_cache_dir("realm-jupyter")) / f"{safe_app}-{digest}.duckdb"


def _private_directory(directory: Path) -> None:
    """Create the cache's directory 0700; tighten our default one if an older version left it
    wider. DuckDB creates its files (the ``.wal`` too, at each write) with the umask's mode,
    so the directory is what keeps other users out of the cached documents."""
    import platformdirs

    try:
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)  # mkdir's mode passes through the umask
        elif directory == Path(platformdirs.user_cache_dir("realm-jupyter")):
            os.chmod(directory, 0o700)
    except OSError as error:
        raise CacheError(f"cannot create the cache directory {directory}: {error}") from error


def _private_files(path: Path) -> None:
    """The cache file and its write-ahead log readable by their owner only."""
    for file in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(file.stat().st_mode) & 0o077:
                try:
                    os.chmod(file, 0o600)
                except OSError as error:
                    logger.warning("cannot make %s owner-only: %s", file, error)


class Cache:
    """An open cache file. All methods run on the caller's thread (the kernel loop's);
    ``cursor()`` gives another thread (a widget's) its own connection for reads."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._key: Path | None = None
        if not read_only:
            _private_directory(self.path.parent)
            key = self.path.resolve()
            if key in _OPEN_FOR_WRITING:
                raise CacheLockedError(
                    f"the cache {self.path} is already open in this process",
                    hint="close the other realm on it first (await realm.close())")
        try:
            self.connection = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as error:
            raise _locked(self.path, error) from None
        except duckdb.Error as error:
            raise CacheError(f"cannot open the cache {self.path}: {error}") from error
        if not read_only:
            self._key = key
            _OPEN_FOR_WRITING.add(key)
            _private_files(self.path)
        self.connection.execute("SET TimeZone = 'UTC'")
        self.schema: Schema | None = None
        # The text of the ``_realm.meta`` rows this process has read or written. Only this
        # object writes the file's metadata, so the mirror is exact once a transaction
        # commits, and is forgotten when one does not. Sync reads the cursor, the
        # acknowledged upload and the write clock several times per change; each read
        # was a DuckDB statement (~0.6 ms; benchmark B2).
        self._meta: dict[str, str | None] = {}
        if not read_only:
            try:
                with self.transaction():
                    for statement in _METADATA_DDL:
                        self.connection.execute(statement)
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ basics

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.connection.close()
        if self._key is not None:
            _OPEN_FOR_WRITING.discard(self._key)
            self._key = None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection for another thread (widgets read pages while a cell runs)."""
        return self.connection.cursor()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckDB transaction: everything inside commits together or not at all."""
        conn = self.connection
        try:
            conn.execute("BEGIN TRANSACTION")
        except duckdb.Error as error:
            raise CacheError(f"cache transaction failed to start: {error}") from error
        try:
            yield conn
        except BaseException:
            self._meta.clear()
            with contextlib.suppress(duckdb.Error):
                conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except duckdb.Error as error:
                self._meta.clear()
                raise CacheError(f"cache transaction failed: {error}") from error

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        try:
            return self.connection.execute(sql, list(params) if params is not None else None)
        except duckdb.Error as error:
            raise CacheError(f"cache query failed: {error}") from error

    def arrow(self, sql: str, params: Sequence[Any] | None = None,
              connection: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        conn = connection or self.connection
        try:
            relation = conn.sql(sql, params=list(params) if params else None)
            # A statement that returns no rows (CREATE VIEW, SET, …) has no relation.
            return pa.table({}) if relation is None else relation.to_arrow_table()
        except duckdb.Error as error:
            raise CacheError(str(error)) from error

    # ------------------------------------------------------------------ metadata

    def get_meta(self, key: str, default: Any = None) -> Any:
        if key in self._meta:
            text = self._meta[key]
        else:
            rows = self.connection.execute(f"SELECT value FROM {META}.meta WHERE key = ?",
                                           [key]).fetchall()
            text = rows[0][0] if rows else None
            if not self.read_only:
                self._meta[key] = text
        return default if text is None else orjson.loads(text)

    def set_meta(self, key: str, value: Any) -> None:
        # An UPDATE costs a third of an upsert here, and the key almost always exists.
        text = orjson.dumps(value).decode()
        updated = self.connection.execute(f"UPDATE {META}.meta SET value = ? WHERE key = ? "
                                          "RETURNING key", [text, key]).fetchall()
        if not updated:
            self.connection.execute(f"INSERT INTO {META}.meta (key, value) VALUES (?, ?)",
                                    [key, text])
        self._meta[key] = text

    def delete_meta(self, key: str) -> None:
        self.connection.execute(f"DELETE FROM {META}.meta WHERE key = ?", [key])
        self._meta[key] = None

    @property
    def cursor_version(self) -> int:
        return int(self.get_meta("cursor", 0))

    # ------------------------------------------------------------------ object tables

    def ensure_schema(self, schema: Schema) -> bool:
        """Create tables for ``schema``; returns True when a different schema was cached
        (the object tables and sync state were reset to match the new one)."""
        previous = self.get_meta("schema")
        current = schema.to_json()
        changed = previous is not None and previous != current
        with self.transaction() as conn:
            if changed:
                old = Schema.from_json(previous)
                for object_schema in old:
                    conn.execute(f"DROP TABLE IF EXISTS {ddl.quote(object_schema.name)}")
                    conn.execute(f"DROP TABLE IF EXISTS {self.stage_table(object_schema.name)}")
                conn.execute(f"DELETE FROM {META}.bootstrap")
                conn.execute(f"DELETE FROM {META}.staged_removes")
                self.set_meta("cursor", 0)
            for object_schema in schema:
                conn.execute(ddl.create_table_sql(object_schema))
                conn.execute(ddl.create_table_sql(object_schema,
                                                  name=self.stage_name(object_schema.name)))
            self.set_meta("schema", current)
        self.schema = schema
        return changed

    def table(self, object_type: str) -> str:
        return ddl.quote(object_type)

    @staticmethod
    def stage_name(object_type: str) -> str:
        """Where a bootstrap stages rows of ``object_type``.

        Beside the object table in ``main`` (not in ``_realm``) so that a full bootstrap
        can *rename* it into place instead of copying every row.
        """
        return f"__realm_stage_{object_type}"

    def stage_table(self, object_type: str) -> str:
        return ddl.quote(self.stage_name(object_type))


def _locked(path: Path, error: duckdb.Error) -> CacheError:
    message = str(error)
    holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    if holder:
        return CacheLockedError(
            f"the cache {path} is open in another process ({holder.group(1)}, PID "
            f"{holder.group(2)}), probably another kernel",
            hint="close that kernel, or connect with --cache to use another cache file")
    return CacheError(f"cannot open the cache {path}: {message}")
