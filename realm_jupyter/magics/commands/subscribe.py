"""``%realm_subscribe TYPE "QUERY" [args…]``: subscribe, wait (first time), return a DataFrame."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...client.realm import WaitMode
from ...errors import RealmJupyterError, SyncTimeoutError
from ..display import ProgressLine, describe_query

if TYPE_CHECKING:
    from ..extension import RealmMagics


async def run(magics: RealmMagics, args: argparse.Namespace) -> pd.DataFrame:
    realm = magics.context.realm
    values = [magics.evaluate(expression) for expression in args.args]
    query = args.query or "TRUEPREDICATE"
    from ...query import parse
    from ...widgets.sources import check_locally

    check_locally(realm, args.type, parse(query).bind(*values).render(), query)
    wait: WaitMode = "never" if args.no_wait else ("always" if args.always else "first_time")
    timeout = args.timeout if args.timeout is not None else magics.default_timeout
    line = ProgressLine(describe_query(args.type, query))
    remove: Any = None
    if wait != "never":
        line.start()
        remove = realm.session.add_progress_listener(line.update)
    started = time.monotonic()
    try:
        frame = await realm.subscribe(args.type, query, *values, name=args.name, wait=wait,
                                      timeout=timeout)
    except SyncTimeoutError:
        frame = realm.query(args.type, query, *values)
        text = (f"still syncing after {timeout:g} s (sync continues in the background); "
                f"showing the {len(frame):,} rows cached so far")
        line.finish(text, level="warning")  # only a wait can time out: the line is shown
        return frame
    except RealmJupyterError:
        line.finish("failed", level="warning")
        raise
    finally:
        if remove is not None:
            remove()
    if wait != "never":
        line.finish(f"{len(frame):,} rows in {time.monotonic() - started:.1f} s "
                    f"(subscription set version {realm.subscriptions.version})")
    return frame
