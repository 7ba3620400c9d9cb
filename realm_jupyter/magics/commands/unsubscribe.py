"""``%realm_unsubscribe NAME | --type TYPE | --all``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ...errors import RealmJupyterError
from ..display import note

if TYPE_CHECKING:
    from ..extension import RealmMagics


def run(magics: RealmMagics, args: argparse.Namespace) -> None:
    realm = magics.context.realm
    if args.all:
        removed = realm.unsubscribe(all=True)
    elif args.type:
        removed = realm.unsubscribe(object_type=args.type, query=args.query)
    elif args.name:
        removed = realm.unsubscribe(args.name)
    else:
        raise RealmJupyterError("say what to remove: a subscription name, --type TYPE, or --all")
    if removed == 0:
        note("no matching subscription")
    else:
        note(f"removed {removed} subscription(s); the cache shrinks once the server confirms "
             f"(set version {realm.subscriptions.version})")
