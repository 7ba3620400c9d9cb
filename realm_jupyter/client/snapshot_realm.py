"""``SnapshotRealm``: a snapshot opened with no server — the Realm read API, read-only.

It *is* a :class:`Realm` for everything that reads — ``df``, ``query``, ``count``,
``sql``, ``changes``, ``rejected_writes``, ``row_counts``, ``subscriptions`` and the
widgets' sources run Realm's own code over a cache loaded from the snapshot's files —
and refuses, with :class:`ReadOnlySnapshotError`, everything that would change data,
subscriptions or the session. Its session is :class:`PinnedSession`: listeners can be
added (nothing ever changes, so they never fire) and every control refuses.

    realm = Realm.open_snapshot("analysis-2026-12-08")
    realm.query("Item", "priority >= 3")
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from ..errors import CacheError, ReadOnlySnapshotError
from ..schema import Schema
from . import snapshot as files
from .realm import Realm
from .subscriptions import Subscription, SubscriptionSet, SubscriptionStore

__all__ = ["PinnedSession", "SnapshotRealm"]


def _refuse(action: str) -> NoReturn:
    raise ReadOnlySnapshotError(action)


class _Refusing:
    """Stands where a live realm has a server-side object (user, app, upload queue)."""

    def __init__(self, what: str, allowed: dict[str, Any] | None = None) -> None:
        self._what = what
        self._allowed = allowed or {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._allowed:
            return self._allowed[name]
        _refuse(f"{self._what}.{name}")


class PinnedSession:
    """The session of a snapshot: offline for good, pinned at the snapshot's server version."""

    def __init__(self, realm: SnapshotRealm) -> None:
        self._realm = realm

    def __repr__(self) -> str:
        return f"PinnedSession(server_version={self._realm.server_version})"

    def status(self) -> dict[str, Any]:
        store = self._realm.subscription_store
        latest = store.latest
        return {"connection_state": "snapshot", "session_state": "pinned",
                "progress": {}, "subscription_version": latest.version,
                "subscription_state": store.state(latest.version).value,
                "last_sync": self._realm.created_at, "error": "", "pending_uploads": 0,
                "server_version": self._realm.server_version,
                "cursor": self._realm.server_version}

    def _no_listener(self, callback: Callable[..., Any]) -> Callable[[], None]:
        return lambda: None

    add_connection_listener = add_progress_listener = add_change_listener = _no_listener
    add_error_listener = _no_listener

    def pause(self) -> NoReturn:
        _refuse("pause")

    def resume(self) -> NoReturn:
        _refuse("resume")

    async def wait_for_upload(self, timeout: float | None = None) -> NoReturn:
        _refuse("wait_for_upload")

    async def wait_for_download(self, timeout: float | None = None) -> NoReturn:
        _refuse("wait_for_download")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        _refuse(f"session.{name}")


class _PinnedSubscriptionSet(SubscriptionSet):
    def update(self) -> NoReturn:
        _refuse("subscriptions.update")


class SnapshotRealm(Realm):
    """A snapshot opened read-only. Open with :meth:`Realm.open_snapshot`."""

    def __init__(self, path: str | Path) -> None:
        # Not Realm.__init__: no user, no server, no session, no upload queue.
        cache, manifest, workdir = files.load(path)
        self._finalizer = weakref.finalize(self, _release, cache, workdir)
        self.path = Path(path)
        self.manifest = manifest
        self.cache = cache
        self.schema = Schema.from_json(manifest["schema"])
        self.queryable = {k: list(v) for k, v in manifest.get("queryable_fields", {}).items()}
        try:
            self.subscription_store = SubscriptionStore(cache)
        except BaseException:
            self._finalizer()
            raise
        # Stand-ins where a live realm has server-side objects, typed as those: what the
        # shared read paths use exists; anything else raises ReadOnlySnapshotError.
        self.session = PinnedSession(self)  # type: ignore[assignment]
        identity = {"id": manifest["user_id"]}
        self.user = _Refusing("user", identity)  # type: ignore[assignment]
        self.app = _Refusing("app", {"app_id": manifest["app_id"],  # type: ignore[assignment]
                                     "base_url": manifest["server_url"]})
        self.transport = _Refusing("transport")  # type: ignore[assignment]
        self.writes = _Refusing("writes", {  # type: ignore[assignment]
            "last_client_version": lambda: 0, "pending_count": lambda: 0})
        self.on_error = None
        self._closed = False

    def __repr__(self) -> str:
        return (f"SnapshotRealm({self.path}, app={self.app_id!r}, "
                f"server_version={self.server_version}, created_at={self.created_at!r})")

    # ------------------------------------------------------------------ what is pinned

    @property
    def app_id(self) -> str:
        return str(self.manifest["app_id"])

    @property
    def server_url(self) -> str:
        return str(self.manifest["server_url"])

    @property
    def user_id(self) -> str:
        return str(self.manifest["user_id"])

    @property
    def server_version(self) -> int:
        return int(self.manifest["server_version"])

    @property
    def created_at(self) -> str:
        return str(self.manifest["created_at"])

    def describe(self) -> str:
        """One line: which checkpoint this is."""
        return (f"read-only snapshot {self.path} of {self.app_id} at {self.server_url} "
                f"(user {self.user_id}), pinned at server version {self.server_version}, "
                f"created {self.created_at}")

    def _identity(self) -> files.Identity:
        return files.Identity(self.app_id, self.server_url, self.user_id)

    # ------------------------------------------------------------------ lifecycle

    def close_now(self) -> None:
        """Close and delete the loaded copy (the snapshot's files stay)."""
        if not self._closed:
            self._closed = True
            self._finalizer()

    async def close(self) -> None:
        self.close_now()

    def __enter__(self) -> SnapshotRealm:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close_now()

    # ------------------------------------------------------------------ refused

    @property
    def subscriptions(self) -> SubscriptionSet:
        latest = self.subscription_store.latest.version
        return _PinnedSubscriptionSet(self.subscription_store, latest, self.schema, None)

    def _commit(self, subscriptions: list[Subscription]) -> NoReturn:
        _refuse("changing subscriptions")

    async def subscribe(self, object_type: str, query: str = "TRUEPREDICATE", *args: Any,
                        **options: Any) -> pd.DataFrame:
        _refuse("subscribe")

    def unsubscribe(self, name: str | None = None, **options: Any) -> NoReturn:
        _refuse("unsubscribe")

    def write(self) -> NoReturn:
        _refuse("write")

    async def ensure_client_id(self) -> NoReturn:
        _refuse("registering with the server")

    async def authed(self, method: str, path: str, body: Any = None) -> NoReturn:
        _refuse("talking to the server")

    def apply_download(self, server_version: int, upserts: dict[str, Any],
                       removes: dict[str, list[Any]], uploaded: int | None = None) -> NoReturn:
        _refuse("applying a download")

    async def client_reset(self, code: int, message: str, recovery_disabled: bool) -> NoReturn:
        _refuse("client reset")

    def clock_iso(self, loop_time: float) -> str:
        return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")

    def sql(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """DuckDB SQL over the snapshot; a statement that would change it is refused.

        Raises:
            ReadOnlySnapshotError: the statement writes (DuckDB holds the copy read-only).
            CacheError: DuckDB refused the statement for another reason.
        """
        try:
            return super().sql(sql, params)
        except CacheError as error:
            if "read-only mode" in error.message:
                raise ReadOnlySnapshotError("SQL that changes data") from None
            raise


def _release(cache: Any, workdir: Path) -> None:
    cache.close()
    files.remove_workdir(workdir)
