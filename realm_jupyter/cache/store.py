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

DuckDB's own errors about the file — truncated, damaged, not a DuckDB file at
all, a full disk, a read-only directory — become :class:`CacheError` lines that
name the file and what to do (:func:`cache_error`), wherever they surface: at
open, inside a transaction, or in a read long after.
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

__all__ = ["Cache", "cache_error", "default_cache_path", "memory_limit"]

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


MIB = 1024 * 1024


def memory_limit() -> str:
    """How much memory DuckDB may use for the cache (its ``memory_limit``); past it, it spills.

    ``$REALM_CACHE_MEMORY_LIMIT`` (any DuckDB size, e.g. ``512MB``) if set, else a quarter of
    the memory this process may use — the cgroup limit in a container (Binder gives 1-2 GB),
    else the machine's — kept between 256 MiB and 1 GiB. DuckDB's own default, 80 % of the
    machine, would let one kernel's buffer pool outgrow a Binder container.
    """
    configured = os.environ.get("REALM_CACHE_MEMORY_LIMIT", "").strip()
    if configured:
        return configured
    available = _memory_available()
    share = available // 4 if available else 1024 * MIB
    return f"{max(256 * MIB, min(1024 * MIB, share)) // MIB}MiB"


def _memory_available() -> int | None:
    """Bytes: the cgroup v2 (or v1) memory limit if there is one, else physical memory."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            value = int(Path(path).read_text().strip())
            if 0 < value < 1 << 60:  # "max" (ValueError) or a huge number: no limit
                return value
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return None


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

    if directory.exists() and not directory.is_dir():
        raise CacheError(f"cannot create the cache directory {directory}: a file of that name "
                         f"is in the way", hint=_ELSEWHERE)
    try:
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)  # mkdir's mode passes through the umask
        elif directory == Path(platformdirs.user_cache_dir("realm-jupyter")):
            os.chmod(directory, 0o700)
    except OSError as error:
        raise CacheError(f"cannot create the cache directory {directory}: "
                         f"{error.strerror or error}", hint=_ELSEWHERE) from None


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
            _check_writable(self.path)
            key = self.path.resolve()
            if key in _OPEN_FOR_WRITING:
                raise CacheLockedError(
                    f"the cache {self.path} is already open in this process",
                    hint="close the other realm on it first (await realm.close())")
        # Capped memory, spilling beside the cache file (``<cache>.tmp``, created on demand)
        # instead of failing or growing the kernel: see memory_limit().
        temp = Path(f"{self.path}.tmp")
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": memory_limit(), "temp_directory": str(temp)}
        if not read_only:  # spilled pages are cached data: owner-only, like the cache file
            temp.mkdir(mode=0o700, exist_ok=True)
            with contextlib.suppress(OSError):
                temp.chmod(0o700)
        try:
            self.connection = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as error:
            raise _locked(self.path, error) from error
        except duckdb.Error as error:
            raise cache_error(self.path, error, "cannot open the cache") from error
        if not read_only:
            self._key = key
            _OPEN_FOR_WRITING.add(key)
            _private_files(self.path)
        try:
            self.connection.execute("SET TimeZone = 'UTC'")
        except duckdb.Error as error:
            self.close()
            raise cache_error(self.path, error, "cannot open the cache") from error
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
            raise cache_error(self.path, error, "cache transaction failed to start") from error
        try:
            yield conn
        except BaseException as error:
            self._meta.clear()
            with contextlib.suppress(duckdb.Error):
                conn.execute("ROLLBACK")
            if isinstance(error, duckdb.Error):  # a statement inside: nothing was committed
                raise cache_error(self.path, error, "cache transaction failed") from error
            raise
        else:
            try:
                conn.execute("COMMIT")
            except duckdb.Error as error:
                self._meta.clear()
                with contextlib.suppress(duckdb.Error):
                    conn.execute("ROLLBACK")
                raise cache_error(self.path, error, "cache transaction failed") from error

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        try:
            return self.connection.execute(sql, list(params) if params is not None else None)
        except duckdb.Error as error:
            raise cache_error(self.path, error, "cache query failed") from error

    def arrow(self, sql: str, params: Sequence[Any] | None = None,
              connection: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        conn = connection or self.connection
        try:
            relation = conn.sql(sql, params=list(params) if params else None)
            # A statement that returns no rows (CREATE VIEW, SET, …) has no relation.
            return pa.table({}) if relation is None else relation.to_arrow_table()
        except duckdb.Error as error:
            raise cache_error(self.path, error, None) from error

    # ------------------------------------------------------------------ metadata

    def get_meta(self, key: str, default: Any = None) -> Any:
        if key in self._meta:
            text = self._meta[key]
        else:
            try:
                rows = self.connection.execute(f"SELECT value FROM {META}.meta WHERE key = ?",
                                               [key]).fetchall()
            except duckdb.Error as error:
                raise cache_error(self.path, error, "cannot read the cache") from error
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
    return cache_error(path, error, "cannot open the cache")


_RESYNC = "delete the file (writes it has not uploaded go with it), or connect with --cache " \
          "to another path: the next connect downloads everything again"
_ELSEWHERE = "connect with --cache PATH to put the cache somewhere writable"
#: What DuckDB says about a file that is not (or no longer) a sound database file.
_DAMAGED = ("corrupt database file", "could not read enough bytes", "not a valid duckdb database",
            "checksum", "invalid block", "serialization error", "failed to load metadata",
            "unsupported version")
#: DuckDB refuses every statement after a fatal error (often a full disk) until reopened.
_INVALIDATED = "database has been invalidated"
_FULL = ("no space left on device", "disk is full", "file too large", "disk quota exceeded")
_DENIED = ("permission denied", "read-only file system")


def cache_error(path: Path, error: duckdb.Error, doing: str | None) -> CacheError:
    """DuckDB's ``error`` on the cache at ``path`` as one line that says what to do.

    A damaged file, a full disk and a file or directory the process may not write
    are named as such; anything else (a statement DuckDB refused) keeps DuckDB's
    message, after ``doing`` when given.
    """
    message = str(error).strip()
    first = message.splitlines()[0] if message else type(error).__name__
    lower = message.lower()
    if any(sign in lower for sign in _FULL):
        return CacheError(f"the disk holding the cache {path} is full ({first}); nothing more "
                          "was written", hint="free some space, then realm.session.resume() "
                                              "(%realm_resume)")
    if _INVALIDATED in lower:
        return CacheError(f"the cache {path} stopped after an earlier error ({first}): close the "
                          "realm and connect again", hint="the file keeps what was committed; "
                          "reopening it is enough")
    if any(sign in lower for sign in _DAMAGED):
        return CacheError(f"the cache file {path} is damaged ({first}): delete it to resync",
                          hint=_RESYNC)
    if any(sign in lower for sign in _DENIED):
        return CacheError(f"cannot write the cache {path} ({first})", hint=_ELSEWHERE)
    # DuckDB's own message, whole: a parser error's caret line is what shows the mistake
    return CacheError(f"{doing}: {message}" if doing else message)


def _check_writable(path: Path) -> None:
    """Refuse a cache file or directory this process may not write, before DuckDB tries
    (it would open a read-only file, then fail on the first write). The directory
    matters too: DuckDB writes its ``.wal`` file beside the cache."""
    for target, what, mode in ((path, "file", os.W_OK), (path.parent, "directory",
                                                          os.W_OK | os.X_OK)):
        if target.exists() and not os.access(target, mode):
            raise CacheError(f"cannot write the cache {path}: its {what} is read-only",
                             hint=_ELSEWHERE)
