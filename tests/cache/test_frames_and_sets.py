"""DataFrames out of the cache, and subscription sets kept in it."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa

from realm_jupyter.cache import Cache, to_pandas
from realm_jupyter.cache.apply import apply_changes
from realm_jupyter.cache.subscriptions import (
    StoredSet,
    StoredSubscription,
    delete_versions,
    load_sets,
    save_set,
    set_state,
)
from tests.cache.conftest import oid, open_cache, thing, wire


def test_frames_keep_real_types(cache: Cache) -> None:
    apply_changes(cache, 1, {"Thing": wire([thing(1), thing(2, tags=["a", "b"], ratio=None)])}, {})
    frame = to_pandas(cache.arrow('SELECT * FROM Thing ORDER BY _id'))
    assert not any(pd.api.types.is_object_dtype(dtype) for dtype in frame.dtypes)
    assert pd.api.types.is_string_dtype(frame["name"]) and frame["count"].dtype == "int64"
    assert frame["ratio"].isna().tolist() == [False, True]
    assert isinstance(frame["when"].dtype, pd.DatetimeTZDtype)
    for column, check in (("price", pa.types.is_decimal), ("place", pa.types.is_struct),
                          ("tags", pa.types.is_list)):
        assert isinstance(frame[column].dtype, pd.ArrowDtype)
        assert check(frame[column].dtype.pyarrow_dtype), column
    assert frame["price"].tolist() == [decimal.Decimal("1.25"), decimal.Decimal("2.25")]
    assert frame["place"].iloc[1] == {"city": "Oslo", "floor": 2}
    assert frame["tags"].iloc[1] == ["a", "b"]

    indexed = to_pandas(cache.arrow("SELECT * FROM Thing ORDER BY _id"), "_id")
    assert indexed.index.name == "_id" and indexed.index.tolist() == [oid(1), oid(2)]
    assert to_pandas(cache.arrow("SELECT 1 AS x"), "missing").columns.tolist() == ["x"]
    mapped = to_pandas(cache.arrow("SELECT MAP {'a': 1} AS m"))
    assert isinstance(mapped["m"].dtype, pd.ArrowDtype)


def test_subscription_sets_round_trip(tmp_path: Path) -> None:
    cache = open_cache(tmp_path / "c.duckdb")
    now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    later = now + dt.timedelta(seconds=1)
    subs = (StoredSubscription("b", None, "Thing", "count > 1", now, now),
            StoredSubscription("a", "named", "Counter", "TRUEPREDICATE", later, later))
    with cache.transaction() as conn:
        save_set(conn, StoredSet(0, "complete", None, 0))
        save_set(conn, StoredSet(1, "pending", None, 7, subs))
        save_set(conn, StoredSet(2, "pending", None, 9, subs[:1]))
    with cache.transaction() as conn:
        set_state(conn, 1, "error", "refused by the server")
        delete_versions(conn, [0])
    cache.close()

    cache = Cache(tmp_path / "c.duckdb")
    sets = load_sets(cache)
    assert sorted(sets) == [1, 2]
    assert sets[1] == StoredSet(1, "error", "refused by the server", 7, subs)
    assert sets[2].subscriptions == subs[:1] and sets[2].snapshot_client_version == 9
    cache.close()
