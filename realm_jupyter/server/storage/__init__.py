"""The server's store: documents, history, users and client state (SQLite or PostgreSQL)."""

from __future__ import annotations

from .base import (
    ApiKeyRecord,
    Change,
    ClientRecord,
    Event,
    HistoryEntry,
    RefreshTokenRecord,
    Snapshot,
    Store,
    UserRecord,
    WriteTransaction,
)

__all__ = ["ApiKeyRecord", "Change", "ClientRecord", "Event", "HistoryEntry",
           "RefreshTokenRecord", "Snapshot", "Store", "UserRecord", "WriteTransaction", "open_store"]


def open_store(url: str) -> Store:
    """A store for ``url``: ``sqlite:///path`` or ``postgresql://…`` (not yet opened).

    Raises:
        StorageError: an unsupported URL scheme.
    """
    from ...errors import StorageError

    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgresql import PostgresStore

        return PostgresStore(url)
    raise StorageError(f"unsupported store URL {url!r}: use sqlite:///path or postgresql://...")
