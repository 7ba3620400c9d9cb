"""Snapshots: a checkpoint-pinned copy of the cache as Parquet files and a manifest.

A snapshot directory holds one Parquet file per object type, the cache's change log
and reverted writes under ``_realm/``, and ``manifest.json``: which app, server and
user it came from (never a token or a password), the server version it is pinned
at (the cache's download cursor), the latest subscription set with its queries, the
schema as the cache stores it, the package version, when it was made, and the
SHA-256 of every file. Every file is written inside one DuckDB transaction on the
cache, so the rows agree with the manifest's server version even if sync was
about to apply more.

Opening verifies every hash first and refuses a snapshot whose file was altered or
is missing, naming the file; it then loads the files into a private DuckDB file
created with the cache's own table definitions (so the types are exactly the live
cache's) and reopens it read-only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson

from .._version import __version__
from ..cache.ddl import quote
from ..cache.store import META, Cache
from ..cache.subscriptions import StoredSet, StoredSubscription, save_set
from ..errors import CacheError, SnapshotError
from ..schema import Schema

__all__ = ["FORMAT", "MANIFEST", "Identity", "load", "read_manifest", "save"]

FORMAT = 1
MANIFEST = "manifest.json"
#: Metadata tables of the cache that travel with the objects (``realm.changes()`` and
#: ``realm.rejected_writes()`` answer from them).
_META_TABLES = ("changes", "rejected_writes")
_SAFE_FILE = re.compile(r"^(?:_realm/)?[A-Za-z0-9_][A-Za-z0-9_.-]*\.parquet$")


@dataclass(frozen=True)
class Identity:
    """Where a snapshot's data came from. Deliberately no credentials of any kind."""

    app_id: str
    base_url: str
    user_id: str


def _file_name(object_type: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", object_type):
        return f"{object_type}.parquet"
    return f"type-{hashlib.sha256(object_type.encode()).hexdigest()[:16]}.parquet"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- writing


def save(cache: Cache, identity: Identity, path: str | Path) -> dict[str, Any]:
    """Write a snapshot of ``cache`` to the directory ``path``; returns the manifest.

    An existing snapshot at ``path`` is replaced (re-running a cell works); any other
    non-empty directory or file there is left alone and refused.

    Raises:
        SnapshotError: ``path`` holds something that is not a snapshot, or writing failed.
    """
    target = Path(path).expanduser()
    if target.exists() and not (target / MANIFEST).is_file() and (
            not target.is_dir() or any(target.iterdir())):
        raise SnapshotError(f"{target} exists and is not a snapshot: refusing to overwrite it",
                            hint="choose a new directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        manifest = _write(cache, identity, staging)
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _write(cache: Cache, identity: Identity, directory: Path) -> dict[str, Any]:
    (directory / "_realm").mkdir()
    files: dict[str, dict[str, Any]] = {}
    try:
        with cache.transaction() as conn:  # one read: files and manifest agree
            schema_json = _meta(conn, "schema")
            if schema_json is None:
                raise SnapshotError("the cache has no schema yet: nothing to snapshot")
            schema = Schema.from_json(schema_json)
            types: dict[str, str] = {}
            for object_schema in schema:
                name = _file_name(object_schema.name)
                types[object_schema.name] = name
                files[name] = _copy(conn, quote(object_schema.name), directory / name,
                                    f"ORDER BY {quote(object_schema.primary_key)}")
            for table in _META_TABLES:
                name = f"_realm/{table}.parquet"
                files[name] = _copy(conn, f"{META}.{table}", directory / name)
            manifest = {
                "format": FORMAT,
                "app_id": identity.app_id,
                "server_url": identity.base_url,
                "user_id": identity.user_id,
                "server_version": int(_meta(conn, "cursor") or 0),
                # Local writes are in the rows at once; these had not reached the server yet.
                "pending_uploads": int(conn.execute(
                    f"SELECT count(*) FROM {META}.upload_queue").fetchall()[0][0]),
                "subscriptions": _latest_set(conn),
                "schema": schema_json,
                "queryable_fields": _meta(conn, "queryable") or {},
                "indexed_queryable_fields": _meta(conn, "indexed_queryable") or [],
                "types": types,
                "package_version": __version__,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
    except duckdb.Error as error:
        raise SnapshotError(f"writing the snapshot failed: {error}") from error
    for name, entry in files.items():
        entry["sha256"] = _sha256(directory / name)
    manifest["files"] = files
    # Keys keep their order: the schema's property order is the tables' column order.
    (directory / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return manifest


def _copy(conn: duckdb.DuckDBPyConnection, table: str, path: Path,
          order: str = "") -> dict[str, Any]:
    """``table`` to a Parquet file, written by DuckDB (its types: STRUCT, LIST, DECIMAL…)."""
    conn.sql(f"SELECT * FROM {table} {order}").write_parquet(str(path))
    rows = conn.execute(f"SELECT count(*) FROM {table}").fetchall()
    return {"rows": int(rows[0][0])}


def _meta(conn: duckdb.DuckDBPyConnection, key: str) -> Any:
    rows = conn.execute(f"SELECT value FROM {META}.meta WHERE key = ?", [key]).fetchall()
    return orjson.loads(rows[0][0]) if rows else None


def _latest_set(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    found = conn.execute(f"SELECT version, state, error, snapshot_client_version FROM "
                         f"{META}.subscription_sets ORDER BY version DESC LIMIT 1").fetchall()
    version, state, error, client_version = found[0] if found else (0, "complete", None, 0)
    rows = conn.execute(f"SELECT id, name, object_type, query, created_at, updated_at FROM "
                        f"{META}.subscriptions WHERE version = ? ORDER BY created_at, id",
                        [version]).fetchall()
    return {"version": int(version), "state": state, "error": error,
            "snapshot_client_version": int(client_version),
            "queries": [{"id": r[0], "name": r[1], "object_type": r[2], "query": r[3],
                         "created_at": r[4].isoformat(), "updated_at": r[5].isoformat()}
                        for r in rows]}


def _replace(staging: Path, target: Path) -> None:
    """Move the finished snapshot into place; an old snapshot there goes only afterwards."""
    if not target.exists():
        staging.rename(target)
        return
    old = target.with_name(f".{target.name}-old-{staging.name}")
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- reading


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the snapshot at ``path``, after checking every file's hash.

    Raises:
        SnapshotError: no manifest, an unreadable one, or a file missing or altered.
    """
    directory = Path(path).expanduser()
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise SnapshotError(f"{directory} is not a snapshot: {MANIFEST} is missing",
                            hint="write one with %realm_snapshot save PATH")
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
        files = manifest["files"]
        format_ = manifest["format"]
        names = Schema.from_json(manifest["schema"]).names
        types = manifest["types"]
        for key in ("app_id", "server_url", "user_id", "server_version", "subscriptions",
                    "created_at"):
            manifest[key]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise SnapshotError(f"{manifest_path} is not a valid snapshot manifest: "
                            f"{type(error).__name__}: {error}") from None
    if format_ != FORMAT:
        raise SnapshotError(f"{manifest_path} has snapshot format {format_!r}; this version "
                            f"reads format {FORMAT}")
    for name, entry in files.items():
        if not isinstance(name, str) or not _SAFE_FILE.match(name) or ".." in name:
            raise SnapshotError(f"{manifest_path} names a file outside the snapshot: {name!r}")
        file = directory / name
        if not file.is_file():
            raise SnapshotError(f"snapshot file {name} is missing from {directory}")
        if _sha256(file) != entry.get("sha256"):
            raise SnapshotError(f"snapshot file {name} was altered (SHA-256 mismatch with "
                                f"{MANIFEST}): refusing to open {directory}")
    if not isinstance(types, dict) or sorted(types) != names:
        raise SnapshotError(f"{manifest_path}: its files do not cover the types of its schema")
    for object_type, name in types.items():
        if name not in files:
            raise SnapshotError(f"{manifest_path}: the file of {object_type} is not listed")
    return dict(manifest)


def load(path: str | Path) -> tuple[Cache, dict[str, Any], Path]:
    """Verify the snapshot at ``path`` and load it into a private read-only cache.

    Returns the cache, the manifest and the temporary directory holding the cache file
    (the caller removes it on close).

    Raises:
        SnapshotError: see :func:`read_manifest`; or the files do not fit the schema.
    """
    directory = Path(path).expanduser()
    manifest = read_manifest(directory)
    schema = Schema.from_json(manifest["schema"])
    workdir = Path(tempfile.mkdtemp(prefix="realm-snapshot-"))
    file = workdir / "snapshot.duckdb"
    try:
        cache = Cache(file)
        try:
            cache.ensure_schema(schema)
            with cache.transaction() as conn:
                for object_type, name in manifest["types"].items():
                    _insert(conn, quote(object_type), directory / name)
                for table in _META_TABLES:
                    _insert(conn, f"{META}.{table}", directory / f"_realm/{table}.parquet")
                _restore_meta(cache, conn, manifest)
        finally:
            cache.close()
        return Cache(file, read_only=True), manifest, workdir
    except (duckdb.Error, CacheError) as error:
        shutil.rmtree(workdir, ignore_errors=True)
        raise SnapshotError(f"cannot load the snapshot {directory}: {error}") from error
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _insert(conn: duckdb.DuckDBPyConnection, table: str, file: Path) -> None:
    conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [str(file)])


def _restore_meta(cache: Cache, conn: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    cache.set_meta("cursor", manifest["server_version"])
    cache.set_meta("user_id", manifest["user_id"])
    cache.set_meta("queryable", manifest.get("queryable_fields", {}))
    cache.set_meta("indexed_queryable", manifest.get("indexed_queryable_fields", []))
    pinned = manifest["subscriptions"]
    subscriptions = tuple(
        StoredSubscription(q["id"], q["name"], q["object_type"], q["query"],
                           dt.datetime.fromisoformat(q["created_at"]),
                           dt.datetime.fromisoformat(q["updated_at"]))
        for q in pinned["queries"])
    conn.execute(f"DELETE FROM {META}.subscription_sets")
    save_set(conn, StoredSet(int(pinned["version"]), str(pinned["state"]), pinned.get("error"),
                             int(pinned.get("snapshot_client_version", 0)), subscriptions))


def remove_workdir(workdir: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(workdir)
