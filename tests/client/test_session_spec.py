"""``docs/spec/session.md`` against a real session: a tour through every cell that can happen.

Each cell of the document's table is produced for real — the server reached through
a loopback proxy that can refuse, cut or starve connections — and the observed next
state is recorded. At the end the observed table must equal the document's.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from realm_jupyter.client import ConnectionState, Realm
from realm_jupyter.client.backoff import Backoff
from realm_jupyter.demo.generate import generate
from realm_jupyter.errors import AuthError, CacheError, ClientResetError, RealmJupyterError
from tests.client.conftest import Clients
from tests.client.proxy import Proxy, proxy_to
from tests.client.spec import read_table
from tests.client.support import ALICE, CAROL
from tests.client.test_session import sync_tasks
from tests.server.conftest import demo_rows, server_put
from tests.support.servers import ServerUnderTest
from tests.support.waiting import eventually

STATES, EVENTS, TABLE = read_table("session.md", "session-transitions")


def combined(realm: Realm) -> str:
    return f"{realm.session.state.value}/{realm.session.connection_state.value}"


class Tour:
    """Fires events at realms and writes down where each one led."""

    def __init__(self, pool: Clients, proxy: Proxy) -> None:
        self.pool = pool
        self.proxy = proxy
        self.observed: dict[tuple[str, str], str] = {}
        self.log: dict[int, list[str]] = {}
        self.errors: list[RealmJupyterError] = []

    async def open(self, name: str, **options: object) -> Realm:
        realm = await self.pool.open(ALICE.email, name,
                                     on_error=lambda r, e: self.errors.append(e), **options)
        entries = self.log.setdefault(id(realm), [])
        realm.session.add_connection_listener(
            lambda old, new: entries.append(f"{realm.session.state.value}/{new.value}"))
        realm.session.backoff = Backoff(initial=0.4, maximum=0.4, jitter=0.0)
        return realm

    def events(self, realm: Realm) -> list[str]:
        return self.log[id(realm)]

    async def fire(self, realm: Realm, state: str, event: str, action: object,
                   changes: int = 0) -> None:
        """Check ``realm`` is in ``state``, run ``action()``, record the state after the first
        connection event (or right away when ``changes`` is 0: the event is a no-op)."""
        assert combined(realm) == state, (state, event)
        seen = len(self.events(realm))
        result = action()  # type: ignore[operator]
        if result is not None:
            await result
        if changes:
            await eventually(lambda: len(self.events(realm)) >= seen + changes, what=event)
            self.observed[(state, event)] = self.events(realm)[seen]
        else:
            assert len(self.events(realm)) == seen, (state, event, self.events(realm)[seen:])
            self.observed[(state, event)] = combined(realm)

    async def observe(self, realm: Realm, seen: int, state: str, events: list[str]) -> None:
        """Record the cells of ``events``, which happen on their own, one a connection event,
        starting in ``state`` after the first ``seen`` events."""
        await eventually(lambda: len(self.events(realm)) >= seen + len(events), what=events[-1])
        for event, following in zip(events, self.events(realm)[seen:], strict=False):
            self.observed[(state, event)] = state = following

    async def connected(self, realm: Realm) -> None:
        await eventually(lambda: combined(realm) == "active/connected", what="a connection")


async def test_the_session_follows_its_spec(
        clients: Clients, demo_server: ServerUnderTest, tmp_path: Path) -> None:
    async with proxy_to(demo_server.url) as proxy:
        tour = Tour(Clients(demo_server, tmp_path / "via-proxy", url=proxy.url), proxy)
        (tmp_path / "via-proxy").mkdir()
        try:
            await walk(tour, clients, demo_server)
        finally:
            await tour.pool.aclose()
    expected = {cell: target for cell, target in TABLE.items() if target != "—"}
    assert tour.observed == expected


async def walk(tour: Tour, clients: Clients, demo_server: ServerUnderTest) -> None:
    proxy = tour.proxy
    # Opening starts the session: the same cell as resume.
    alice = await tour.open("alice")
    tour.observed[("inactive/disconnected", "resume")] = combined(alice)
    await tour.connected(alice)
    assert tour.events(alice) == ["active/connecting", "active/connected"]
    tour.observed[("active/connecting", "stream_opened")] = tour.events(alice)[1]
    await tour.fire(alice, "active/connected", "stream_opened",
                    lambda: alice.subscribe("Item", "team == 'north'"))
    await tour.fire(alice, "active/connected", "resume", alice.session.resume)
    await tour.fire(alice, "active/connected", "pause", alice.session.pause, changes=1)
    await tour.fire(alice, "inactive/disconnected", "pause", alice.session.pause)
    assert not sync_tasks(alice) or await _quiet(alice)
    await tour.fire(alice, "inactive/disconnected", "resume", alice.session.resume, changes=1)
    await tour.connected(alice)

    # A broken stream, retries, and calls made while waiting for the next retry.
    proxy.refuse = True
    seen = len(tour.events(alice))
    proxy.cut()
    await tour.observe(alice, seen, "active/connected", ["stream_broken", "retry",
                                                         "stream_broken"])
    await eventually(lambda: combined(alice) == "active/disconnected")
    await tour.fire(alice, "active/disconnected", "resume", alice.session.resume)
    await tour.fire(alice, "active/disconnected", "pause", alice.session.pause)

    # A stream that never answers stays connecting.
    proxy.refuse = False
    proxy.allow(0)
    alice.session.resume()
    await eventually(lambda: combined(alice) == "active/connecting")
    await tour.fire(alice, "active/connecting", "resume", alice.session.resume)
    await tour.fire(alice, "active/connecting", "pause", alice.session.pause, changes=1)
    proxy.allow(None)
    await tour.fire(alice, "inactive/disconnected", "close", alice.close)

    alice = await tour.open("alice")
    await tour.connected(alice)
    await tour.fire(alice, "active/connected", "close", alice.close, changes=1)
    alice = await tour.open("alice")
    await tour.connected(alice)
    alice.session.pause()
    proxy.allow(0)
    alice.session.resume()
    await eventually(lambda: combined(alice) == "active/connecting")
    await tour.fire(alice, "active/connecting", "close", alice.close, changes=1)
    proxy.allow(None)
    proxy.refuse = True
    alice = await tour.open("alice")
    await eventually(lambda: tour.events(alice)[-2:] == ["active/connecting", "active/disconnected"])
    tasks = sync_tasks(alice)
    await tour.fire(alice, "active/disconnected", "close", alice.close)
    proxy.refuse = False
    assert len(tasks) == 3 and all(task.done() for task in tasks)

    # The refresh token is refused: the session stops.
    alice = await tour.open("alice")
    await tour.connected(alice)
    alice.session.pause()
    await alice.user.log_out()
    seen = len(tour.events(alice))
    alice.session.resume()
    await tour.observe(alice, seen, "inactive/disconnected", ["resume", "auth_failed"])
    assert isinstance(tour.errors.pop(), AuthError) and not tour.errors
    await alice.close()
    tour.pool._users.pop(ALICE.email)
    await credentials_end(tour, demo_server)

    carol = await resets(tour, clients, demo_server)
    await failures(tour, carol)


async def credentials_end(tour: Tour, demo_server: ServerUnderTest) -> None:
    """The server ends a connected stream for its credentials: permissions changed (the
    token is refreshed and the stream reopened, still connected), then a log out."""
    profile = next(r for r in demo_rows()["UserProfile"] if r["user_id"] == ALICE.id)
    alice = await tour.open("alice")
    await alice.subscribe("Item", "team == 'north'")
    await tour.connected(alice)
    await alice.session.wait_for_download(20)
    seen = len(tour.events(alice))
    stale = await alice.user.access_token()
    await server_put(demo_server, "UserProfile", profile["_id"],
                     lambda d: d.update(teams=["north", "east"]))
    await eventually(lambda: alice.user._access_token != stale, what="the refresh")
    await alice.session.wait_for_download(20)  # the reopened stream serves
    assert tour.events(alice)[seen:] == [] and not tour.errors
    tour.observed[("active/connected", "reauthenticate")] = combined(alice)

    seen = len(tour.events(alice))
    await alice.user.log_out()  # the server ends this login's stream
    await tour.observe(alice, seen, "active/connected", ["auth_failed"])
    assert [type(e) for e in tour.errors] == [AuthError]
    tour.errors.clear()
    await alice.close()
    tour.pool._users.pop(ALICE.email)
    await server_put(demo_server, "UserProfile", profile["_id"],
                     lambda d: d.update(teams=["north"]))


async def failures(tour: Tour, carol: Realm) -> None:
    """A cache broken under a running session: applying a frame fails (connected), reading
    the staged bootstrap fails before the request (connecting)."""
    broken = await tour.open("broken")
    await broken.subscribe("Item", "team == 'north'")
    assert broken.sql('DROP TABLE "Item"').empty  # a user's mistake, not a query
    seen = len(tour.events(broken))
    with carol.write() as tx:
        tx.create("Item", {"owner_id": CAROL.id, "summary": "cannot land", "team": "north"})
    await carol.session.wait_for_upload(20)
    await tour.observe(broken, seen, "active/connected", ["failed"])
    await eventually(lambda: not sync_tasks(broken), what="every task to stop")
    # the cache's own error, as it is (it names the table and what failed)
    assert [type(e) for e in tour.errors] == [CacheError] and "Item" in str(tour.errors.pop())
    assert broken.session.last_error is not None
    await broken.close()

    broken = await tour.open("broken-staging")
    await tour.connected(broken)
    broken.session.pause()
    broken.sql("DROP TABLE _realm.bootstrap")
    seen = len(tour.events(broken))
    broken.session.resume()
    await tour.observe(broken, seen, "inactive/disconnected", ["resume", "failed"])
    assert [type(e) for e in tour.errors] == [CacheError] and "bootstrap" in str(tour.errors.pop())
    await broken.close()


async def resets(tour: Tour, clients: Clients, demo_server: ServerUnderTest) -> Realm:
    """A reset while connecting (history trimmed past the cursor: the error frame comes
    before ``hello``; an unknown client id: 404) and while connected (a compacting bulk
    load moves the trim point under a live stream), in automatic and manual mode."""
    fallbacks: list[ClientResetError] = []

    async def on_manual_fallback(realm: Realm, error: ClientResetError) -> None:
        await asyncio.sleep(0)  # an async callback that really awaits (yields to the loop)
        fallbacks.append(error)

    def open_pair(suffix: str) -> tuple[Any, Any]:
        return (tour.open(f"auto{suffix}"),
                tour.open(f"manual{suffix}", client_reset="manual",
                          client_reset_callbacks={"on_manual_fallback": on_manual_fallback}))

    auto, manual = [await opening for opening in open_pair("")]
    for realm in (auto, manual):
        await realm.subscribe("Item", "team == 'north'")
        realm.session.pause()
    carol = await clients.open(CAROL.email)
    await carol.subscribe("Item")
    with carol.write() as tx:
        tx.create("Item", {"owner_id": CAROL.id, "summary": "history moves on", "team": "north"})
    await carol.session.wait_for_upload(20)
    assert await demo_server.store.trim_history(int(time.time() * 1000) + 60_000) > 0
    for realm in (auto, manual):
        realm.session.resume()
    await tour.connected(auto)
    await eventually(lambda: len(fallbacks) == 1 and len(tour.errors) == 1, what="the fallback")
    assert tour.events(auto)[-4:] == ["active/connecting", "active/disconnected",
                                      "active/connecting", "active/connected"]
    assert tour.events(manual)[-2:] == ["active/connecting", "inactive/disconnected"]
    assert isinstance(tour.errors.pop(), ClientResetError) and fallbacks[0].backup_path
    assert Path(fallbacks[0].backup_path).exists()
    tour.observed[("active/connecting", "reset")] = \
        f"auto: {tour.events(auto)[-2]}; manual: {tour.events(manual)[-1]}"
    await auto.subscriptions.wait_for_synchronization(20)
    assert auto.count("Item", "summary == 'history moves on'") == 1

    auto.session.pause()  # a client id the server does not know: 404 when connecting
    with auto.cache.transaction():
        auto.cache.set_meta("client_id", "0" * 24)
    auto.session.resume()
    await tour.connected(auto)
    assert tour.events(auto)[-4:] == ["active/connecting", "active/disconnected",
                                      "active/connecting", "active/connected"]
    assert auto.client_id != "0" * 24

    auto, manual = [await opening for opening in open_pair("-live")]
    for realm in (auto, manual):
        await realm.subscribe("Order", "region == 'north'")
        await tour.connected(realm)
    big = generate(23_000)["Order"]  # over the bulk history limit: the load compacts history
    await demo_server.store.bulk_load(demo_server.service.app.schema["Order"], big)
    await eventually(lambda: len(fallbacks) == 2, what="the second fallback")
    await eventually(lambda: len(tour.events(auto)) >= 5, what="the automatic reset")
    await tour.connected(auto)
    assert tour.events(auto)[-3:] == ["active/disconnected", "active/connecting",
                                      "active/connected"]
    assert tour.events(manual)[-2:] == ["active/connected", "inactive/disconnected"]
    tour.observed[("active/connected", "reset")] = \
        f"auto: {tour.events(auto)[-2]}; manual: {tour.events(manual)[-1]}"
    await auto.subscriptions.wait_for_synchronization(20)
    await auto.session.wait_for_download(20)
    north = sum(region == "north" for region in big.column("region").to_pylist())
    assert auto.count("Order") >= north
    assert [type(e) for e in tour.errors] == [ClientResetError]
    tour.errors.clear()
    return carol


async def _quiet(realm: Realm) -> bool:
    await eventually(lambda: not sync_tasks(realm), what="no session task")
    return True


def test_the_table_names_every_state_and_event() -> None:
    assert {s.split("/")[0] for s in STATES} == {"active", "inactive"}
    assert {s.split("/")[1] for s in STATES} == {c.value for c in ConnectionState}
    assert EVENTS == ["resume", "pause", "close", "retry", "stream_opened", "stream_broken",
                      "reauthenticate", "auth_failed", "reset", "failed"]
