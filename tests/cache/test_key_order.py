"""DataFrames in primary-key order without DuckDB sorting them (``frames.key_ordered_frame``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from realm_jupyter.cache import Cache, to_pandas
from realm_jupyter.cache.apply import apply_changes
from realm_jupyter.cache.frames import key_ordered_frame
from tests.cache.conftest import oid, open_cache, thing, wire

# Each step upserts some keys and removes others, in the order drawn: the table's
# physical order drifts away from key order exactly as steady-state sync makes it.
steps = st.lists(st.tuples(st.lists(st.integers(0, 300), max_size=12),
                           st.lists(st.integers(0, 300), max_size=4)), min_size=1, max_size=6)
CASES = (("Thing", "TRUE", []), ("Thing", "count >= ?", [3]), ("Thing", "FALSE", []),
         ("Counter", "TRUE", []), ("Counter", "value < ?", [90]))


def scenario(cache: Cache, drawn: list[tuple[list[int], list[int]]]) -> None:
    for version, (upserts, removes) in enumerate(drawn, start=1):
        unique = list(dict.fromkeys(upserts))
        apply_changes(cache, version,
                      {"Thing": wire([thing(n, count=n % 7) for n in unique]),
                       "Counter": wire([{"_id": n - 150, "value": n} for n in unique], "Counter")},
                      {"Thing": [oid(n) for n in removes], "Counter": [n - 150 for n in removes]})


@settings(max_examples=40, deadline=None)
@given(steps, st.booleans(), st.booleans())
def test_the_frame_equals_order_by_for_any_history(drawn: list[tuple[list[int], list[int]]],
                                                   index: bool, keep_order: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        cache = open_cache(Path(directory) / "c.duckdb")
        try:
            scenario(cache, drawn)
            # A user may turn DuckDB's scan order off on the cache's connection.
            cache.execute(f"SET preserve_insertion_order = {str(keep_order).lower()}")
            for object_type, where, params in CASES:
                expected = to_pandas(cache.arrow(
                    f'SELECT * FROM "{object_type}" WHERE {where} ORDER BY _id', params),
                    "_id" if index else None)
                got = key_ordered_frame(cache, object_type, "_id", where, params, index=index)
                pd.testing.assert_frame_equal(got, expected)
        finally:
            cache.close()


def test_rows_written_out_of_key_order_come_back_in_key_order(cache: Cache) -> None:
    apply_changes(cache, 1, {"Counter": wire([{"_id": n, "value": n} for n in (5, -3, 9, 0)],
                                             "Counter")}, {})
    frame = key_ordered_frame(cache, "Counter", "_id")
    assert frame["_id"].tolist() == [-3, 0, 5, 9]
    assert frame["value"].tolist() == [-3, 0, 5, 9]
