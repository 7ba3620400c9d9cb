"""Client reset: start over from the server's state when history cannot bridge the gap.

Triggered when the server has trimmed history past the client's cursor (offline
longer than ``client_max_offline_days``), was bulk-loaded past it, or does not
know the client. Modes, as in Realm:

* ``recover``: keep unsynced local writes and replay them onto the fresh state
  (a server-side delete beats a local change); keep pending subscription sets;
* ``discard``: drop unsynced writes and pending subscription sets;
* ``recover_or_discard`` (default): recover, or discard when the server disables
  recovery (``is_recovery_mode_disabled``);
* ``manual``: stop syncing and report a ``ClientResetError`` with a backup.

Callbacks (``client_reset_callbacks``): ``on_before(realm)``,
``on_after_recovery(realm)``, ``on_after_discard(realm)``,
``on_manual_fallback(realm, error)``. A callback that raises turns the reset
into the manual fallback.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cache import apply as cache_apply
from ..cache.store import META
from ..errors import ClientResetError
from .subscriptions import SubscriptionEvent, SubscriptionSetState

if TYPE_CHECKING:
    from .realm import Realm

__all__ = ["client_reset"]

logger = logging.getLogger(__name__)


async def _call(realm: Realm, name: str, *args: Any) -> None:
    callback = realm.client_reset_callbacks.get(name)
    if callback is None:
        return
    result = callback(realm, *args)
    if inspect.isawaitable(result):
        await result


def backup(realm: Realm) -> Path:
    """Copy the cache to ``<name>.reset-backup.duckdb`` beside it; return the path."""
    target = realm.cache.path.with_suffix(".reset-backup.duckdb")
    if target.exists():
        target.unlink()
    conn = realm.cache.connection
    conn.execute(f"ATTACH '{target.as_posix()}' AS realm_backup")
    try:
        database = conn.execute("SELECT current_database()").fetchall()[0][0]
        conn.execute(f'COPY FROM DATABASE "{database}" TO realm_backup')
    finally:
        conn.execute("DETACH realm_backup")
    return target


async def client_reset(realm: Realm, code: int, message: str, recovery_disabled: bool) -> None:
    mode = realm.client_reset_mode
    if mode == "recover" and recovery_disabled:
        mode = "manual"
    if mode == "recover_or_discard":
        mode = "discard" if recovery_disabled else "recover"
    logger.warning("client reset (%s): %s", mode, message)
    if mode == "manual":
        await _manual(realm, code, message)
        return
    try:
        await _call(realm, "on_before")
        _reset_state(realm, recover=mode == "recover")
        await _call(realm, "on_after_recovery" if mode == "recover" else "on_after_discard")
    except Exception as error:  # a failing callback: fall back to manual
        logger.exception("client reset callback failed")
        await _manual(realm, code, f"{message} (callback failed: {error})")


async def _manual(realm: Realm, code: int, message: str) -> None:
    path = backup(realm)
    error = ClientResetError(f"client reset required: {message}", backup_path=str(path), code=code)
    # Pausing cancels the session's tasks, the stream task running this included: the
    # error is reported before the next await, and the callback runs as its own task.
    realm.session.pause()
    realm.report_error(error)
    realm.run_handler(_call(realm, "on_manual_fallback", error))


def _reset_state(realm: Realm, *, recover: bool) -> None:
    cache = realm.cache
    store = realm.subscription_store
    assert cache.schema is not None
    keep = store.latest if recover else store.active
    with cache.transaction() as conn:
        cache_apply._clear_staging(cache, conn)
        for object_schema in cache.schema:
            conn.execute(f"DELETE FROM {cache.table(object_schema.name)}")
        if recover:
            conn.execute(f"UPDATE {META}.upload_queue SET last_server_version = -1")
        else:
            conn.execute(f"DELETE FROM {META}.upload_queue")
        cache.set_meta("cursor", 0)
        cache.set_meta("sent_query_version", 0)
        cache.set_meta("upload_acked", 0)
        cache.delete_meta("client_id")
        if not recover:
            newer = [v for v in list(store._sets) if v > keep.version]
            for version in newer:
                store.apply(version, SubscriptionEvent.SUPERSEDE, conn=conn)
    # Every remaining set must be sent again to the fresh client record.
    for version in sorted(store._sets):
        state = store.state(version)
        if version > 0 and state in (SubscriptionSetState.COMPLETE,
                                     SubscriptionSetState.AWAITING_MARK,
                                     SubscriptionSetState.BOOTSTRAPPING):
            with cache.transaction() as conn:
                conn.execute(f"UPDATE {META}.subscription_sets SET state = 'pending' "
                             "WHERE version = ?", [version])
            store._sets[version] = store._sets[version].__class__(
                version, "pending", None, 0, store._sets[version].subscriptions)
    store._notify()
    realm.session.wake_queries()
