"""What the notebooks must show, computed from the demo data alone (no server, no cache, no RQL).

The demo generator is deterministic, and the demo app's read rules are simple enough to state
here in pandas: an Item is readable by a member who owns it or whose team it belongs to, an
Order by a member of its region (without ``customer``), and by the admin, everything.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal

import pandas as pd

from realm_jupyter.demo import DEMO_USERS, DemoUser
from realm_jupyter.demo.generate import generate

USERS = {user.name: user for user in DEMO_USERS}
SIZE = "small"  # what %realm_connect --demo serves


@functools.cache
def data() -> dict[str, pd.DataFrame]:
    tables = generate(SIZE)
    items = tables["Item"].to_pandas()
    items["tags"] = items["tags"].map(json.loads)
    orders = tables["Order"].to_pandas()
    orders["customer"] = orders["customer"].map(json.loads)
    orders["skus"] = orders["skus"].map(json.loads)
    orders["amount"] = orders["amount"].map(Decimal)
    return {"Item": items, "Order": orders}


def readable_items(user: DemoUser) -> pd.DataFrame:
    items = data()["Item"]
    if user.role == "admin":
        return items
    return items[(items["owner_id"] == user.id) | items["team"].isin(user.teams)]


def readable_orders(user: DemoUser) -> pd.DataFrame:
    orders = data()["Order"]
    if user.role == "admin":
        return orders
    return orders[orders["region"].isin(user.teams)]


def open_urgent(user: DemoUser) -> pd.DataFrame:
    """``status == 'open' AND priority >= 3`` over what ``user`` may read."""
    items = readable_items(user)
    return items[(items["status"] == "open") & (items["priority"] >= 3)]


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def orders_since(start: dt.datetime) -> pd.DataFrame:
    orders = data()["Order"]
    return orders[orders["ordered_at"] >= pd.Timestamp(start)]
