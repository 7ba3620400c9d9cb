"""The processes of a benchmark run: a PostgreSQL cluster, sync servers and client workers.

Every party runs in its own process, as in a real deployment: the server in one
(``benchmarks.server``), each measured client in another (``benchmarks.worker``),
so no one shares a GIL or an event loop with what it measures, and a client's
peak RSS is its own. Workers talk to the orchestrator in JSON lines on stdout
that start with ``@@`` (anything else they print is passed through to stderr);
interactive workers (B2) read commands from stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "REPO_ROOT",
    "BenchError",
    "PostgresHandle",
    "ServerProcess",
    "Worker",
    "process_cpu_seconds",
    "run_worker",
    "start_postgres",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
MARK = "@@"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class BenchError(Exception):
    """A benchmark could not be measured (the message says why, in one line)."""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO_ROOT), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # fields from the third ("state") on


def process_cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of a process (and of its reaped children), from ``/proc``."""
    try:
        fields = _stat_fields(pid)
    except (OSError, ValueError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICKS


def _children_cpu_seconds(parent: int) -> float:
    """CPU of ``parent`` with its reaped children plus its live children (PostgreSQL backends)."""
    total = process_cpu_seconds(parent, children=True)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
        except (OSError, ValueError):
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PostgresHandle:
    """A throwaway cluster (``tests.support.postgres``) with one database for the run."""

    cluster: Any
    url: str
    version: str

    def cpu_seconds(self) -> float:
        """CPU used so far by the cluster: the postmaster and every backend, live or gone."""
        try:
            pid = int((Path(self.cluster.root) / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        return _children_cpu_seconds(pid)

    def stop(self) -> None:
        self.cluster.stop()


def start_postgres(database: str = "realm_bench") -> PostgresHandle:
    """Start a cluster from the Debian binaries (fsync off, as the tests run it)."""
    import psycopg

    from tests.support.postgres import PostgresCluster

    try:
        cluster = PostgresCluster().start()
    except Exception as error:
        raise BenchError(f"cannot start PostgreSQL: {error}") from error
    try:
        url = cluster.create_database(database)
        with psycopg.connect(url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        version = str(row[0]) if row else "unknown"
    except BaseException:
        cluster.stop()
        raise
    return PostgresHandle(cluster, url, version)


# --------------------------------------------------------------------------- servers


@dataclass
class ServerProcess:
    """``python -m benchmarks.server`` on a free loopback port."""

    store_url: str
    demo_size: int
    log_path: Path
    batch_rows: int | None = None
    port: int = 0
    process: asyncio.subprocess.Process | None = None
    start_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid) if self.process is not None else 0.0

    async def start(self, timeout: float) -> None:
        """Start and wait until it answers ``/api/health`` (seeding happens before that)."""
        from realm_jupyter.server.runner import free_port

        self.port = free_port()
        started = time.monotonic()
        extra = ["--batch-rows", str(self.batch_rows)] if self.batch_rows else []
        log = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.server", "--store", self.store_url,
                "--demo-size", str(self.demo_size), "--port", str(self.port), *extra,
                cwd=REPO_ROOT, env=_env(), stdin=asyncio.subprocess.DEVNULL, stdout=log,
                stderr=log)
        finally:
            log.close()
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if self.process.returncode is not None:
                    raise BenchError(f"the server exited during start-up ({self.log_tail()})")
                if time.monotonic() - started > timeout:
                    await self.stop()
                    raise BenchError(f"the server was not ready within {timeout:.0f} s "
                                     f"(seeding {self.demo_size:,} documents)")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.url}/api/health")).status_code == 200:
                        break
                await asyncio.sleep(0.25)
        self.start_seconds = time.monotonic() - started

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def log_tail(self, lines: int = 1) -> str:
        """The last meaningful line(s) of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(text[-lines:]) if text else "empty log"

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


# --------------------------------------------------------------------------- workers


@dataclass
class Worker:
    """A running ``benchmarks.worker``: send it commands, read its ``@@`` messages."""

    process: asyncio.subprocess.Process
    task: str
    messages: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    stderr_tail: list[str] = field(default_factory=list)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith(MARK):
                await self.messages.put(json.loads(line[len(MARK):]))
            elif line:
                print(f"  [{self.task}] {line}", file=sys.stderr)
        await self.messages.put({"eof": True})

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.stderr_tail = [*self.stderr_tail[-30:], line]

    async def receive(self, timeout: float) -> dict[str, Any]:
        """The next message; a worker that died or timed out is a :class:`BenchError`."""
        try:
            message = await asyncio.wait_for(self.messages.get(), timeout)
        except TimeoutError:
            await self.kill()
            raise BenchError(f"worker {self.task!r} did not answer within {timeout:.0f} s") from None
        if message.get("eof"):
            await self.process.wait()
            await asyncio.gather(*self._readers, return_exceptions=True)
            detail = next((line for line in reversed(self.stderr_tail) if line.strip()), "")
            raise BenchError(f"worker {self.task!r} exited ({self.process.returncode}) "
                             f"without an answer: {detail[:300]}")
        if "error" in message:
            raise BenchError(f"worker {self.task!r}: {message['error']}")
        return message

    async def send(self, command: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()

    async def finish(self, timeout: float = 30) -> None:
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.kill()
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def start_worker(task: str, job: Mapping[str, Any]) -> Worker:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.worker", task, json.dumps(job), cwd=REPO_ROOT,
        env=_env(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, limit=2**26)
    worker = Worker(process, task)
    worker._readers = [asyncio.create_task(worker._read_stdout()),
                       asyncio.create_task(worker._read_stderr())]
    return worker


@contextlib.asynccontextmanager
async def worker(task: str, job: Mapping[str, Any]) -> AsyncIterator[Worker]:
    """A worker that is killed if still running when the block ends."""
    running = await start_worker(task, job)
    try:
        yield running
    finally:
        await running.kill()
        await asyncio.gather(*running._readers, return_exceptions=True)


async def run_worker(task: str, job: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """Run a one-shot worker and return its result message."""
    async with worker(task, job) as running:
        result = await running.receive(timeout)
        await running.finish()
        return result
