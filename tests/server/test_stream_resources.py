"""A client that stops reading a bootstrap, then leaves: the server's memory stays bounded
while it stalls, and its snapshot, connection, buffers and descriptors are released after."""

from __future__ import annotations

import asyncio
import os
import socket
import tracemalloc
from typing import Any

import httpx

from realm_jupyter.server import streaming
from realm_jupyter.server.session import BATCH_BYTES
from tests.support.servers import serving
from tests.support.waiting import eventually

from .conftest import TIMEOUT, FrameStream, new_client

ORDERS = 100_000  # ~19 MB of bootstrap a stream: far more than the sockets between them hold
STREAMS = 4


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fill_pool(store: Any) -> None:
    """Check out and return as many connections as the store's pool keeps idle, so that
    the pool's ordinary growth under concurrent requests cannot move the count."""
    connections = [store._acquire() for _ in range(store._pool_size)]
    for connection in connections:
        store._release(connection)


async def test_a_stalled_bootstrap_is_bounded_and_released_on_disconnect(store_url: str) -> None:
    # A small receive buffer, fixed (no autotuning): a client that reads slowly, then not.
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)])
    async with serving(store_url, demo_size=ORDERS) as server, \
            httpx.AsyncClient(timeout=TIMEOUT, transport=transport) as http:
        store, service = server.store, server.service
        clients = [await new_client(server, http, "carol") for _ in range(STREAMS)]
        for client in clients:
            await client.submit(1, {"Order": ["TRUEPREDICATE"]})
        await asyncio.to_thread(fill_pool, store)
        fds = open_fds()
        assert store.open_snapshots == 0
        tracemalloc.start()  # the frames a stream holds are Python bytes

        streams, readers = [], []  # (a reader let go of would close its response)
        for client in clients:
            stream = client.stream()
            frames: FrameStream = await stream.__aenter__()
            streams.append(stream)
            readers.append(frames)
            await frames.until(lambda h: h["t"] == "batch")  # into the bootstrap, then stop
            frames.seen.clear()  # (what the client read is not the server's memory)
        assert store.open_snapshots == STREAMS
        # Each server stream fills what its socket takes and waits: it makes at most one
        # frame ahead, and holds the Arrow data of about one driver batch and one frame.
        await eventually(lambda: len(service.streams) == STREAMS and all(
            s.waiting for s in service.streams), timeout=TIMEOUT, what="the streams to stall")
        bound = BATCH_BYTES + streaming.QUEUE_BYTES + streaming.PIECE_BYTES + 4096
        assert all(0 < s.buffered <= s.peak <= bound for s in service.streams), \
            [(s.buffered, s.peak) for s in service.streams]
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # (before the fix: ~18 MB of Python bytes a stream, beside a 23 MB driver batch)
        assert held <= STREAMS * 3 * BATCH_BYTES, f"{held:,} bytes held by {STREAMS} streams"

        for stream in streams:  # the clients go away without reading further
            await stream.__aexit__(None, None, None)
        await eventually(lambda: store.open_snapshots == 0, timeout=TIMEOUT,
                         what="the snapshots to close")
        await eventually(lambda: not service.streams and service.sessions == 0,
                         timeout=TIMEOUT, what="the streams to end")
        await eventually(lambda: open_fds() <= fds, timeout=TIMEOUT,
                         what=f"the descriptors to return to {fds}")
