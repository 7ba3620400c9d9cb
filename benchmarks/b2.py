"""B2 change latency: a write on one client → applied in each of K readers' caches.

Processes: the server, one writer, and the K readers split over a few reader
processes (at most ``READERS_PER_PROCESS`` each: one event loop and one httpx
pool serve them, as a notebook kernel would serve several realms).

All of them subscribe to ``store_id == 999``, which matches no generated Order;
the writer creates one such Order and then sets its ``quantity`` again and again,
noting the monotonic clock just before each write and, once the server acknowledged
it, the server version it got (a ``sync/mark`` right after the ack; nobody else
writes). The next write goes only when every reader holds the last one (plus a
short jittered pause), so a sample never includes waiting behind an earlier write. Each reader's change
listener (it fires after the change is applied in DuckDB) notes the clock and the
session's server version. ``CLOCK_MONOTONIC`` is one clock for every process on the
machine, so latency = first time a reader holds a version ≥ the write's − the time
of the write. The baseline is the p50 of ``GET /api/health`` over the same loopback
from the writer process, measured at the start of each round.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

from .clients import emit, log_in, open_realm, read_command
from .processes import BenchError, ServerProcess, Worker, process_cpu_seconds, start_worker
from .results import Result, Section
from .stats import Series, percentile

__all__ = ["QUERY", "b2_results", "b2_section", "reader_worker", "run_b2", "writer_worker"]

QUERY = "store_id == 999"
READERS_PER_PROCESS = 25
HEALTH_SAMPLES = 50
#: Longest wait for every reader to hold a write before the next one goes anyway.
WRITE_TIMEOUT = 30.0


# --------------------------------------------------------------------------- worker side


async def writer_worker(job: dict[str, Any]) -> None:
    import datetime as dt
    import decimal

    app, user = await log_in(job["url"])
    realm = await open_realm(user, Path(job["cache"]))
    try:
        await realm.subscribe("Order", QUERY, timeout=job["timeout"])
        with realm.write() as tx:
            pk = tx.create("Order", {
                "region": "north", "store_id": 999, "status": "placed", "channel": "web",
                "amount": decimal.Decimal("1.00"), "quantity": 0, "discount": 0.0,
                "is_gift": False, "ordered_at": dt.datetime(2025, 6, 30, tzinfo=dt.UTC),
                "customer": {"name": "Bench Mark", "city": "Oslo", "country": "Norway"},
                "skus": ["SKU-00001"]})
        await realm.session.wait_for_upload(job["timeout"])
        emit({"ready": True})
        http = realm.transport.http
        health_url = f"{job['url']}/api/health"
        value = 0
        while True:
            command = await read_command()
            if "health" in command:
                for _ in range(5):  # warm the connection up
                    await http.get(health_url)
                health = []
                for _ in range(int(command["health"])):
                    started = time.perf_counter()
                    await http.get(health_url)
                    health.append(time.perf_counter() - started)
                emit({"health": health})
            elif "write" in command:
                value += 1
                started = time.monotonic_ns()
                with realm.write() as tx:
                    tx.update("Order", pk, {"quantity": value})
                committed = time.monotonic_ns()
                await realm.session.wait_for_upload(job["timeout"])
                acked = time.monotonic_ns()
                mark = await realm.authed("POST", "sync/mark", {"client_id": realm.client_id})
                emit({"write": [started, int(mark["server_version"])],
                      "steps": [committed - started, acked - started]})
            else:
                return
    finally:
        await realm.close()
        await app.aclose()


def _note_arrivals() -> dict[Any, int]:
    """When each stream task last received a ``changes`` frame (wraps ``read_frames`` here)."""
    from realm_jupyter.client import transport

    original = transport.read_frames
    arrivals: dict[Any, int] = {}

    async def read_frames(chunks: Any) -> Any:
        async for header, payload in original(chunks):
            if header["t"] == "changes":
                arrivals[asyncio.current_task()] = time.monotonic_ns()
            yield header, payload

    transport.read_frames = read_frames  # type: ignore[assignment]
    return arrivals


async def reader_worker(job: dict[str, Any]) -> None:
    arrivals = _note_arrivals()
    app, user = await log_in(job["url"])
    cache_dir = Path(job["cache_dir"])
    realms = []
    try:
        for index in range(int(job["count"])):
            realms.append(await open_realm(user, cache_dir / f"reader-{job['first'] + index}.duckdb"))
        await asyncio.gather(*(realm.subscribe("Order", QUERY, timeout=job["timeout"])
                               for realm in realms))
        events: list[tuple[int, int, int, int]] = []
        sessions = [realm.session for realm in realms]
        reported = [min(session.server_version for session in sessions)]

        def seen(types: set[str], index: int, session: Any) -> None:
            now = time.monotonic_ns()  # the listener runs in the stream task, after the apply
            events.append((index, now, session.server_version,
                           arrivals.get(asyncio.current_task(), now)))
            lowest = min(s.server_version for s in sessions)
            if lowest > reported[0]:  # every realm of this process has it: tell the orchestrator
                reported[0] = lowest
                emit({"caught_up": lowest})

        for index, session in enumerate(sessions):
            session.add_change_listener(
                lambda types, index=index, session=session: seen(types, index, session))
        emit({"ready": True})
        cpu = time.process_time()
        await read_command()  # stop
        emit({"events": events, "cpu": time.process_time() - cpu})
    finally:
        for realm in realms:
            await realm.close()
        await app.aclose()


# --------------------------------------------------------------------------- orchestrator side


class Samples:
    """Latencies of one round, in ms: end to end, and split at the reader's frame arrival."""

    def __init__(self) -> None:
        self.every: list[float] = []  # write → applied in a reader's cache (the B2 number)
        self.slowest: list[float] = []  # per write: the last reader to have it
        self.to_frame: list[float] = []  # write → the changes frame arrived at the reader
        self.apply: list[float] = []  # frame arrived → applied (listener fired)
        self.missed = 0


def latencies(writes: list[list[int]], events: dict[int, list[tuple[int, int, int]]],
              readers: int) -> Samples:
    """Match each write with the first moment each reader held its server version or later."""
    timelines = {}
    for reader, seen in events.items():
        seen.sort()
        times, best, arrived, high = [], [], [], 0
        for at, version, arrival in seen:
            high = max(high, version)
            times.append(at)
            best.append(high)
            arrived.append(arrival)
        timelines[reader] = (times, best, arrived)
    samples = Samples()
    for started, version in writes:
        worst = 0.0
        for reader in range(readers):
            times, best, arrived = timelines.get(reader, ([], [], []))
            position = bisect.bisect_left(best, version)
            if position == len(best):
                samples.missed += 1
                continue
            latency = (times[position] - started) / 1e6
            samples.every.append(latency)
            samples.to_frame.append((arrived[position] - started) / 1e6)
            samples.apply.append((times[position] - arrived[position]) / 1e6)
            worst = max(worst, latency)
        samples.slowest.append(worst)
    return samples


class B2Outcome:
    def __init__(self, backend: str, readers: int) -> None:
        self.backend = backend
        self.readers = readers
        self.p50 = Series("ms")
        self.p99 = Series("ms")
        self.all_p50 = Series("ms")
        self.health = Series("ms")
        self.to_frame = Series("ms")
        self.apply = Series("ms")
        self.commit_p50 = math.nan
        self.ack_p50 = math.nan
        self.samples = 0
        self.writes = 0
        self.missed = 0
        self.setup_seconds = 0.0
        self.maximum = 0.0
        self.server_cpu = 0.0
        self.writer_cpu = 0.0
        self.readers_cpu = 0.0


async def run_b2(*, backend: str, server: ServerProcess, readers: int, writes: int, rounds: int,
                 workdir: Path, timeout: float) -> B2Outcome:
    """One write at a time: the next goes once every reader has the last (or after a timeout).

    Latency, not throughput (that is B3): pacing keeps deliveries from queueing behind
    each other, so each sample is one write's way from the writer to a reader's cache.
    """
    outcome = B2Outcome(backend, readers)
    cache_dir = workdir / f"b2-{backend}-{readers}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    processes: list[Worker] = []
    pumps: list[asyncio.Task[dict[str, Any]]] = []
    rng = random.Random(readers)
    try:
        writer = await start_worker("b2_writer", {"url": server.url, "timeout": timeout,
                                                  "cache": str(cache_dir / "writer.duckdb")})
        processes.append(writer)
        await writer.receive(timeout)
        groups = math.ceil(readers / READERS_PER_PROCESS)
        sizes = [readers // groups + (1 if g < readers % groups else 0) for g in range(groups)]
        firsts = [sum(sizes[:g]) for g in range(groups)]
        reader_workers = [await start_worker("b2_reader", {
            "url": server.url, "count": size, "first": first, "cache_dir": str(cache_dir),
            "timeout": timeout}) for size, first in zip(sizes, firsts, strict=True)]
        processes.extend(reader_workers)
        await asyncio.gather(*(r.receive(timeout) for r in reader_workers))
        outcome.setup_seconds = time.monotonic() - started
        caught_up = [0] * groups
        progress = asyncio.Event()

        async def pump(group: int, reader: Worker) -> dict[str, Any]:
            while True:
                message = await reader.receive(3600)
                if "caught_up" not in message:
                    return message
                caught_up[group] = max(caught_up[group], int(message["caught_up"]))
                progress.set()

        pumps = [asyncio.create_task(pump(g, r)) for g, r in enumerate(reader_workers)]
        per_round = max(writes // rounds, 1)
        rounds_writes = []
        commit_ms: list[float] = []
        ack_ms: list[float] = []
        server_cpu, writer_cpu = server.cpu_seconds(), process_cpu_seconds(writer.pid)
        for _ in range(rounds):
            await writer.send({"health": HEALTH_SAMPLES})
            outcome.health.add(percentile((await writer.receive(timeout))["health"], 50) * 1000)
            round_writes = []
            for _ in range(per_round):
                await writer.send({"write": True})
                answer = await writer.receive(timeout)
                written, version = answer["write"]
                round_writes.append([written, version])
                commit_ms.append(answer["steps"][0] / 1e6)
                ack_ms.append(answer["steps"][1] / 1e6)
                deadline = time.monotonic() + WRITE_TIMEOUT
                while min(caught_up) < version and time.monotonic() < deadline:
                    progress.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(progress.wait(), deadline - time.monotonic())
                    for pump_task in pumps:
                        if pump_task.done():
                            raise BenchError(f"a reader process stopped: {pump_task.result()}")
                await asyncio.sleep(rng.uniform(0.02, 0.06))  # let stragglers settle
            rounds_writes.append(round_writes)
        outcome.commit_p50 = percentile(commit_ms, 50)
        outcome.ack_p50 = percentile(ack_ms, 50)
        outcome.server_cpu = server.cpu_seconds() - server_cpu
        outcome.writer_cpu = process_cpu_seconds(writer.pid) - writer_cpu
        events: dict[int, list[tuple[int, int, int]]] = {}
        for reader, pump_task, first in zip(reader_workers, pumps, firsts, strict=True):
            await reader.send({"stop": True})
            message = await asyncio.wait_for(pump_task, timeout)
            outcome.readers_cpu += message["cpu"]
            for index, at, version, arrival in message["events"]:
                events.setdefault(first + index, []).append((at, version, arrival))
        await writer.send({"stop": True})
        for round_writes in rounds_writes:
            samples = latencies(round_writes, events, readers)
            if not samples.every:
                raise BenchError("no reader saw any write")
            outcome.p50.add(percentile(samples.every, 50))
            outcome.p99.add(percentile(samples.every, 99))
            outcome.all_p50.add(percentile(samples.slowest, 50))
            outcome.to_frame.add(percentile(samples.to_frame, 50))
            outcome.apply.add(percentile(samples.apply, 50))
            outcome.samples += len(samples.every)
            outcome.writes += len(round_writes)
            outcome.missed += samples.missed
            outcome.maximum = max(outcome.maximum, max(samples.every))
        for process in processes:
            await process.finish()
    finally:
        for pump_task in pumps:
            pump_task.cancel()
        for process in processes:
            await process.kill()
        shutil.rmtree(cache_dir, ignore_errors=True)
    return outcome


def b2_results(outcome: B2Outcome) -> list[Result]:
    ratio50 = Series("", [p / h for p, h in zip(outcome.p50.values, outcome.health.values,
                                                 strict=True)])
    ratio99 = Series("", [p / h for p, h in zip(outcome.p99.values, outcome.health.values,
                                                 strict=True)])
    what = ("write → 1 reader's cache" if outcome.readers == 1
            else f"write → {outcome.readers} readers' caches")
    return [
        Result("B2", outcome.backend, f"{what}: p50", outcome.p50, outcome.health,
               "p50 of GET /api/health", ratio50, "p50 ≤ 10 ms", absolute_limit=10.0),
        Result("B2", outcome.backend, f"{what}: p99", outcome.p99, outcome.health,
               "p50 of GET /api/health", ratio99, "p99 ≤ 50 ms", absolute_limit=50.0),
    ]


def b2_section(outcome: B2Outcome) -> Section:
    writes = max(outcome.writes, 1)
    readers = "1 reader" if outcome.readers == 1 else f"{outcome.readers} readers"
    section = Section(f"B2 on {outcome.backend}: {readers}")
    section.table(["", "value"], [
        ["writes × readers (latency samples)", f"{outcome.writes} × {outcome.readers} = "
                                               f"{outcome.samples:,}"],
        ["deliveries never seen", str(outcome.missed)],
        ["p50 / p99 per round", f"{outcome.p50.format()} / {outcome.p99.format()}"],
        ["p50 of the slowest reader per write (all K have it)", outcome.all_p50.format()],
        ["p50 split: write → frame arrives at a reader / frame → applied, listener fired",
         f"{outcome.to_frame.format()} / {outcome.apply.format()}"],
        ["p50 at the writer: local write committed / upload acknowledged",
         f"{outcome.commit_p50:.1f} ms / {outcome.ack_p50:.1f} ms"],
        ["worst single delivery", f"{outcome.maximum:.1f} ms"],
        ["loopback GET /api/health p50", outcome.health.format()],
        ["CPU per write: server / writer / all readers (per reader)",
         f"{1000 * outcome.server_cpu / writes:.1f} / {1000 * outcome.writer_cpu / writes:.1f} / "
         f"{1000 * outcome.readers_cpu / writes:.1f} "
         f"({1000 * outcome.readers_cpu / writes / outcome.readers:.2f}) ms"],
        ["setup (writer + readers subscribed)", f"{outcome.setup_seconds:.1f} s"],
    ])
    section.add("CPU per write covers the measured rounds (the writer's figure includes its "
                "health checks and applying its own write when the server echoes it); all "
                f"these processes share the machine's {os.cpu_count()} cores.")
    section.add("")
    return section
