"""A server that fails while serving a stream ends it with an error frame; the client
reports that once and backs off instead of reconnecting in a loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from realm_jupyter.client import SubscriptionSetState
from realm_jupyter.client.backoff import Backoff
from realm_jupyter.errors import RealmJupyterError, ServerUnavailableError
from realm_jupyter.server import session as server_session
from tests.client.conftest import Clients
from tests.client.support import ALICE
from tests.support.servers import ServerUnderTest
from tests.support.waiting import eventually


class RecordingBackoff(Backoff):
    """Records the step each reconnect delay was computed at."""

    def __init__(self) -> None:
        super().__init__(initial=0.02, maximum=0.3)
        self.steps: list[int] = []

    def next_delay(self, retry_after: float | None = None) -> float:
        self.steps.append(self.attempts)
        return super().next_delay(retry_after)


async def test_a_failing_stream_is_reported_once_and_backed_off(
        clients: Clients, demo_server: ServerUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    failures: list[int] = []
    original = server_session.StreamSession._bootstrap

    async def broken(self: Any, target: Any, kind: str) -> AsyncIterator[bytes]:
        failures.append(1)
        raise RuntimeError("injected bootstrap failure")
        yield b""  # pragma: no cover — makes this an async generator like the original

    errors: list[RealmJupyterError] = []
    alice = await clients.open(ALICE.email, on_error=lambda realm, error: errors.append(error))
    backoff = alice.session.backoff = RecordingBackoff()
    monkeypatch.setattr(server_session.StreamSession, "_bootstrap", broken)
    await alice.subscribe("Item", "team == 'north'", wait="never")

    await eventually(lambda: len(failures) >= 5, what="five failed streams")
    # The backoff kept growing across the failed streams (it is not reset by each
    # stream's hello), and the failure reached the error handler once.
    steps = backoff.steps[:4]
    assert steps == sorted(steps) and steps[-1] >= 3, backoff.steps
    reported = [e for e in errors if isinstance(e, ServerUnavailableError)]
    assert len(reported) == 1
    assert reported[0].code == 201
    assert "failed while serving this stream (RuntimeError)" in str(reported[0])
    assert "\n" not in str(reported[0])
    assert alice.session.last_error is not None

    monkeypatch.setattr(server_session.StreamSession, "_bootstrap", original)
    await eventually(lambda: alice.subscriptions.state is SubscriptionSetState.COMPLETE,
                     what="the subscription to complete once the server works again")
    assert len([e for e in errors if isinstance(e, ServerUnavailableError)]) == 1
