"""In-process fan-out of store events to every waiting session.

Each subscription has its own unbounded queue and is registered the moment it is
created, so nothing published after ``subscribe()`` returns can be missed.
Publishing never blocks. The PostgreSQL store feeds this from ``LISTEN``, so
events from other processes reach local sessions the same way.
"""

from __future__ import annotations

import asyncio

from .base import Event

__all__ = ["Broadcaster", "Subscription"]


class Subscription:
    """Events published since this subscription was made, in order."""

    def __init__(self, broadcaster: Broadcaster) -> None:
        self._broadcaster = broadcaster
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        broadcaster._queues.add(self._queue)

    async def get(self) -> Event:
        return await self._queue.get()

    def close(self) -> None:
        self._broadcaster._queues.discard(self._queue)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Broadcaster:
    """Deliver each published event to every current subscription."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        for queue in list(self._queues):
            queue.put_nowait(event)

    def subscribe(self) -> Subscription:
        return Subscription(self)

    @property
    def subscriber_count(self) -> int:
        return len(self._queues)
