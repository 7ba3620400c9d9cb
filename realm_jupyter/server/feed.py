"""The history feed: recent history read once per process and shared by every session.

When a write lands, every connected session wants the same few entries. The feed
reads them from the store once (single flight), decodes their documents once,
and keeps the most recent ``capacity`` entries in memory; a session that is far
behind reads older history from the store directly.
"""

from __future__ import annotations

import asyncio
import bisect

from ..schema import Schema
from .storage import Store
from .views import FeedEntry

__all__ = ["HistoryFeed"]

PAGE = 5_000


class HistoryFeed:
    """Caches history versions ``(start, loaded_through]`` (versions can have gaps)."""

    def __init__(self, store: Store, schema: Schema, capacity: int = 50_000) -> None:
        self.store = store
        self.schema = schema
        self.capacity = capacity
        self._versions: list[int] = []
        self._entries: dict[int, FeedEntry] = {}
        self._start: int | None = None
        self._loaded_through = 0
        self._lock = asyncio.Lock()

    async def read(self, after: int, latest: int) -> list[FeedEntry]:
        """Entries with ``after < version <= latest``, oldest first, at most one page."""
        if after >= latest:
            return []
        async with self._lock:
            if self._start is None:
                self._start = self._loaded_through = after
            if after >= self._start:
                await self._load(latest)
            # Loading may evict what ``after`` needs (a burst of writes larger than the
            # cache): then this reader goes to the store like any reader that far behind.
            if after >= self._start:
                first = bisect.bisect_right(self._versions, after)
                last = bisect.bisect_right(self._versions, latest, lo=first)
                return [self._entries[v] for v in self._versions[first : min(last, first + PAGE)]]
        entries = await self.store.history(after, PAGE)
        return [FeedEntry.decode(self.schema, e) for e in entries if e.version <= latest]

    async def _load(self, latest: int) -> None:
        while self._loaded_through < latest:
            entries = await self.store.history(self._loaded_through, PAGE)
            for entry in entries:
                if entry.version not in self._entries:
                    self._versions.append(entry.version)
                    self._entries[entry.version] = FeedEntry.decode(self.schema, entry)
            if len(entries) < PAGE:
                self._loaded_through = max(latest, entries[-1].version if entries else latest)
            else:
                self._loaded_through = entries[-1].version
        excess = len(self._versions) - self.capacity
        if excess > self.capacity // 10:
            for version in self._versions[:excess]:
                del self._entries[version]
            self._start = self._versions[excess - 1]
            del self._versions[:excess]
