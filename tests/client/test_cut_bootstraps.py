"""A large bootstrap over a network that cuts every few megabytes, with writes going on.

Each connection dies after a seeded random 0.3–3 MB from the server (the fault proxy),
well inside one bootstrap. The client must still finish: every cut keeps what arrived
(whole frames and the complete record batches of a cut one), the next connection
resumes after it, and finished batches are not downloaded again.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from realm_jupyter.client import Progress
from realm_jupyter.client.backoff import Backoff
from realm_jupyter.demo.generate import document_counts, generate
from realm_jupyter.documents import from_plain
from realm_jupyter.server.storage import Change
from realm_jupyter.wire import encode_ipc
from tests.client.conftest import Clients
from tests.client.proxy import proxy_to
from tests.client.support import CAROL
from tests.support.servers import serving
from tests.support.waiting import eventually

DOCUMENTS = 110_000  # the demo app at this size holds 105,000 Orders (~20 MB on the wire)
WRITE_EVERY = 8_000  # rows received between two concurrent writes


async def _write(store: Any, schema: Any, orders: list[str], n: int) -> None:
    """Another writer: change one order, delete one, create one (keys spread over the range)."""
    def key(text: str) -> Any:
        return from_plain(schema, {"_id": text})["_id"]

    changed = key(orders[(n * 7919) % len(orders)])
    deleted = key(orders[(n * 104_729 + 1) % len(orders)])
    first, created = key(orders[0]), key(f"ffff{n:020x}")

    def work(tx: Any) -> None:
        before = tx.get("Order", [changed, deleted])
        if changed in before and changed != deleted:
            tx.put(Change("Order", changed, {**before[changed], "quantity": 10_000 + n}),
                   before[changed])
        if deleted in before:
            tx.put(Change("Order", deleted, None), before[deleted])
        document = {**tx.get("Order", [first])[first], "_id": created}
        tx.put(Change("Order", created, document), None)

    await store.write(work)


def _store_orders(store: Any, schema: Any) -> pd.DataFrame:
    snapshot = store.snapshot()
    try:
        table = pa.concat_tables(list(snapshot.batches(schema, "1 = 1", [])))
    finally:
        snapshot.close()
    return table.select(["_id", "quantity"]).to_pandas()


async def test_a_bootstrap_cut_every_few_megabytes_completes_without_fetching_twice(
        store_url: str, tmp_path: Path) -> None:
    orders = generate(DOCUMENTS)["Order"]
    assert orders.num_rows == document_counts(DOCUMENTS)["Order"] >= 100_000
    data_bytes = len(encode_ipc(orders))
    keys = orders.column("_id").to_pylist()
    async with serving(store_url, demo_size=DOCUMENTS) as server, \
            proxy_to(server.url) as proxy:
        store, schema = server.store, server.service.app.schema["Order"]
        clients = Clients(server, tmp_path, url=proxy.url)
        try:
            carol = await clients.open(CAROL.email)
            carol.session.backoff = Backoff(initial=0.02, maximum=0.5, rng=random.Random(5))
            await carol.subscriptions.wait_for_synchronization(30)
            proxy.cut_at_random(random.Random(17), 300_000, 3_000_000)
            proxy.cut()  # the open stream too: from now on every connection dies young
            connections, downloaded = len(proxy.attempts), proxy.downloaded

            begins: list[Progress] = []
            writes: list[asyncio.Task[None]] = []

            def on_progress(progress: Progress) -> None:
                if progress.phase != "bootstrap":
                    return
                if progress.bytes == 0:  # a bootstrap (re)started: rows = what was staged
                    begins.append(progress)
                if progress.rows >= WRITE_EVERY * (len(writes) + 1):
                    writes.append(asyncio.create_task(_write(store, schema, keys, len(writes))))

            carol.session.add_progress_listener(on_progress)
            await carol.subscribe("Order", name="orders", timeout=180)
            await asyncio.gather(*writes)
            await carol.session.wait_for_download(60)

            # Nothing lost, nothing twice: the cache holds exactly the store's Orders,
            # concurrent changes, deletions and creations included.
            held = carol.df("Order")[["_id", "quantity"]].sort_values("_id", ignore_index=True)
            expected = (await asyncio.to_thread(_store_orders, store, schema)).sort_values(
                "_id", ignore_index=True)
            assert held["_id"].is_unique and len(writes) >= 5
            pd.testing.assert_frame_equal(held, expected, check_dtype=False)

            # The network really cut the bootstrap many times, and every new connection
            # went on from what the cache had staged: it never started again from zero.
            cuts = len(proxy.attempts) - connections
            assert cuts >= 8, cuts
            resumed = [p for p in begins[1:] if p.rows > 0]
            assert len(resumed) >= cuts // 2, (cuts, [p.rows for p in begins])
            assert all(a.rows <= b.rows for a, b in itertools.pairwise(begins))
            # Finished batches are not fetched again: all the traffic of the cut
            # bootstrap stays within a small multiple of the data.
            traffic = proxy.downloaded - downloaded
            assert traffic <= 3 * data_bytes, (traffic, data_bytes)
            log = carol.changes()
            applied = log[(log["origin"] == "bootstrap") & (log["object_type"] == "Order")]
            assert len(applied) == 1  # one bootstrap, applied once
        finally:
            await clients.aclose()


async def test_reconnects_that_bring_no_data_back_off(store_url: str, tmp_path: Path) -> None:
    async with serving(store_url, demo_size=20_000) as server, proxy_to(server.url) as proxy:
        clients = Clients(server, tmp_path, url=proxy.url)
        try:
            carol = await clients.open(CAROL.email)
            await carol.subscriptions.wait_for_synchronization(30)
            carol.session.backoff = Backoff(initial=0.01, maximum=0.2, rng=random.Random(3))
            proxy.cut_at_random(random.Random(1), 600_000, 600_000)  # one cut mid-bootstrap
            proxy.cut()
            await carol.subscribe("Order", name="orders", wait="never")

            async def staged() -> bool:
                return bool((await carol.staged() or {}).get("received"))

            await eventually(staged, timeout=30, what="a staged batch")
            # From now on every connection dies after its first few frames: connected, but
            # never a batch. The delays grow instead of starting over at each connection.
            proxy.cut_at_random(random.Random(2), 1_500, 1_500)
            proxy.cut()
            await eventually(lambda: carol.session.backoff.attempts >= 5, timeout=30,
                             what="the backoff to grow")
            proxy.cut_at_random(None)
            await carol.subscriptions.wait_for_synchronization(60)
            assert carol.count("Order") == document_counts(20_000)["Order"]
            assert carol.session.backoff.attempts == 0  # reset by the connection that worked
        finally:
            await clients.aclose()
