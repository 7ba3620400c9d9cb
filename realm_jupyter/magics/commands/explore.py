"""``%realm_explore TYPE ["QUERY"]``: the live data explorer over the cache."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..extension import RealmMagics


def run(magics: RealmMagics, args: argparse.Namespace) -> Any:
    realm = magics.context.realm
    realm.schema[args.type]  # an unknown type fails here, as one line
    if args.query:
        realm.count(args.type, args.query)  # a bad filter fails here, with a caret
    if not magics.widgets:
        return realm.query(args.type, args.query or "TRUEPREDICATE").head(magics.display_rows)
    from ...widgets.sources import data_explorer

    return data_explorer(realm, args.type, args.query or "",
                         fallback=realm.query(args.type, args.query or "TRUEPREDICATE").head(
                             magics.display_rows))
