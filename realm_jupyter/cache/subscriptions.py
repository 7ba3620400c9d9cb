"""Subscription sets as stored in the cache: every version, its state and its subscriptions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from .store import META, Cache

__all__ = ["StoredSet", "StoredSubscription", "delete_versions", "load_sets", "save_set",
           "set_state"]


@dataclass(frozen=True)
class StoredSubscription:
    id: str
    name: str | None
    object_type: str
    query: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class StoredSet:
    version: int
    state: str
    error: str | None
    snapshot_client_version: int
    subscriptions: tuple[StoredSubscription, ...] = field(default=())


def load_sets(cache: Cache) -> dict[int, StoredSet]:
    conn = cache.connection
    subscriptions: dict[int, list[StoredSubscription]] = {}
    for row in conn.execute(f"SELECT version, id, name, object_type, query, created_at, updated_at "
                            f"FROM {META}.subscriptions ORDER BY version, created_at, id").fetchall():
        subscriptions.setdefault(int(row[0]), []).append(StoredSubscription(*row[1:]))
    sets = {}
    for row in conn.execute(f"SELECT version, state, error, snapshot_client_version "
                            f"FROM {META}.subscription_sets ORDER BY version").fetchall():
        version = int(row[0])
        sets[version] = StoredSet(version, row[1], row[2], int(row[3]),
                                  tuple(subscriptions.get(version, [])))
    return sets


def save_set(conn: duckdb.DuckDBPyConnection, stored: StoredSet) -> None:
    now = dt.datetime.now(dt.UTC)
    conn.execute(f"INSERT INTO {META}.subscription_sets VALUES (?, ?, ?, ?, ?, ?)",
                 [stored.version, stored.state, stored.error, stored.snapshot_client_version,
                  now, now])
    for sub in stored.subscriptions:
        conn.execute(f"INSERT INTO {META}.subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [stored.version, sub.id, sub.name, sub.object_type, sub.query,
                      sub.created_at, sub.updated_at])


def set_state(conn: duckdb.DuckDBPyConnection, version: int, state: str,
              error: str | None = None) -> None:
    conn.execute(f"UPDATE {META}.subscription_sets SET state = ?, error = ?, updated_at = now() "
                 "WHERE version = ?", [state, error, version])


def delete_versions(conn: duckdb.DuckDBPyConnection, versions: list[int]) -> None:
    """Delete these versions (they are superseded)."""
    for version in versions:
        conn.execute(f"DELETE FROM {META}.subscriptions WHERE version = ?", [version])
        conn.execute(f"DELETE FROM {META}.subscription_sets WHERE version = ?", [version])
