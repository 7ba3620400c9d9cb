"""Child processes for the client tests (see ``tests/client/child.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.client.child", *args, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def read_line(process: asyncio.subprocess.Process, timeout: float = 60.0) -> str:
    """The child's next line of output (its stderr in the failure when it died instead)."""
    assert process.stdout is not None and process.stderr is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    if not line:
        error = await process.stderr.read()
        raise AssertionError(f"the child process ended: {error.decode()[-2000:]}")
    return line.decode().strip()


async def kill(process: asyncio.subprocess.Process) -> None:
    """``kill -9`` and reap."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()


@contextlib.asynccontextmanager
async def child(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await spawn(*args)
    try:
        yield process
    finally:
        await kill(process)
