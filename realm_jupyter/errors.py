"""Every exception realm_jupyter raises, in one tree.

::

    RealmJupyterError
    ├── QueryError (ValueError)              a query could not be used
    │   ├── QuerySyntaxError                 the text does not parse (line, column, caret)
    │   ├── UnsupportedQueryError            parses, but a construct is not allowed here
    │   ├── NotQueryableError                a subscription names a field that is not queryable
    │   └── QueryTypeError                   a comparison between incompatible types
    ├── SchemaError (ValueError)             a schema or a document that does not fit it
    ├── ConfigError (ValueError)             an app directory that cannot be served (file, reason)
    ├── AuthError                            login, token refresh or permission failure
    ├── SyncError                            anything the sync protocol reports
    │   ├── SubscriptionError                the server rejected a subscription set
    │   ├── CompensatingWriteError           the server reverted writes (object type, key, reason)
    │   ├── ClientResetError                 the local state had to be reset
    │   ├── ProtocolError                    the peer sent something the protocol forbids
    │   ├── ServerUnavailableError           the server could not be reached
    │   └── SyncTimeoutError (TimeoutError)  a wait ran out of time; sync carries on
    ├── WriteError                           a local write was refused before it reached the cache
    │   └── NoSubscriptionForWriteError      the object type has no subscription
    ├── CacheError                           the local DuckDB cache failed
    │   └── CacheLockedError                 another process owns the cache file
    ├── SnapshotError                        a snapshot cannot be written or opened (file, reason)
    │   └── ReadOnlySnapshotError            a write, subscription or session change on a snapshot
    └── StorageError                         the server's store failed

Foreign errors (httpx, duckdb, sqlite3, psycopg) are translated at the layer that
meets them, with ``raise ... from error`` so the cause stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AuthError",
    "CacheError",
    "CacheLockedError",
    "ClientResetError",
    "CompensatingWrite",
    "CompensatingWriteError",
    "ConfigError",
    "NoSubscriptionForWriteError",
    "NotQueryableError",
    "ProtocolError",
    "QueryError",
    "QuerySyntaxError",
    "QueryTypeError",
    "ReadOnlySnapshotError",
    "RealmJupyterError",
    "SchemaError",
    "ServerUnavailableError",
    "SnapshotError",
    "StorageError",
    "SubscriptionError",
    "SyncError",
    "SyncTimeoutError",
    "UnsupportedQueryError",
    "WriteError",
]


class RealmJupyterError(Exception):
    """The root of every error raised by realm_jupyter.

    ``hint`` is a short suggestion shown after the message in notebooks.
    """

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint


# --------------------------------------------------------------------------- queries


class QueryError(RealmJupyterError, ValueError):
    """A query that cannot be used. ``position`` is a 0-based offset into ``query``."""

    def __init__(
        self,
        message: str,
        *,
        query: str | None = None,
        position: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.query = query
        self.position = position

    @property
    def line(self) -> int | None:
        """1-based line of ``position`` in ``query``."""
        if self.query is None or self.position is None:
            return None
        return self.query.count("\n", 0, self.position) + 1

    @property
    def column(self) -> int | None:
        """1-based column of ``position`` in ``query``."""
        if self.query is None or self.position is None:
            return None
        start = self.query.rfind("\n", 0, self.position) + 1
        return self.position - start + 1

    def render(self) -> str:
        """The message, then the offending query line with a caret under the bad token."""
        if self.query is None or self.position is None:
            return self.message
        line_start = self.query.rfind("\n", 0, self.position) + 1
        line_end = self.query.find("\n", self.position)
        text = self.query[line_start : line_end if line_end != -1 else None]
        caret = " " * (self.position - line_start) + "^"
        return f"{self.message}\n    {text}\n    {caret}"


class QuerySyntaxError(QueryError):
    """The text is not a query: ``line``/``column`` point at what was unexpected."""

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.message} (line {self.line}, column {self.column})"


class UnsupportedQueryError(QueryError):
    """The query parses but uses a construct that is not allowed where it is used."""

    def __init__(
        self,
        message: str,
        *,
        construct: str,
        query: str | None = None,
        position: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, query=query, position=position, hint=hint)
        self.construct = construct


class NotQueryableError(QueryError):
    """A subscription names a field that the sync configuration does not make queryable."""

    def __init__(
        self,
        message: str,
        *,
        field: str,
        object_type: str,
        query: str | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(
            message,
            query=query,
            position=position,
            hint="add the field to queryable_fields_names or collection_queryable_fields_names "
            "in sync/config.json",
        )
        self.field = field
        self.object_type = object_type


class QueryTypeError(QueryError):
    """Two sides of a comparison have types that cannot be compared."""


# --------------------------------------------------------------------------- configuration


class SchemaError(RealmJupyterError, ValueError):
    """A schema that cannot be used, or a document that does not fit its schema."""


class ConfigError(RealmJupyterError, ValueError):
    """An app directory that cannot be served: names the file and the reason."""

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message, hint=hint)
        self.path = path


# --------------------------------------------------------------------------- auth and sync


class AuthError(RealmJupyterError):
    """Login, token refresh or authorisation failed. ``status_code`` is the HTTP status."""

    def __init__(
        self, message: str, *, status_code: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code


class SyncError(RealmJupyterError):
    """Something the sync protocol reported. ``code`` follows the protocol's error codes."""

    def __init__(self, message: str, *, code: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class SubscriptionError(SyncError):
    """The server rejected a subscription set; the previously active set stays in force."""

    def __init__(self, message: str, *, version: int | None = None) -> None:
        super().__init__(message, code=226)
        self.version = version


@dataclass(frozen=True)
class CompensatingWrite:
    """One write the server reverted: which object, and why (and, when known, the local
    ``client_version`` of the change that made it, so a notebook can tell which cell did)."""

    object_type: str
    primary_key: Any
    reason: str
    client_version: int | None = None


class CompensatingWriteError(SyncError):
    """The server reverted one or more writes (Realm's error 231)."""

    def __init__(self, message: str, *, writes: list[CompensatingWrite]) -> None:
        super().__init__(message, code=231)
        self.writes = writes

    @property
    def object_type(self) -> str:
        """Object type of the first reverted write."""
        return self.writes[0].object_type

    @property
    def primary_key(self) -> Any:
        """Primary key of the first reverted write."""
        return self.writes[0].primary_key

    @property
    def reason(self) -> str:
        """Reason of the first reverted write."""
        return self.writes[0].reason


class ClientResetError(SyncError):
    """Local state had to be reset. ``backup_path`` keeps the pre-reset cache, if any."""

    def __init__(
        self, message: str, *, backup_path: str | None = None, code: int | None = 222
    ) -> None:
        super().__init__(message, code=code)
        self.backup_path = backup_path


class ProtocolError(SyncError):
    """The peer sent something the sync protocol does not allow."""


class ServerUnavailableError(SyncError):
    """The sync server could not be reached (the session keeps retrying with backoff)."""


class SyncTimeoutError(SyncError, TimeoutError):
    """A wait ran out of time. Sync continues in the background."""


# --------------------------------------------------------------------------- local state


class WriteError(RealmJupyterError):
    """A local write was refused; nothing was changed."""


class NoSubscriptionForWriteError(WriteError):
    """Writing to an object type that has no subscription in the latest set."""

    def __init__(self, object_type: str) -> None:
        super().__init__(
            f"Cannot write to class {object_type} when no flexible sync subscription "
            "has been created.",
            hint=f"subscribe to {object_type} first",
        )
        self.object_type = object_type


class CacheError(RealmJupyterError):
    """The local DuckDB cache failed."""


class CacheLockedError(CacheError):
    """Another process (often another kernel) holds the cache file open."""


class SnapshotError(RealmJupyterError):
    """A snapshot that cannot be written, or cannot be trusted when opened (a file missing
    or altered since its manifest was written: the message names the file)."""


class ReadOnlySnapshotError(SnapshotError):
    """A snapshot is pinned at one checkpoint: writes, subscription changes and session
    controls are refused (connect to the server to change anything)."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{action}: this realm is a read-only snapshot",
                         hint="%realm_connect to the server (or Realm.open) to change data or "
                              "subscriptions")
        self.action = action


class StorageError(RealmJupyterError):
    """The server's store failed."""
