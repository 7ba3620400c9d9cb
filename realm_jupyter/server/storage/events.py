"""In-process fan-out of store events to every waiting session.

Each subscription has its own unbounded queue and is registered the moment it is
created, so nothing published after ``subscribe()`` returns can be missed.
Publishing never blocks. The PostgreSQL store feeds this from ``LISTEN``, so
events from other processes reach local sessions the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .base import Event

__all__ = ["Broadcaster", "Subscription"]


class Subscription:
    """Events published since this subscription was made, in order."""

    def __init__(self, broadcaster: Broadcaster) -> None:
        self._broadcaster = broadcaster
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._watcher: Callable[[Event], None] | None = None
        broadcaster._subscriptions.add(self)

    async def get(self) -> Event:
        return await self._queue.get()

    def watch(self, callback: Callable[[Event], None]) -> None:
        """Also call ``callback(event)`` at once when an event is published.

        For what must be known before the queue is read: a stream in the middle of a
        bootstrap reads no events, yet must stop at once when its login is revoked.
        """
        self._watcher = callback

    def _deliver(self, event: Event) -> None:
        if self._watcher is not None:
            self._watcher(event)
        self._queue.put_nowait(event)

    def close(self) -> None:
        self._broadcaster._subscriptions.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Broadcaster:
    """Deliver each published event to every current subscription."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def publish(self, event: Event) -> None:
        for subscription in list(self._subscriptions):
            subscription._deliver(event)

    def subscribe(self) -> Subscription:
        return Subscription(self)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
