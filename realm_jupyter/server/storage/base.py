"""The server's store: the small contract every backend keeps.

A store holds the app's documents (one typed table per object type, see
``layout``), a history of every change with a monotonically increasing server
version, users and their credentials, and per-client sync state (the latest
subscription set a client asked for). Several server processes may share one
store; nothing a session needs lives only in a process's memory.

Backends: ``SQLiteStore`` (default, one file, WAL) and ``PostgresStore``
(several processes, ``LISTEN/NOTIFY`` fan-out). One conformance suite,
``tests/server/storage``, runs against both.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ...errors import StorageError
from ...schema import ObjectSchema

if TYPE_CHECKING:
    from .events import Subscription

__all__ = ["ApiKeyRecord", "Change", "ClientRecord", "Event", "HistoryEntry", "RefreshTokenRecord",
           "Snapshot", "Store", "UserRecord", "WriteTransaction"]


@dataclass(frozen=True)
class UserRecord:
    id: str
    provider: str
    email: str | None = None
    password_hash: str | None = None
    custom_data: Mapping[str, Any] = field(default_factory=dict)
    created_at: int = 0
    disabled: bool = False


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    user_id: str
    name: str
    key_hash: str
    created_at: int = 0
    disabled: bool = False


@dataclass(frozen=True)
class RefreshTokenRecord:
    token_hash: str
    user_id: str
    expires_at: int
    revoked: bool = False


@dataclass(frozen=True)
class ClientRecord:
    """A client (one cache file): what it last asked for and how far its uploads got."""

    id: str
    user_id: str
    desired_version: int = 0
    desired_queries: Mapping[str, list[str]] = field(default_factory=dict)
    view_hash: str | None = None
    upload_version: int = 0
    created_at: int = 0


@dataclass(frozen=True)
class HistoryEntry:
    """One changed document at one server version (post-image ``doc``, pre-image ``prev``).

    ``doc`` and ``prev`` are plain JSON documents (``None`` when absent): a delete has no
    ``doc``, an insert no ``prev``.
    """

    version: int
    object_type: str
    pk: Any
    doc: Mapping[str, Any] | None
    prev: Mapping[str, Any] | None
    client_id: str | None = None
    client_version: int | None = None
    timestamp: int = 0
    revert: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Change:
    """A document to write (``doc``, validated Python values) or delete (``doc`` is None)."""

    object_type: str
    pk: Any
    doc: Mapping[str, Any] | None


@dataclass(frozen=True)
class Event:
    """A notification between server processes: new history, or a client's new query."""

    kind: str  # "history" | "client"
    value: str


class WriteTransaction(abc.ABC):
    """Reads and writes inside one store transaction (run on a worker thread)."""

    @abc.abstractmethod
    def get(self, object_type: str, pks: Sequence[Any]) -> dict[Any, dict[str, Any]]:
        """Current documents (Python values) by primary key; missing keys are absent."""

    version: int

    @abc.abstractmethod
    def put(self, change: Change, prev: Mapping[str, Any] | None, *, revert: bool = False,
            reason: str | None = None) -> None:
        """Write or delete one document and record it in the history.

        With ``revert`` the document is not changed: the history records its current
        state for the writing client only, with ``reason`` when it is a compensating write.
        """

    @abc.abstractmethod
    def claim_upload(self, client_id: str, client_version: int) -> bool:
        """Mark a client's changeset as integrated; False when it already was."""

    @abc.abstractmethod
    def get_clock(self, object_type: str, pk: Any) -> str | None:
        """The conflict-resolution clock of one object (JSON text)."""

    @abc.abstractmethod
    def set_clock(self, object_type: str, pk: Any, clock: str) -> None: ...

    @abc.abstractmethod
    def get_state(self, key: str) -> str | None:
        """A small per-app value kept with the data (e.g. field clocks), read in this transaction."""

    @abc.abstractmethod
    def set_state(self, key: str, value: str | None) -> None:
        """Store (or delete, with None) a per-app value in this transaction."""


class Snapshot(abc.ABC):
    """A consistent read view of the store at server version ``version`` (one worker thread).

    Bootstraps read history and documents from the same snapshot so that what a client
    receives is exactly the state at ``version``.
    """

    version: int

    @abc.abstractmethod
    def history(self, after: int, limit: int) -> list[HistoryEntry]:
        """History entries with ``after < version <= self.version``, oldest first."""

    @abc.abstractmethod
    def count(self, object_schema: ObjectSchema, where: str, params: Sequence[Any],
              after: Any = None) -> int:
        """Number of documents matching a compiled condition (with a key after ``after``)."""

    @abc.abstractmethod
    def batches(self, object_schema: ObjectSchema, where: str, params: Sequence[Any], *,
                functions: frozenset[str] = frozenset(), hidden: frozenset[str] = frozenset(),
                after: Any = None, batch_rows: int = 50_000) -> Iterator[pa.Table]:
        """Matching documents in primary-key order, after ``after``, as wire-schema tables."""

    @abc.abstractmethod
    def pks(self, object_schema: ObjectSchema, where: str, params: Sequence[Any], *,
            functions: frozenset[str] = frozenset(), after: Any = None,
            batch_rows: int = 50_000) -> Iterator[list[Any]]:
        """Primary keys (plain values) of matching documents, in order, after ``after``."""

    @abc.abstractmethod
    def close(self) -> None: ...


def _redacted(url: str) -> str:
    """A store URL without its password."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url


class Store(abc.ABC):
    """What the server needs from a database. Blocking methods run on worker threads.

    Raises (every method):
        StorageError: the database failed; the message says what and where.
    """

    dialect: str
    url: str

    # ------------------------------------------------------------------ lifecycle

    @abc.abstractmethod
    async def open(self, schema: Mapping[str, ObjectSchema],
                   queryable: Mapping[str, frozenset[str]]) -> None:
        """Connect and create missing tables and indexes."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # ------------------------------------------------------------------ meta, users, tokens

    @abc.abstractmethod
    async def get_meta(self, key: str) -> str | None: ...

    @abc.abstractmethod
    async def set_meta(self, key: str, value: str, *, only_if_absent: bool = False) -> str:
        """Set a value; with ``only_if_absent`` keep an existing one. Returns the stored value."""

    @abc.abstractmethod
    async def delete_meta(self, key: str) -> None:
        """Remove a value (and, where the engine can, its bytes from the file)."""

    async def claim_app(self, app_id: str) -> None:
        """Record ``app_id`` as this store's app on first open; refuse another app's store.

        Two apps on one store would share users, tokens and documents.

        Raises:
            StorageError: the store belongs to another app id.
        """
        owner = await self.set_meta("app_id", app_id, only_if_absent=True)
        if owner != app_id:
            raise StorageError(f"the store {_redacted(self.url)} belongs to app {owner!r}, not "
                               f"{app_id!r}: give each app its own --store")

    async def signing_secret(self, candidate: str, *, given: str | None = None) -> str:
        """The secret that signs access tokens, shared by every process on this store.

        ``given`` (``REALM_SIGNING_SECRET``) wins, and the store then keeps none. Else
        this base keeps it in the database (PostgreSQL, whose access control guards it);
        SQLite keeps it in a file of its own beside the data file.
        """
        if given is not None:
            await self.delete_meta("signing_secret")
            return given
        return await self.set_meta("signing_secret", candidate, only_if_absent=True)

    @abc.abstractmethod
    async def create_user(self, user: UserRecord) -> None:
        """Raises: StorageError when the id or email is taken."""

    @abc.abstractmethod
    async def get_user(self, user_id: str) -> UserRecord | None: ...

    @abc.abstractmethod
    async def find_user_by_email(self, email: str) -> UserRecord | None: ...

    @abc.abstractmethod
    async def add_api_key(self, key: ApiKeyRecord) -> None: ...

    @abc.abstractmethod
    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    @abc.abstractmethod
    async def add_refresh_token(self, token: RefreshTokenRecord) -> None: ...

    @abc.abstractmethod
    async def find_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None: ...

    @abc.abstractmethod
    async def revoke_refresh_token(self, token_hash: str) -> None: ...

    # ------------------------------------------------------------------ documents and history

    @abc.abstractmethod
    async def latest_version(self) -> int: ...

    @abc.abstractmethod
    async def write(self, work: Any, *, client_id: str | None = None,
                    client_version: int | None = None) -> tuple[Any, int]:
        """Run ``work(tx: WriteTransaction)`` in one transaction; return (its result, last version).

        Writers are serialised so versions commit in order; on success a "history"
        event is published.
        """

    @abc.abstractmethod
    async def bulk_load(self, object_schema: ObjectSchema, table: pa.Table,
                        compact: bool | None = None) -> int:
        """Insert (or replace) documents from a wire-schema table, all or nothing.

        Small loads into a store that has clients keep per-document history; large
        loads, or ``compact=True``, compact it instead (see ``bulk``).
        """

    @abc.abstractmethod
    async def has_clients(self) -> bool:
        """Whether any client ever registered with this store."""

    @abc.abstractmethod
    async def get_documents(self, object_type: str, pks: Sequence[Any]) -> dict[Any, dict[str, Any]]: ...

    @abc.abstractmethod
    async def find_documents(self, object_type: str, field: str, value: Any,
                             limit: int = 10) -> list[dict[str, Any]]:
        """Documents whose ``field`` equals ``value`` (custom user data lookups)."""

    @abc.abstractmethod
    async def history(self, after: int, limit: int = 10_000) -> list[HistoryEntry]: ...

    @abc.abstractmethod
    async def trim_history(self, before_timestamp: int) -> int:
        """Delete history older than ``before_timestamp`` (ms); return the new trim point."""

    @abc.abstractmethod
    async def trimmed_through(self) -> int:
        """Versions at or below this are gone from the history."""

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """Open a read snapshot (blocking: call from a worker thread)."""

    # ------------------------------------------------------------------ clients

    @abc.abstractmethod
    async def create_client(self, client_id: str, user_id: str) -> None: ...

    @abc.abstractmethod
    async def get_client(self, client_id: str) -> ClientRecord | None: ...

    @abc.abstractmethod
    async def set_desired_queries(self, client_id: str, version: int,
                                  queries: Mapping[str, list[str]]) -> None:
        """Record the client's latest valid subscription set (ignored if not newer)."""

    @abc.abstractmethod
    async def set_view_hash(self, client_id: str, view_hash: str) -> None: ...

    @abc.abstractmethod
    async def set_upload_version(self, client_id: str, client_version: int) -> None: ...

    # ------------------------------------------------------------------ notifications

    @abc.abstractmethod
    async def publish(self, event: Event) -> None:
        """Tell every server process (this one included) about ``event``."""

    @abc.abstractmethod
    def subscribe(self) -> Subscription:
        """Every event published from now on, from any process (close it when done)."""
