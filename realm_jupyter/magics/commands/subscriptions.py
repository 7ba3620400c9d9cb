"""``%realm_subscriptions``: the manager widget (a table in plain frontends)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from ..extension import RealmMagics


def table(magics: RealmMagics) -> pd.DataFrame:
    realm = magics.context.realm
    current = realm.subscriptions
    counts = {s.id: realm.count(s.object_type, s.query) for s in current}
    rows = [{"name": s.name or "(unnamed)", "type": s.object_type, "query": s.query,
             "rows": counts[s.id], "state": current.state.value, "version": current.version,
             "created_at": s.created_at} for s in current]
    return pd.DataFrame(rows, columns=["name", "type", "query", "rows", "state", "version",
                                       "created_at"])


def run(magics: RealmMagics, args: argparse.Namespace) -> Any:
    if args.table or not magics.widgets:
        return table(magics)
    from ...widgets.sources import subscription_manager

    return subscription_manager(magics.context.realm, fallback=table(magics))
