"""Waiting for a condition that no event announces: another process, an HTTP answer, a clock."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import httpx

__all__ = ["eventually", "wait_healthy"]


async def eventually(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 15.0,
                     what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_healthy(url: str, process: asyncio.subprocess.Process, timeout: float = 60.0) -> None:
    """Poll ``/api/health`` until the server answers (fail early if it died)."""
    async with httpx.AsyncClient() as http:

        async def healthy() -> bool:
            if process.returncode is not None:
                assert process.stderr is not None
                raise AssertionError(f"the server died: {(await process.stderr.read()).decode()}")
            with contextlib.suppress(httpx.TransportError):
                return (await http.get(f"{url}/api/health", timeout=2)).status_code == 200
            return False

        await eventually(healthy, timeout, f"the server at {url} to start")
