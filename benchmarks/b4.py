"""B4 overlapping subscription: adding B after A downloads only what B adds.

The worker subscribes A (``region == 'north'``), then adds B (``region IN
{'north', 'south'}``) as a second subscription, and counts every byte of the
download stream during the second step (headers, payloads, pings: everything
``read_frames`` sees) and the documents in it. The reference is the wire size of
exactly the documents B adds — the southern Orders, taken from the demo generator
that seeded the server and encoded with ``realm_jupyter.wire.encode_ipc``.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .clients import log_in, open_realm
from .processes import ServerProcess, run_worker
from .results import Result, Section
from .stats import Series

__all__ = ["QUERY_A", "QUERY_B", "b4_results", "b4_section", "overlap_worker", "run_b4"]

QUERY_A = "region == 'north'"
QUERY_B = "region IN {'north', 'south'}"
MB = 1_000_000


# --------------------------------------------------------------------------- worker side


class _Counter:
    def __init__(self) -> None:
        self.bytes = 0
        self.payload = 0
        self.docs = 0
        self.frames: dict[str, int] = {}

    def snapshot(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "payload": self.payload, "docs": self.docs,
                "frames": dict(self.frames)}


def _count_stream(counter: _Counter) -> None:
    """Wrap ``transport.read_frames`` (in this worker only) to count what arrives."""
    from realm_jupyter.client import transport

    original = transport.read_frames

    async def counted_chunks(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            counter.bytes += len(chunk)
            yield chunk

    async def read_frames(chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        async for header, payload in original(counted_chunks(chunks)):
            kind = header["t"]
            counter.frames[kind] = counter.frames.get(kind, 0) + 1
            counter.payload += len(payload or b"")
            if kind == "batch":
                counter.docs += int(header["rows"])
            elif kind == "changes":
                counter.docs += sum(int(u["rows"]) for u in header.get("upserts", []))
            yield header, payload

    transport.read_frames = read_frames  # type: ignore[assignment]


def _added_documents(demo_size: int) -> tuple[int, int]:
    """(count, wire bytes) of the Orders that B adds to A, straight from the generator."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from realm_jupyter.demo.generate import iter_tables
    from realm_jupyter.wire import encode_ipc

    parts = [table.filter(pc.equal(table.column("region"), "south"))
             for name, table in iter_tables(demo_size) if name == "Order"]
    added = pa.concat_tables(parts).combine_chunks()
    return added.num_rows, len(encode_ipc(added))


async def overlap_worker(job: dict[str, Any]) -> dict[str, Any]:
    counter = _Counter()
    _count_stream(counter)
    app, user = await log_in(job["url"])
    realm = await open_realm(user, Path(job["cache"]))
    try:
        await realm.subscribe("Order", QUERY_A, timeout=job["timeout"])
        first = counter.snapshot()
        rows_a = realm.count("Order")
        await realm.subscribe("Order", QUERY_B, timeout=job["timeout"])
        second = counter.snapshot()
        rows_b = realm.count("Order")
    finally:
        await realm.close()
        await app.aclose()
    expected_docs, expected_bytes = _added_documents(int(job["demo_size"]))
    step = {key: second[key] - first[key] for key in ("bytes", "payload", "docs")}
    step["frames"] = {kind: count - first["frames"].get(kind, 0)
                      for kind, count in second["frames"].items()
                      if count - first["frames"].get(kind, 0)}
    return {"first": first, "step": step, "rows_a": rows_a, "rows_b": rows_b,
            "expected_docs": expected_docs, "expected_bytes": expected_bytes}


# --------------------------------------------------------------------------- orchestrator side


async def run_b4(*, server: ServerProcess, demo_size: int, workdir: Path,
                 timeout: float) -> dict[str, Any]:
    cache_dir = workdir / "b4"
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        return await run_worker("overlap", {"url": server.url, "cache": str(cache_dir / "b4.duckdb"),
                                            "demo_size": demo_size, "timeout": timeout}, timeout)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def b4_results(backend: str, outcome: dict[str, Any]) -> list[Result]:
    step = outcome["step"]
    ratio = step["bytes"] / outcome["expected_bytes"]
    return [Result("B4", backend, "add B ⊇ A: bytes of step 2", Series("MB", [step["bytes"] / MB]),
                   Series("MB", [outcome["expected_bytes"] / MB]),
                   "wire size of the documents B adds", Series("", [ratio]), "ratio ≤ 1.1", 1.1)]


def b4_section(backend: str, outcome: dict[str, Any]) -> Section:
    step = outcome["step"]
    section = Section(f"B4 on {backend}: `{QUERY_A}`, then add `{QUERY_B}`")
    section.table(["", "documents", "bytes"], [
        ["step 1 (A) downloaded", f"{outcome['first']['docs']:,}",
         f"{outcome['first']['bytes']:,}"],
        ["step 2 (add B) downloaded", f"{step['docs']:,}", f"{step['bytes']:,}"],
        ["… of which frame payloads (Arrow IPC)", "", f"{step['payload']:,}"],
        ["documents B adds (generator, `wire.encode_ipc`)", f"{outcome['expected_docs']:,}",
         f"{outcome['expected_bytes']:,}"],
        ["cache rows after A / after B", f"{outcome['rows_a']:,} / {outcome['rows_b']:,}", ""],
    ])
    frames = ", ".join(f"{kind} × {count}" for kind, count in sorted(step["frames"].items()))
    docs_ratio = step["docs"] / outcome["expected_docs"] if outcome["expected_docs"] else 0.0
    section.add(f"Step 2 frames: {frames}. Documents downloaded ÷ documents added: "
                f"{docs_ratio:.3f}; bytes ÷ reference: "
                f"{step['bytes'] / outcome['expected_bytes']:.3f} (payloads alone: "
                f"{step['payload'] / outcome['expected_bytes']:.3f}). Bytes are deterministic, "
                "so B4 runs once per backend.")
    section.add("")
    return section
