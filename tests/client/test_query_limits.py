"""Subscriptions the server cannot run cheaply, seen from the client (real server, real cache)."""

from __future__ import annotations

import pytest

from realm_jupyter.client import SubscriptionSetState
from realm_jupyter.errors import SubscriptionError
from tests.client.conftest import Clients
from tests.client.support import ALICE
from tests.support.servers import ServerUnderTest


@pytest.mark.slow
async def test_a_huge_or_errors_and_a_long_in_list_syncs(
        clients: Clients, demo_server: ServerUnderTest) -> None:
    """Before: both were accepted, then every stream broke mid-bootstrap and the client
    reconnected three times a second with its set pending."""
    alice = await clients.open(ALICE.email)
    huge = " OR ".join(f"priority == {n}" for n in range(12_500))
    async with alice.subscriptions.update() as m:
        m.add("Item", huge, name="huge")
    with pytest.raises(SubscriptionError, match="at most 1,000"):
        await alice.subscriptions.wait_for_synchronization(20)
    assert alice.subscriptions.state is SubscriptionSetState.ERROR

    # 35,000 values: the client sends the canonical text ("0, 1, …"), which must stay
    # under the 256 kB limit of a subscription's text
    values = ",".join(str(n) for n in range(35_000))
    async with alice.subscriptions.update() as m:
        m.remove_by_name("huge")
        m.add("Item", f"priority IN {{{values}}}")
    await alice.subscriptions.wait_for_synchronization(20)
    everything = alice.df("Item")
    assert len(everything) > 0
    # the cache (DuckDB) runs the same list as one bound array
    assert alice.query("Item", f"priority IN {{{values}}}").equals(everything)
    assert len(alice.query("Item", f"NOT priority IN {{{values}}}")) == 0
