"""``docs/spec/subscriptions.md`` is the code: every (state, event) cell, on a real cache file."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from realm_jupyter.cache import Cache
from realm_jupyter.client.subscriptions import (
    TRANSITIONS,
    SubscriptionEvent,
    SubscriptionSetState,
    SubscriptionStore,
    next_state,
)
from tests.client.spec import read_table

STATES, EVENTS, TABLE = read_table("subscriptions.md", "transitions")
S = SubscriptionSetState


def test_the_document_and_the_code_have_the_same_table() -> None:
    assert set(STATES) == {s.value for s in S} - {"uncommitted"}
    assert set(EVENTS) == {e.value for e in SubscriptionEvent}
    assert {(s.value, e.value): t.value for (s, e), t in TRANSITIONS.items()} == TABLE
    for (state, event), target in TABLE.items():
        assert next_state(S(state), SubscriptionEvent(event)) is S(target)


def path_to(target: str) -> list[str]:
    """The shortest list of events that takes a fresh ``pending`` set to ``target``
    (``connected_empty`` only ever happens to version 0, so paths avoid it)."""
    queue: deque[tuple[str, list[str]]] = deque([("pending", [])])
    seen = {"pending"}
    while queue:
        state, events = queue.popleft()
        if state == target:
            return events
        for event in (e for e in EVENTS if e != "connected_empty"):
            following = TABLE[(state, event)]
            if following not in seen:
                seen.add(following)
                queue.append((following, [*events, event]))
    raise AssertionError(f"{target} cannot be reached from pending")


@pytest.mark.parametrize(("state", "event"), sorted(TABLE))
def test_every_cell_on_a_persisted_store(tmp_path: Path, state: str, event: str) -> None:
    cache = Cache(tmp_path / "cache.duckdb")
    try:
        store = SubscriptionStore(cache)
        version = store.commit([], snapshot_client_version=0)
        store.commit([], snapshot_client_version=0)  # a newer set is pending meanwhile
        for step in path_to(state):
            store.apply(version, SubscriptionEvent(step), error="refused" if step == "rejected"
                        else None)
        assert store.state(version) is S(state)
        store.apply(version, SubscriptionEvent(event), error="refused")
        expected = S(TABLE[(state, event)])
        assert store.state(version) is expected
        if expected is S.ERROR:
            assert store.get(version) is not None and store.get(version).error == "refused"
        if "bootstrap_end" in path_to(state) or expected is S.AWAITING_MARK:
            assert store.state(0) is S.SUPERSEDED  # older versions went with it
            if expected in (S.AWAITING_MARK, S.COMPLETE):
                assert store.active.version == version
        assert store.state(version + 1) is S.PENDING
    finally:
        cache.close()
    reopened = Cache(tmp_path / "cache.duckdb")
    try:
        assert SubscriptionStore(reopened).state(version) is expected
    finally:
        reopened.close()
