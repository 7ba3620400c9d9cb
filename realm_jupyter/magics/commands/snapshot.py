"""``%realm_snapshot save PATH``: write a checkpoint-pinned snapshot of the cache."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..display import note

if TYPE_CHECKING:
    from ..extension import RealmMagics


def run(magics: RealmMagics, args: argparse.Namespace) -> None:
    realm = magics.context.realm
    manifest = realm.save_snapshot(args.path)
    rows = sum(entry["rows"] for name, entry in manifest["files"].items()
               if not name.startswith("_realm/"))
    note(f"Snapshot saved to {args.path}: {rows:,} objects of {len(manifest['types'])} types, "
         f"pinned at server version {manifest['server_version']} (created "
         f"{manifest['created_at']}); reopen it with %realm_connect --snapshot {args.path}",
         level="success")
