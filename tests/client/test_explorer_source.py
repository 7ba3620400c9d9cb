"""The explorer's source over a real synced cache: summaries, bar filters and exports in RQL.

The widget tests use a hand-made DuckDB source; this one drives ``RealmExplorerSource`` on
a cache filled by a real bootstrap, so summary bars and top values must come back as RQL
that the real compiler accepts and that keeps exactly the rows each bar counts.
"""

from __future__ import annotations

import io

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from realm_jupyter.widgets.sources import RealmExplorerSource
from tests.client.conftest import Clients
from tests.client.support import CAROL


async def test_every_bar_and_top_value_filters_to_its_count(clients: Clients) -> None:
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Order")
    source = RealmExplorerSource(carol)
    summaries = source.summaries("Order", "")
    total = source.count("Order", "")
    kinds = {summary["column"]: summary["kind"] for summary in summaries}
    assert "histogram" in kinds.values() and "top" in kinds.values()
    for summary in summaries:
        present = total - summary["nulls"]
        if summary["kind"] == "histogram":
            assert sum(b["count"] for b in summary["bins"]) <= present
            for bar in summary["bins"]:
                assert source.count("Order", bar["filter"]) == bar["count"], bar
        elif summary["kind"] == "top":
            assert sum(v["count"] for v in summary["values"]) + summary["other"] == present
            for value in summary["values"]:
                assert source.count("Order", value["filter"]) == value["count"], value
    # a filtered summary counts only the filtered rows
    north = source.summaries("Order", "region == 'north'")
    region = next(s for s in north if s["column"] == "region")
    assert [v["value"] for v in region["values"]] == ["north"]
    assert region["values"][0]["count"] == source.count("Order", "region == 'north'")


async def test_exports_are_the_filtered_sorted_view(clients: Clients) -> None:
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Order")
    source = RealmExplorerSource(carol)
    view = carol.query("Order", "region == 'north' SORT(amount DESC, _id ASC)")
    parquet = pq.read_table(io.BytesIO(source.export("Order", "region == 'north'",
                                                     [("amount", False)], "parquet")))
    assert parquet.column("_id").to_pylist() == view["_id"].astype(str).tolist()
    csv = pacsv.read_csv(io.BytesIO(source.export("Order", "region == 'north'",
                                                  [("amount", False)], "csv")))
    assert csv.num_rows == len(view) and csv.column_names == parquet.column_names
