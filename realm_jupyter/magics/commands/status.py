"""``%realm_status``, ``%realm_pause``, ``%realm_resume``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ...client import SnapshotRealm
from ..display import note

if TYPE_CHECKING:
    from ..extension import RealmMagics


def summary(magics: RealmMagics) -> str:
    realm = magics.context.realm
    if isinstance(realm, SnapshotRealm):
        return pinned(realm)
    status = realm.session.status()
    counts = ", ".join(f"{t}: {n:,}" for t, n in realm.row_counts().items())
    return (f"{status['connection_state']} ({status['session_state']}), subscription set "
            f"v{status['subscription_version']} {status['subscription_state']}, server version "
            f"{status['server_version']}, cursor {status['cursor']}, pending uploads "
            f"{status['pending_uploads']}; rows: {counts}"
            + (f"; last error: {status['error']}" if status["error"] else ""))


def pinned(realm: SnapshotRealm) -> str:
    """Which checkpoint a snapshot is pinned at (it never syncs, so no widget)."""
    current = realm.subscriptions
    counts = ", ".join(f"{t}: {n:,}" for t, n in realm.row_counts().items())
    return (f"{realm.describe()}; subscription set v{current.version} "
            f"({len(current)} subscriptions); rows: {counts}")


def run(magics: RealmMagics, args: argparse.Namespace) -> Any:
    if not magics.widgets or isinstance(magics.context.realm, SnapshotRealm):
        note(summary(magics))
        return None
    from ...widgets.sources import sync_status

    return sync_status(magics.context.realm, fallback=summary(magics))


def pause(magics: RealmMagics, args: argparse.Namespace) -> None:
    magics.context.realm.session.pause()
    note("sync paused (%realm_resume to continue)")


def resume(magics: RealmMagics, args: argparse.Namespace) -> None:
    magics.context.realm.session.resume()
    note("sync resumed")
