"""A TCP proxy on loopback that the tests can cut: real sockets, real disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit


class Proxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; ``cut()`` drops every open connection,
    ``refuse = True`` closes new ones at once, and ``allow(n)`` lets only ``n`` more bytes
    flow from the server to the client (``allow(None)``: no limit). ``attempts`` holds the
    accept times. ``cut_at_random(rng, low, high)`` drops each new connection once it has
    carried a random ``low``–``high`` bytes from the server; ``downloaded`` counts the
    bytes that reached the client."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", int(parts.port or 80))
        self.refuse = False
        self.budget: int | None = None
        self._budget_changed = asyncio.Event()
        self.attempts: list[float] = []
        self.downloaded = 0
        self._cuts: tuple[random.Random, int, int] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts.append(time.monotonic())
        if self.refuse:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        limit = None
        if self._cuts is not None:
            rng, low, high = self._cuts
            limit = rng.randint(low, high)

        def drop() -> None:
            for end in (writer, up_writer):
                with contextlib.suppress(Exception):
                    end.transport.abort()

        for source, sink, metered in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.create_task(self._pipe(source, sink, metered,
                                                  limit if metered else None, drop))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def allow(self, budget: int | None) -> None:
        self.budget = budget
        self._budget_changed.set()
        self._budget_changed = asyncio.Event()

    def cut_at_random(self, rng: random.Random | None, low: int = 0, high: int = 0) -> None:
        """Cut every connection opened from now on after ``rng.randint(low, high)`` bytes
        from the server (``None``: stop cutting)."""
        self._cuts = None if rng is None else (rng, low, high)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    metered: bool, limit: int | None = None,
                    drop: Callable[[], None] | None = None) -> None:
        try:
            while data := await source.read(65536):
                if limit is not None and len(data) >= limit:
                    sink.write(data[:limit])
                    self.downloaded += limit
                    await sink.drain()
                    assert drop is not None
                    drop()
                    return
                if limit is not None:
                    limit -= len(data)
                if metered:
                    self.downloaded += len(data)
                while data:
                    while metered and self.budget is not None and self.budget <= 0:
                        await self._budget_changed.wait()
                    size = len(data) if not metered or self.budget is None \
                        else min(len(data), self.budget)
                    if metered and self.budget is not None:
                        self.budget -= size
                    sink.write(data[:size])
                    await sink.drain()
                    data = data[size:]
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            sink.close()

    def cut(self) -> None:
        """Drop every open connection (both directions)."""
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def aclose(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def proxy_to(url: str) -> AsyncIterator[Proxy]:
    proxy = await Proxy(url).start()
    try:
        yield proxy
    finally:
        await proxy.aclose()
