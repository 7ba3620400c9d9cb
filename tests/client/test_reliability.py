"""A server killed with ``kill -9`` in the middle of a bootstrap, and a client restarted too."""

from __future__ import annotations

from pathlib import Path

from realm_jupyter.client import App, ConnectionState, Credentials, Progress, Realm
from realm_jupyter.client.backoff import Backoff
from realm_jupyter.demo.generate import generate
from realm_jupyter.server.runner import free_port
from tests.client.processes import kill, spawn
from tests.client.proxy import proxy_to
from tests.client.support import CAROL
from tests.support.servers import DEMO_APP_ID, PASSWORDS
from tests.support.waiting import eventually, wait_healthy

DEMO_SIZE = 4000
BATCH_ROWS = 100


async def start_server(store_url: str) -> tuple[object, str]:
    port = free_port()
    process = await spawn("serve", store_url, str(port), str(DEMO_SIZE), str(BATCH_ROWS))
    url = f"http://127.0.0.1:{port}"
    await wait_healthy(url, process)
    return process, url


async def test_a_bootstrap_cut_by_kill_9_resumes_where_it_stopped(
        store_url: str, tmp_path: Path) -> None:
    orders = sorted(generate(DEMO_SIZE)["Order"].column("_id").to_pylist())
    server, url = await start_server(store_url)
    async with proxy_to(url) as proxy:
        app = App(proxy.url, DEMO_APP_ID)
        try:
            user = await app.log_in(Credentials.email_password(CAROL.email,
                                                               PASSWORDS[CAROL.email]))
            cache = tmp_path / "carol.duckdb"
            realm = await Realm.open(user, cache=cache)
            await realm.subscriptions.wait_for_synchronization(30)
            proxy.allow(60_000)  # the server can send only a few batches
            async with realm.subscriptions.update() as m:
                m.add("Order", name="orders")

            async def staged_rows() -> int:
                staged = await realm.staged()
                return 0 if staged is None else int(staged["received"])

            await eventually(lambda: staged_rows(), timeout=60, what="a staged batch")
            await kill(server)  # type: ignore[arg-type]
            proxy.cut()
            await eventually(lambda: realm.session.connection_state is not
                             ConnectionState.CONNECTED)
            staged = await realm.staged()
            assert staged is not None and 0 < staged["received"] < len(orders)
            assert staged["after"] in orders
            assert realm.count("Order") == 0  # nothing applied: a bootstrap is atomic

            await realm.close()  # the client restarts too, while the server is down
            realm = await Realm.open(user, cache=cache)
            assert await realm.staged() == staged
            reports: list[Progress] = []
            realm.session.add_progress_listener(reports.append)
            with realm.write() as tx:  # no upload before the staged bootstrap is applied
                mine = tx.create("Order", {"region": "north", "store_id": 1, "status": "placed",
                                           "amount": "9.99", "ordered_at": "2025-06-01T00:00:00Z"})
            seen: list[tuple[int, int]] = []
            realm.session.add_change_listener(lambda types: seen.append(
                (realm.writes.pending_count(), realm.count("Order", "_id == $0", mine))))
            realm.session.backoff = Backoff(initial=0.05, maximum=0.5)

            server, url = await start_server(store_url)
            proxy.target = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
            proxy.allow(None)
            await realm.subscriptions.wait_for_synchronization(60)
            await realm.session.wait_for_download(30)

            # The bootstrap replaced every Order; the pending write stayed on top of it.
            assert seen[0] == (1, 1) and all(count == 1 for _, count in seen)
            await realm.session.wait_for_upload(30)
            await realm.session.wait_for_download(30)
            frame = realm.df("Order")
            assert sorted(set(frame["_id"]) - {str(mine)}) == orders  # all of them, once each
            assert len(frame) == len(orders) + 1
            bootstrap = [r for r in reports if r.phase == "bootstrap"]
            assert bootstrap[0].rows == staged["received"]  # resumed with what was staged
            assert bootstrap[-1].rows == len(orders)  # and only the rest was sent
            log = realm.changes()
            applied = log[(log["origin"] == "bootstrap") & (log["object_type"] == "Order")]
            assert applied["rows"].tolist() == [len(orders)]
            await realm.close()
        finally:
            await app.aclose()
            await kill(server)  # type: ignore[arg-type]
