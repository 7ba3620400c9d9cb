"""``%realm_query TYPE "QUERY" [args…]``: the full local query language over the cache."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..extension import RealmMagics


def run(magics: RealmMagics, args: argparse.Namespace) -> pd.DataFrame:
    values = [magics.evaluate(expression) for expression in args.args]
    return magics.context.realm.query(args.type, args.query or "TRUEPREDICATE", *values,
                                      index=args.index)
