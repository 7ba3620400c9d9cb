"""A hypothesis state machine drives a real realm against a real server.

Rules change subscriptions (valid and rejected queries, by name or not), remove
them, wait, let another client write, and pause/resume the session. A model of
the subscriptions and of which sets are valid says what must happen; after each
wait the cache must equal the server's view of the highest valid set.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from realm_jupyter.client import Realm, SubscriptionSet, SubscriptionSetState
from realm_jupyter.errors import SubscriptionError
from tests.client.conftest import Clients
from tests.client.support import (
    ALICE,
    CAROL,
    assert_same_documents,
    expected_view,
    frame_documents,
)
from tests.support.servers import serving

T = TypeVar("T")
Matcher = Callable[[dict[str, Any]], bool]
VALID: dict[tuple[str, str], Matcher] = {
    ("Item", "status == 'open'"): lambda d: d.get("status") == "open",
    ("Item", "priority >= 4"): lambda d: (d.get("priority") or 0) >= 4,
    ("Item", "team == 'south'"): lambda d: d.get("team") == "south",
    ("Order", "region == 'north' AND status == 'shipped'"):
        lambda d: d["region"] == "north" and d["status"] == "shipped",
    ("Order", "store_id < 150"): lambda d: d["store_id"] < 150,
}
INVALID = [("Item", "summary == 'x'"), ("Item", "status == 'open' SORT(priority ASC)"),
           ("Order", "customer.city == 'Oslo'")]
NAMES = [None, "a", "b"]
LIVE = {S.value for S in SubscriptionSetState} - {"uncommitted", "superseded"}
Subscription = tuple[str | None, str, str]  # (name, type, query)


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[tuple[asyncio.Runner, Clients, Any]]:
    """A server and the demo users on one event loop that the machine's rules run on."""
    with asyncio.Runner() as runner:
        context = serving(store_url)
        server = runner.run(context.__aenter__())
        pool = Clients(server, tmp_path)
        try:
            yield runner, pool, server
        finally:
            runner.run(pool.aclose())
            runner.run(context.__aexit__(None, None, None))


def test_subscriptions_and_sync_against_a_model(world: tuple[asyncio.Runner, Clients, Any]) -> None:
    runner, pool, server = world
    names = (f"machine-{n}" for n in itertools.count())

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return runner.run(coroutine)

    def call(function: Callable[[], None]) -> None:
        """Call ``function`` on the running loop, as a notebook cell would."""
        async def inside() -> None:
            function()

        run(inside())

    carol = run(pool.open(CAROL.email))
    run(carol.subscribe("Item"))
    written: list[Any] = []

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.realm: Realm = run(pool.open(ALICE.email, next(names)))
            self.model: list[Subscription] = []
            self.sets: list[tuple[SubscriptionSet, bool, list[Subscription]]] = [
                (self.realm.subscriptions, True, [])]
            self.paused = False

        def commit(self, change: Callable[[Any], Any]) -> None:
            async def update() -> None:
                async with self.realm.subscriptions.update() as m:
                    change(m)

            run(update())
            valid = all((t, q) in VALID for _, t, q in self.model)
            self.sets.append((self.realm.subscriptions, valid, list(self.model)))

        def add_to_model(self, name: str | None, object_type: str, query: str) -> None:
            for index, (existing, t, q) in enumerate(self.model):
                if (name is not None and existing == name) or \
                        (name is None and existing is None and (t, q) == (object_type, query)):
                    self.model[index] = (name, object_type, query)
                    return
            self.model.append((name, object_type, query))

        @rule(query=st.sampled_from(sorted(VALID)), name=st.sampled_from(NAMES))
        def add_valid(self, query: tuple[str, str], name: str | None) -> None:
            self.add_to_model(name, *query)
            self.commit(lambda m: m.add(*query, name=name, update=True))

        @rule(query=st.sampled_from(INVALID))
        def add_invalid(self, query: tuple[str, str]) -> None:
            self.add_to_model(None, *query)
            self.commit(lambda m: m.add(*query))

        @precondition(lambda self: self.model)
        @rule(data=st.data())
        def remove(self, data: st.DataObject) -> None:
            name, object_type, query = data.draw(st.sampled_from(self.model))
            if name is not None:
                self.model = [s for s in self.model if s[0] != name]
                self.commit(lambda m: m.remove_by_name(name))
            else:
                self.model = [s for s in self.model if s[1:] != (object_type, query)]
                self.commit(lambda m: m.remove_by_query(object_type, query))

        @rule(team=st.sampled_from(["north", "south"]), status=st.sampled_from(["open", "done"]),
              priority=st.integers(1, 5), new=st.booleans())
        def another_client_writes(self, team: str, status: str, priority: int, new: bool) -> None:
            fields = {"team": team, "status": status, "priority": priority}
            with carol.write() as tx:
                if new or not written:
                    written.append(tx.create("Item", {"owner_id": CAROL.id, "summary": "model",
                                                      **fields}))
                else:
                    tx.update("Item", written[-1], fields)
            run(carol.session.wait_for_upload(30))

        @precondition(lambda self: not self.paused)
        @rule()
        def pause(self) -> None:
            call(self.realm.session.pause)
            self.paused = True

        @precondition(lambda self: self.paused)
        @rule()
        def resume(self) -> None:
            call(self.realm.session.resume)
            self.paused = False

        @precondition(lambda self: not self.paused)
        @rule()
        def wait(self) -> None:
            latest, valid, _ = self.sets[-1]
            if valid:
                run(latest.wait_for_synchronization(30))
            else:
                with pytest.raises(SubscriptionError, match="Invalid query"):
                    run(latest.wait_for_synchronization(30))
            active, _, queries = next(entry for entry in reversed(self.sets) if entry[1])
            run(active.wait_for_synchronization(30))
            assert active.state is SubscriptionSetState.COMPLETE
            run(self.realm.session.wait_for_download(30))
            assert self.realm.subscription_store.active.version == active.version
            for object_type in ("Item", "Order"):
                matchers = [VALID[(t, q)] for _, t, q in queries if t == object_type]
                expected = run(expected_view(server.store, ALICE.email, object_type,
                                             lambda d, ms=matchers: any(m(d) for m in ms)))
                assert_same_documents(frame_documents(object_type, self.realm.df(object_type)),
                                      expected)

        @invariant()
        def versions_and_states(self) -> None:
            latest = self.realm.subscriptions
            assert latest.version == len(self.sets) - 1  # one version per commit, no gaps
            assert [(s.name, s.object_type, s.query) for s in latest] == self.model
            assert latest.state.value in LIVE
            valid = self.sets[-1][1]
            assert latest.state is not SubscriptionSetState.ERROR or not valid
            assert latest.state is not SubscriptionSetState.COMPLETE or valid
            assert (latest.error is not None) == (latest.state is SubscriptionSetState.ERROR)

        def teardown(self) -> None:
            run(self.realm.close())

    run_state_machine_as_test(Machine, settings=settings(
        max_examples=4, stateful_step_count=10, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
