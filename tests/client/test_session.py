"""The sync session: pause and resume, reconnects, token refresh, waits and progress."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from realm_jupyter.client import ConnectionState, Progress, Realm, SessionState
from realm_jupyter.client.backoff import Backoff
from realm_jupyter.errors import AuthError, RealmJupyterError, SyncTimeoutError
from tests.client.conftest import Clients
from tests.client.proxy import proxy_to
from tests.client.support import ALICE, CAROL, expected_view
from tests.support.servers import ServerUnderTest, serving
from tests.support.waiting import eventually

C = ConnectionState


def sync_tasks(realm: Realm) -> list[asyncio.Task[object]]:
    """The realm's running session tasks (named ``realm-sync-<what>:<client>``)."""
    labels = {realm.cache.path.stem, realm.client_id}
    return [task for task in asyncio.all_tasks() if not task.done()
            and task.get_name().startswith("realm-sync-")
            and task.get_name().rsplit(":", 1)[-1] in labels]


async def create_item(realm: Realm, owner: str, summary: str, team: str = "north") -> object:
    with realm.write() as tx:
        pk = tx.create("Item", {"owner_id": owner, "summary": summary, "team": team,
                                "status": "open", "priority": 3})
    return pk


async def test_pause_stops_traffic_and_resume_catches_up(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item", "team == 'north'")
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Item")
    await eventually(lambda: demo_server.service.sessions == 2, what="two streams")
    events: list[tuple[C, C]] = []
    alice.session.add_connection_listener(lambda old, new: events.append((old, new)))
    assert alice.session.connection_state is C.CONNECTED

    alice.session.pause()
    alice.session.pause()
    assert events == [(C.CONNECTED, C.DISCONNECTED)]
    assert alice.session.state is SessionState.INACTIVE
    await eventually(lambda: not sync_tasks(alice), what="the session's tasks to end")
    await eventually(lambda: demo_server.service.sessions == 1, what="the server to drop the stream")
    cursor = alice.cache.cursor_version

    remote = await create_item(carol, CAROL.id, "made while Alice is paused")
    local = await create_item(alice, ALICE.id, "written offline")
    await carol.session.wait_for_upload(20)
    await carol.session.wait_for_download(20)
    assert alice.count("Item", "_id == $0", remote) == 0
    assert alice.cache.cursor_version == cursor
    assert alice.writes.pending_count() == 1
    assert await demo_server.store.get_documents("Item", [local]) == {}
    with pytest.raises(SyncTimeoutError):
        await alice.session.wait_for_download(0.2)
    assert events == [(C.CONNECTED, C.DISCONNECTED)]

    alice.session.resume()
    alice.session.resume()
    await alice.session.wait_for_download(20)
    await alice.session.wait_for_upload(20)
    assert events == [(C.CONNECTED, C.DISCONNECTED), (C.DISCONNECTED, C.CONNECTING),
                      (C.CONNECTING, C.CONNECTED)]
    assert alice.session.state is SessionState.ACTIVE
    assert alice.count("Item", "_id == $0", remote) == 1
    assert alice.writes.pending_count() == 0
    assert set(await demo_server.store.get_documents("Item", [local])) == {local}
    assert len([t for t in sync_tasks(alice) if t.get_name().startswith("realm-sync-stream")]) == 1


class RecordingBackoff(Backoff):
    """A backoff that keeps every delay it hands out."""

    def __init__(self, **options: float) -> None:
        super().__init__(**options)
        self.delays: list[float] = []

    def next_delay(self, retry_after: float | None = None) -> float:
        delay = super().next_delay(retry_after)
        self.delays.append(delay)
        return delay


async def test_dropped_connections_reconnect_with_backoff(
        clients: Clients, demo_server: ServerUnderTest, tmp_path: Path) -> None:
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Item")
    async with proxy_to(demo_server.url) as proxy:
        proxied = Clients(demo_server, tmp_path, url=proxy.url)
        try:
            alice = await proxied.open(ALICE.email)
            await alice.subscribe("Item", "team == 'north'")
            backoff = RecordingBackoff(initial=0.03, maximum=2.0)
            alice.session.backoff = backoff
            events: list[tuple[C, C]] = []
            alice.session.add_connection_listener(lambda old, new: events.append((old, new)))

            proxy.refuse = True
            proxy.cut()
            cut_at = len(proxy.attempts)
            await eventually(lambda: alice.session.backoff.attempts >= 6, what="6 failures")
            proxy.refuse = False
            await eventually(lambda: alice.session.connection_state is C.CONNECTED)
            assert alice.session.state is SessionState.ACTIVE
            assert events[0] == (C.CONNECTED, C.DISCONNECTED)
            assert events[-1] == (C.CONNECTING, C.CONNECTED)
            cycles = events[1:-1]
            assert cycles == [(C.DISCONNECTED, C.CONNECTING), (C.CONNECTING, C.DISCONNECTED)] \
                * (len(cycles) // 2) + [(C.DISCONNECTED, C.CONNECTING)]
            assert alice.session.backoff.attempts == 0  # reset by the connection that worked
            # One connection per attempt, and the pauses the session took between them grew
            # (× 2 minus at most 25 % jitter, so each is well over 1.2 × the one before) —
            # the delays it chose, not wall-clock gaps, which a loaded machine stretches.
            attempts = proxy.attempts[cut_at:]
            assert len(attempts) == len(cycles) // 2 + 1 >= 6
            delays = backoff.delays[:len(attempts) - 1]
            assert all(later > earlier * 1.2 for earlier, later in itertools.pairwise(delays)), \
                delays

            pk = await create_item(carol, CAROL.id, "after the outage")
            await carol.session.wait_for_upload(20)
            await alice.session.wait_for_download(20)
            assert alice.count("Item", "_id == $0", pk) == 1
        finally:
            await proxied.aclose()


async def test_an_expired_access_token_is_refreshed(store_url: str, tmp_path: Path) -> None:
    async with serving(store_url, access_ttl=2) as server:  # tokens live 1–2 s (whole seconds)
        pool = Clients(server, tmp_path)
        errors: list[RealmJupyterError] = []
        try:
            alice = await pool.open(ALICE.email, on_error=lambda realm, error: errors.append(error))
            await alice.subscribe("Item", "team == 'north'")
            carol = await pool.open(CAROL.email)
            await carol.subscribe("Item")
            first = await alice.user.access_token()

            def expired() -> bool:
                try:
                    server.service.auth.verify_access(first)
                except AuthError:
                    return True
                return False

            await eventually(expired, timeout=5, what="the access token to expire")
            pk = await create_item(carol, CAROL.id, "needs a fresh token")
            mine = await create_item(alice, ALICE.id, "uploaded with a fresh token")
            await carol.session.wait_for_upload(20)
            await alice.session.wait_for_download(20)  # sync/mark with the expired token
            await alice.session.wait_for_upload(20)
            alice.session.pause()
            alice.session.resume()  # a new stream, opened with the expired token
            await alice.session.wait_for_download(20)
            assert alice.count("Item", "_id IN $0", [pk, mine]) == 2
            assert await alice.user.access_token() != first
            assert errors == [] and alice.session.state is SessionState.ACTIVE
        finally:
            await pool.aclose()


async def test_a_refused_refresh_stops_the_session(clients: Clients) -> None:
    errors: list[RealmJupyterError] = []
    alice = await clients.open(ALICE.email, on_error=lambda realm, error: errors.append(error))
    await alice.subscribe("Item", "team == 'north'")
    alice.session.pause()
    await alice.user.log_out()
    alice.session.resume()
    await eventually(lambda: alice.session.state is SessionState.INACTIVE)
    assert alice.session.connection_state is C.DISCONNECTED
    assert len(errors) == 1 and isinstance(errors[0], AuthError)
    await eventually(lambda: not sync_tasks(alice), what="every session task to end")


async def test_waits_with_nothing_pending_return_at_once(clients: Clients) -> None:
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item", "team == 'north'")
    await alice.session.wait_for_upload(1)
    await alice.session.wait_for_download(1)
    await alice.subscriptions.wait_for_synchronization(1)

    alice.session.pause()
    waiter = asyncio.ensure_future(alice.session.wait_for_download())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    with pytest.raises(SyncTimeoutError, match="sync continues"):
        await alice.session.wait_for_download(0.1)
    alice.session.resume()
    await alice.session.wait_for_download(20)


async def test_bootstrap_progress(clients: Clients, demo_server: ServerUnderTest) -> None:
    carol = await clients.open(CAROL.email)
    await carol.subscriptions.wait_for_synchronization(20)
    reports: list[Progress] = []
    carol.session.add_progress_listener(reports.append)
    await carol.subscribe("Order")
    orders = await expected_view(demo_server.store, CAROL.email, "Order", lambda d: True)
    bootstrap = [r for r in reports if r.phase == "bootstrap"]
    assert bootstrap and bootstrap[0].total_rows == len(orders) and bootstrap[0].rows == 0
    estimates = [r.estimate for r in bootstrap]
    assert estimates == sorted(estimates) and estimates[-1] == 1.0
    assert bootstrap[-1].rows == len(orders) and bootstrap[-1].bytes > 0
    assert reports[-1].phase == "idle" and reports[-1].estimate == 1.0
    assert carol.session.status()["progress"]["phase"] == "idle"


async def test_last_sync_advances_with_every_applied_download(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    """Not only when a subscription set completes: a remote change moves "last sync" too, and
    the status a widget follows carries it."""
    from realm_jupyter.widgets.sources import RealmStatusSource

    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item", "team == 'north'")
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Item")
    before = alice.session.last_sync
    shown = alice.session.status()["last_sync"]
    assert before is not None and shown
    seen: list[str] = []
    remove = RealmStatusSource(alice).add_status_listener(lambda s: seen.append(s["last_sync"]))
    try:
        pk = await create_item(carol, CAROL.id, "a remote change")
        await carol.session.wait_for_upload(20)
        await eventually(lambda: alice.count("Item", "_id == $0", pk) == 1, 20, "the change")
    finally:
        remove()
    after = alice.session.last_sync
    assert after is not None and after > before
    assert seen and seen[-1] == alice.session.status()["last_sync"] > shown  # ISO, to the ms
