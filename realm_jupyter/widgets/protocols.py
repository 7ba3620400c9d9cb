"""What the widgets need from the sync client, as three small Protocols.

The widgets never import the client: anything with these methods can be displayed. The client
implements them over its session, subscription set and DuckDB cache.

Threading rules the implementations must keep:

* Listeners are called on the kernel loop thread, and the returned callable removes the listener.
* Read methods (``status_snapshot``, ``object_types``, ``subscription_rows``,
  ``subscription_set_info``, ``validate``, ``columns``, ``count``, ``page``) may be called from any
  thread, including a Jupyter *subshell* thread while the kernel loop is busy, and must be
  thread-safe (the cache uses one DuckDB ``cursor()`` per reading thread).
* Mutating methods (``pause``, ``resume``, ``add``, ``remove``) are only ever called on the kernel
  loop thread: the widgets hand them over with :class:`realm_jupyter.widgets._base.LoopHandoff`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow

__all__ = ["ExplorerSource", "StatusSource", "SubscriptionSource"]


class StatusSource(Protocol):
    """The session, as the :class:`~realm_jupyter.widgets.SyncStatus` bar shows it."""

    def status_snapshot(self) -> dict[str, Any]:
        """The current status.

        Keys: ``connection_state`` (``"disconnected" | "connecting" | "connected"``),
        ``session_state`` (``"active" | "inactive"``), ``progress`` (``estimate`` float 0..1,
        ``rows``, ``total_rows``, ``bytes`` ints, ``eta_seconds`` float or None, ``phase``
        ``"idle" | "bootstrap" | "catch_up"``), ``subscription_version`` int,
        ``subscription_state`` str, ``last_sync`` (ISO-8601 or ``""``), ``error`` (``""`` = none),
        ``pending_uploads`` int.
        """
        ...

    def add_status_listener(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``callback(snapshot)`` on every change; return a function that removes it."""
        ...

    def pause(self) -> None:
        """Stop syncing until :meth:`resume` (session state becomes ``inactive``)."""
        ...

    def resume(self) -> None:
        """Start syncing again after :meth:`pause`."""
        ...


class SubscriptionSource(Protocol):
    """The subscription set, as the :class:`~realm_jupyter.widgets.SubscriptionManager` edits it."""

    def object_types(self) -> list[str]:
        """The object types a subscription may name, sorted."""
        ...

    def subscription_rows(self) -> list[dict[str, Any]]:
        """One dict per subscription.

        Keys: ``id`` str, ``name`` (str or None), ``object_type``, ``query``, ``state`` str,
        ``rows`` int (cached objects matching it), ``created_at`` (ISO-8601 str or datetime).
        """
        ...

    def subscription_set_info(self) -> dict[str, Any]:
        """``{"version": int, "state": str, "error": str}`` of the latest subscription set."""
        ...

    def validate(self, object_type: str, query: str) -> dict[str, Any] | None:
        """None when ``query`` may be subscribed to; else ``{"message", "position"}``.

        ``position`` is the 0-based offset of the offending token in ``query``, or None.
        """
        ...

    async def add(self, object_type: str, query: str, name: str | None) -> None:
        """Add a subscription (a named one replaces the same name) and commit the set."""
        ...

    async def remove(self, subscription_id: str) -> None:
        """Remove the subscription with this ``id`` and commit the set."""
        ...

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` whenever rows, states or the set change; return its remover."""
        ...


class ExplorerSource(Protocol):
    """The local cache, as the :class:`~realm_jupyter.widgets.DataExplorer` pages through it."""

    def columns(self, object_type: str) -> list[tuple[str, str]]:
        """``(name, DuckDB type name)`` of each column of ``object_type``, in table order."""
        ...

    def count(self, object_type: str, filter: str) -> int:
        """Rows of ``object_type`` matching the RQL ``filter`` (``""`` = all).

        Raises:
            ValueError: the filter is not valid; ``.position`` (0-based) when known.
        """
        ...

    def page(
        self,
        object_type: str,
        filter: str,
        sort: list[tuple[str, bool]],
        offset: int,
        limit: int,
    ) -> pyarrow.Table:
        """Rows ``offset .. offset + limit`` of the filtered rows, ordered by ``(column,
        ascending)`` pairs then by primary key (so pages are stable).

        Raises:
            ValueError: the filter or a sort column is not valid.
        """
        ...

    def summaries(self, object_type: str, filter: str) -> list[dict[str, Any]]:
        """One summary per column over the rows matching ``filter``, computed where the rows
        are (see :mod:`realm_jupyter.widgets.summaries` for the shape).

        Raises:
            ValueError: the filter is not valid.
        """
        ...

    def export(self, object_type: str, filter: str, sort: list[tuple[str, bool]],
               format: str) -> bytes:
        """The filtered, sorted rows as a ``"csv"`` or ``"parquet"`` file's bytes.

        Raises:
            ValueError: the filter or a sort column is not valid.
        """
        ...

    def add_change_listener(self, callback: Callable[[set[str]], None]) -> Callable[[], None]:
        """Call ``callback(object_types)`` after sync changed those types; return its remover."""
        ...
