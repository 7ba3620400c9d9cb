"""Slow and idle clients over a real loopback server: they are closed, and others are answered.

About a thousand sockets that connect and say nothing, send half their headers or half
their body once stopped the server answering anyone. With small limits configured,
two hundred of them here must all be closed by the server, and a normal request answered.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from realm_jupyter.server.runner import ServerLimits
from tests.support.servers import ServerUnderTest, serving
from tests.support.waiting import eventually

from .conftest import USERS, new_client, server_put

STALLED = 200
LIMITS = ServerLimits(max_connections=40, header_timeout=0.5, keep_alive_timeout=0.5,
                      body_timeout=0.5)


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends before it closes the connection."""
    try:
        return await asyncio.wait_for(reader.read(), timeout=30)
    except ConnectionResetError:
        return b""


async def test_stalled_connections_are_closed_and_others_answered(
        tmp_path: Path, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "realm_jupyter")
    async with serving(f"sqlite:///{tmp_path / 'store.sqlite3'}", limits=LIMITS,
                       body_timeout=LIMITS.body_timeout) as server:
        alice = await new_client(server, http, "alice")  # a stream open across every deadline
        await alice.submit(1, {"Item": ["TRUEPREDICATE"]})
        async with alice.stream() as frames:
            await alice.sync(frames)
            answers = await stall(server, STALLED)
            pk = "66aa000000000000000000c1"
            version = await server_put(server, "Item", pk, document={
                "_id": pk, "owner_id": USERS["alice"].id, "summary": "after the stall",
                "status": "open", "priority": 1, "team": "north", "tags": []})
            await frames.until(lambda h: h["t"] == "changes" and h["server_version"] >= version)
        assert any(b" 408 " in answer for answer in answers)
        for _ in range(3):  # keep-alive requests are answered, one after another
            health = await http.get(f"{server.url}/api/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
        assert len(server.running.server.server_state.connections) <= 2  # just ours
    assert any("sent no complete request headers" in r.getMessage() for r in caplog.records)


async def stall(server: ServerUnderTest, count: int) -> list[bytes]:
    """Open ``count`` idle or half-sent connections; what each got before the server closed it."""
    address = urlsplit(server.url)
    login = f"/api/client/v2.0/app/{server.app_id}/auth/providers/local-userpass/login"
    openers = [
        b"",  # connects and says nothing
        b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers never finish
        (f"POST {login} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 1000\r\n\r\n{\"username\": ").encode(),  # the body never finishes
    ]
    stalled = []
    for n in range(count):
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        writer.write(openers[n % 3])
        await writer.drain()
        stalled.append((n % 3, reader, writer))
    answers = await asyncio.gather(*(until_closed(reader) for _, reader, _ in stalled))
    for (kind, _, writer), answer in zip(stalled, answers, strict=True):
        writer.close()
        if kind == 2:  # answered 408 (or 503 past the cap) before being closed, or cut
            assert answer == b"" or answer.split(b" ", 2)[1] in (b"408", b"503"), answer
        else:
            assert answer == b"", answer
    return answers


async def test_past_the_cap_requests_get_503_and_connections_are_closed_at_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "realm_jupyter")
    limits = ServerLimits(max_connections=4, header_timeout=60)  # hard cap: 4 + 1 + 8 = 13
    async with serving(f"sqlite:///{tmp_path / 'store.sqlite3'}", demo_size=None,
                       limits=limits) as server:
        address = urlsplit(server.url)
        connections = server.running.server.server_state.connections
        idle = [await asyncio.open_connection(address.hostname, address.port) for _ in range(5)]
        await eventually(lambda: len(connections) == 5, what="five idle connections")
        async with httpx.AsyncClient(timeout=20) as http:
            busy = await http.get(f"{server.url}/api/health")
        assert busy.status_code == 503
        more = [await asyncio.open_connection(address.hostname, address.port) for _ in range(12)]
        refused = await asyncio.gather(*(until_closed(reader) for reader, _ in more[8:]))
        assert refused == [b""] * 4  # the fourteenth connection on: closed at once
        assert len(connections) == 13
        for _, writer in idle + more:
            writer.close()
        await eventually(lambda: not connections, what="the server to see them go")
        async with httpx.AsyncClient(timeout=20) as http:
            assert (await http.get(f"{server.url}/api/health")).status_code == 200
    messages = [r.getMessage() for r in caplog.records]
    assert any("answered 503" in m and "--max-connections 4" in m for m in messages), messages
    assert any(m.startswith("refused 1 connection(s): 14 are open") for m in messages), messages
