"""Sending a stream's frames with backpressure, and letting go of everything when it ends.

A bootstrap can produce frames faster than a client reads them, and a client can
stop reading altogether. So frames do not go from the producer to the socket in
one piece: the producer (the session's frame generator) cuts each frame into
pieces and puts them in a queue of at most ``QUEUE_BYTES``; the sender hands one
piece at a time to the ASGI ``send``, which waits while the socket's buffer is
full. The producer therefore waits too, holding at most one frame it has made and
not yet queued: a stalled client costs a bounded amount of server memory
(:class:`StreamStats` says how much), however large the bootstrap.

When the client goes away, the producer and sender are cancelled and the frame
generator is closed at once — its snapshot, cursors, connection and buffers with
it — rather than whenever the garbage collector finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["PIECE_BYTES", "QUEUE_BYTES", "FrameResponse", "StreamStats"]

logger = logging.getLogger(__name__)

#: Largest piece handed to the ASGI server at once (its transport buffers about one).
PIECE_BYTES = 64 << 10
#: Bytes queued between the producer and the socket, at most.
QUEUE_BYTES = 1 << 20


@dataclass(eq=False)
class StreamStats:
    """What one open stream holds: bytes made by its producer that the socket has not
    yet taken (``buffered``, and its ``peak``), and whether the producer is waiting for it."""

    buffered: int = 0
    peak: int = 0
    waiting: bool = False

    def add(self, size: int) -> None:
        self.buffered += size
        self.peak = max(self.peak, self.buffered)


class FrameResponse(Response):
    """A never-ending ``application/x-ndjson`` response of frames, with backpressure.

    ``streams`` holds the :class:`StreamStats` of every response being sent.
    """

    media_type = "application/x-ndjson"

    def __init__(self, frames: AsyncGenerator[bytes, None], streams: set[StreamStats],
                 headers: Mapping[str, str] | None = None) -> None:
        self.frames = frames
        self.streams = streams
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stats = StreamStats()
        self.streams.add(stats)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_BYTES // PIECE_BYTES)
        producer = asyncio.create_task(self._produce(queue, stats), name="realm-stream-produce")
        sender = asyncio.create_task(self._deliver(queue, stats, send), name="realm-stream-send")
        watcher = asyncio.create_task(_disconnected(receive), name="realm-stream-disconnect")
        tasks = (producer, sender, watcher)
        try:
            pending = set(tasks)
            while sender in pending and watcher in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                failure = producer.exception() if producer in done else None
                if failure is not None:  # the sender would wait for pieces that never come
                    raise failure
        finally:
            for task in tasks:
                task.cancel()
            # Clean-up never raises: a producer's failure was raised above, and a send that
            # failed means the client is gone, which is how every stream ends.
            try:
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
                for task, outcome in zip(tasks, outcomes, strict=True):
                    if isinstance(outcome, Exception) and task is not producer:
                        logger.debug("stream %s ended: %s", task.get_name(), outcome)
            finally:
                self.streams.discard(stats)

    async def _produce(self, queue: asyncio.Queue[bytes | None], stats: StreamStats) -> None:
        async with contextlib.aclosing(self.frames) as frames:
            async for frame in frames:
                stats.add(len(frame))
                for start in range(0, len(frame), PIECE_BYTES):
                    piece = frame[start : start + PIECE_BYTES] if len(frame) > PIECE_BYTES \
                        else frame
                    if queue.full():
                        stats.waiting = True
                    await queue.put(piece)
                    stats.waiting = False
                del frame, piece  # hold nothing while the next frame is made
        await queue.put(None)

    async def _deliver(self, queue: asyncio.Queue[bytes | None], stats: StreamStats,
                       send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        while (piece := await queue.get()) is not None:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            stats.buffered -= len(piece)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
