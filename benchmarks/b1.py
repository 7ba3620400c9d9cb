"""B1 bootstrap, B5 client memory and B6 local query: one client process per run.

Worker side (``benchmarks.worker bootstrap``): log in as Carol, open a realm on a
fresh cache, wait for the orchestrator's "go", then time ``await
realm.subscribe("Order")`` until the DataFrame is in hand. The same process reports
its peak RSS (B5: nothing else ran in it) and, on request, then runs B6 on the
cache it just filled. The baselines run in processes of their own:
``pandas.read_sql`` on the server's SQLite file, psycopg ``COPY … TO STDOUT`` into
pandas on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import time
from pathlib import Path
from typing import Any

from .clients import RssSampler, Timers, emit, log_in, open_realm, read_command
from .machine import peak_rss_bytes, rss_bytes
from .processes import BenchError, PostgresHandle, ServerProcess, run_worker, worker
from .results import Result, Section
from .stats import Series

__all__ = ["B6_QUERIES", "bootstrap_worker", "copy_pg_worker", "read_sql_worker", "run_b1"]

MB = 1_000_000
#: B6: the realm query and the SQL an analyst would write by hand for the same rows.
B6_QUERIES = {
    "filter": ("region == 'north' AND quantity >= 2",
               "SELECT * FROM \"Order\" WHERE region = 'north' AND quantity >= 2 ORDER BY _id"),
    "all rows": ("TRUEPREDICATE", "SELECT * FROM \"Order\" ORDER BY _id"),
}


# --------------------------------------------------------------------------- worker side


async def bootstrap_worker(job: dict[str, Any]) -> dict[str, Any]:
    from realm_jupyter.cache import apply as cache_apply
    from realm_jupyter.client import downloads as session_module
    from realm_jupyter.client import realm as realm_module

    app, user = await log_in(job["url"])
    realm = await open_realm(user, Path(job["cache"]))
    timers = Timers()
    timers.wrap(session_module, "decode_ipc", "decode")
    timers.wrap(cache_apply, "stage_batch", "stage")
    timers.wrap(cache_apply, "apply_bootstrap", "apply")
    timers.wrap(realm_module.Realm, "query", "query")
    progress = {"bytes": 0, "rows": 0}

    def on_progress(report: Any) -> None:
        if report.phase == "bootstrap":
            progress["bytes"] = max(progress["bytes"], report.bytes)
            progress["rows"] = max(progress["rows"], report.rows)

    realm.session.add_progress_listener(on_progress)
    try:
        gc.collect()
        emit({"ready": True, "rss_before": rss_bytes()})
        await read_command()
        profiler = None
        if job.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
        cpu_started = time.process_time()
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        with RssSampler(timers) as sampler:
            frame = await realm.subscribe("Order", timeout=job["timeout"])
            seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(job["profile"])
        cpu = time.process_time() - cpu_started
        peak = peak_rss_bytes()
        timers.restore()
        result: dict[str, Any] = {
            "seconds": seconds, "cpu": cpu, "rows": len(frame), "bytes": progress["bytes"],
            "peak_rss": peak, "rss_after": rss_bytes(),
            "frame_bytes": int(frame.memory_usage(deep=True).sum()),
            "duckdb_bytes": _duckdb_memory(realm), "timers": dict(timers.seconds),
            "batches": timers.calls.get("stage", 0), "rss_peaks": sampler.peaks,
        }
        del frame
        if job.get("b6_reps"):
            result["b6"] = _b6(realm, int(job["b6_reps"]))
        return result
    finally:
        await realm.close()
        await app.aclose()


def _duckdb_memory(realm: Any) -> int:
    with contextlib.suppress(Exception):
        rows = realm.cache.connection.execute(
            "SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
        return int(rows[0][0] or 0)
    return 0


def _b6(realm: Any, reps: int) -> dict[str, Any]:
    """``realm.query`` against hand-written DuckDB SQL → Arrow → pandas, alternating order."""
    import pandas as pd
    import pyarrow as pa

    def mapper(arrow_type: pa.DataType) -> Any:  # the dtypes realm.query gives, chosen by hand
        nested = (pa.types.is_struct(arrow_type) or pa.types.is_list(arrow_type)
                  or pa.types.is_decimal(arrow_type))
        return pd.ArrowDtype(arrow_type) if nested else None

    connection = realm.cache.connection
    out: dict[str, Any] = {}
    for name, (query, sql) in B6_QUERIES.items():
        def by_realm(query: str = query) -> pd.DataFrame:
            return realm.query("Order", query)

        def by_hand(sql: str = sql) -> pd.DataFrame:
            return connection.sql(sql).to_arrow_table().to_pandas(types_mapper=mapper)

        same = by_realm().equals(by_hand())  # also warms both paths up
        timings: dict[str, list[float]] = {"realm_s": [], "sql_s": []}
        for rep in range(reps):
            order = [("realm_s", by_realm), ("sql_s", by_hand)]
            for label, function in order if rep % 2 == 0 else reversed(order):
                gc.collect()
                started = time.perf_counter()
                frame = function()
                timings[label].append(time.perf_counter() - started)
                rows = len(frame)
                del frame
        out[name] = {**timings, "rows": rows, "same": bool(same), "query": query, "sql": sql}
    return out


def read_sql_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Baseline on SQLite: ``pandas.read_sql`` through Python's ``sqlite3``."""
    import sqlite3

    import pandas as pd

    started = time.perf_counter()
    connection = sqlite3.connect(job["path"])
    try:
        frame = pd.read_sql('SELECT * FROM "Order"', connection)
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(frame), "peak_rss": peak_rss_bytes(),
            "frame_bytes": int(frame.memory_usage(deep=True).sum())}


def copy_pg_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Baseline on PostgreSQL: psycopg ``COPY (SELECT *) TO STDOUT`` (CSV) into ``read_csv``."""
    import io

    import pandas as pd
    import psycopg

    started = time.perf_counter()
    buffer = io.BytesIO()
    with psycopg.connect(job["url"]) as connection, connection.cursor() as cursor, cursor.copy(
            'COPY (SELECT * FROM "Order") TO STDOUT WITH (FORMAT csv, HEADER)') as copy:
        for block in copy:
            buffer.write(block)
    copied = time.perf_counter() - started
    buffer.seek(0)
    frame = pd.read_csv(buffer)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "copy_seconds": copied, "rows": len(frame),
            "peak_rss": peak_rss_bytes(), "frame_bytes": int(frame.memory_usage(deep=True).sum())}


# --------------------------------------------------------------------------- orchestrator side


class B1Outcome:
    """Everything B1 measured on one backend, for the summary rows and the details."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.seconds = Series("s")
        self.baseline = Series("s")
        self.ratio = Series("")
        self.docs_per_s = Series("docs/s")
        self.mb_per_s = Series("MB/s")
        self.peak = Series("MB")
        self.frame = Series("MB")
        self.memory_ratio = Series("")
        self.runs: list[dict[str, Any]] = []
        self.b6: dict[str, Any] | None = None
        self.profile: Path | None = None
        self.error: str | None = None


async def run_b1(*, backend: str, server: ServerProcess, postgres: PostgresHandle | None,
                 sqlite_path: Path | None, runs: int, workdir: Path, timeout: float,
                 b6_reps: int, profile: Path | None) -> B1Outcome:
    """``runs`` pairs of (baseline, bootstrap), alternating which goes first."""
    outcome = B1Outcome(backend)
    for run in range(runs):
        if not server.alive():
            raise BenchError(f"the {backend} server died ({server.log_tail()})")
        last = run == runs - 1
        order = ["baseline", "bootstrap"] if run % 2 == 0 else ["bootstrap", "baseline"]
        record: dict[str, Any] = {"run": run + 1, "order": " then ".join(order)}
        for step in order:
            if step == "baseline":
                if backend == "sqlite":
                    assert sqlite_path is not None
                    base = await run_worker("read_sql", {"path": str(sqlite_path)}, timeout)
                else:
                    assert postgres is not None
                    pg_cpu = postgres.cpu_seconds()
                    base = await run_worker("copy_pg", {"url": postgres.url}, timeout)
                    base["postgres_cpu"] = postgres.cpu_seconds() - pg_cpu
                record["baseline"] = base
            else:
                cache_dir = workdir / f"b1-{backend}-{run}"
                cache_dir.mkdir(parents=True, exist_ok=True)
                job = {"url": server.url, "cache": str(cache_dir / "cache.duckdb"),
                       "timeout": timeout, "b6_reps": b6_reps if last else 0, "profile": None}
                record["bootstrap"] = await _bootstrap(job, server, postgres, timeout)
                shutil.rmtree(cache_dir, ignore_errors=True)
        boot, base = record["bootstrap"], record["baseline"]
        if boot["rows"] != base["rows"]:
            raise BenchError(f"the bootstrap returned {boot['rows']:,} rows, the baseline "
                             f"{base['rows']:,}")
        outcome.seconds.add(boot["seconds"])
        outcome.baseline.add(base["seconds"])
        outcome.ratio.add(boot["seconds"] / base["seconds"])
        outcome.docs_per_s.add(boot["rows"] / boot["seconds"])
        outcome.mb_per_s.add(boot["bytes"] / MB / boot["seconds"])
        outcome.peak.add(boot["peak_rss"] / MB)
        outcome.frame.add(boot["frame_bytes"] / MB)
        budget = 1.5 * boot["frame_bytes"] + 200 * MB
        outcome.memory_ratio.add(boot["peak_rss"] / budget)
        if "b6" in boot:
            outcome.b6 = boot["b6"]
        outcome.runs.append(record)
        print(f"  B1 {backend} run {run + 1}/{runs}: bootstrap {boot['seconds']:.2f} s, "
              f"baseline {base['seconds']:.2f} s, peak RSS {boot['peak_rss'] / MB:.0f} MB")
    if profile is not None:  # one more bootstrap, under cProfile and not counted
        cache_dir = workdir / f"b1-{backend}-profile"
        cache_dir.mkdir(parents=True, exist_ok=True)
        await _bootstrap({"url": server.url, "cache": str(cache_dir / "cache.duckdb"),
                          "timeout": timeout, "b6_reps": 0, "profile": str(profile)},
                         server, postgres, timeout)
        shutil.rmtree(cache_dir, ignore_errors=True)
        outcome.profile = profile
    return outcome


async def _bootstrap(job: dict[str, Any], server: ServerProcess, postgres: PostgresHandle | None,
                     timeout: float) -> dict[str, Any]:
    async with worker("bootstrap", job) as running:
        ready = await running.receive(timeout)
        server_cpu, pg_cpu = server.cpu_seconds(), postgres.cpu_seconds() if postgres else 0.0
        await running.send({"go": True})
        result = await running.receive(timeout)
        result["server_cpu"] = server.cpu_seconds() - server_cpu
        result["postgres_cpu"] = (postgres.cpu_seconds() - pg_cpu) if postgres else 0.0
        result["rss_before"] = ready["rss_before"]
        await running.finish()
        return result


def b1_results(outcome: B1Outcome, size: int) -> list[Result]:
    baseline = ("pandas.read_sql (sqlite3)" if outcome.backend == "sqlite"
                else "psycopg COPY → pandas.read_csv")
    return [
        Result("B1", outcome.backend, f"bootstrap {size:,} Orders → DataFrame", outcome.seconds,
               outcome.baseline, baseline, outcome.ratio, "ratio ≤ 0.7", 0.7),
        Result("B5", outcome.backend, "client peak RSS during B1", outcome.peak,
               Series("MB", [1.5 * f + 200 for f in outcome.frame.values]),
               "1.5 × DataFrame + 200 MB", outcome.memory_ratio, "ratio ≤ 1.0", 1.0),
    ]


def b1_section(outcome: B1Outcome) -> Section:
    section = Section(f"B1/B5 on {outcome.backend}: per run")
    rows = []
    for record in outcome.runs:
        boot, base = record["bootstrap"], record["baseline"]
        timers = boot["timers"]
        busy = sum(timers.get(k, 0.0) for k in ("decode", "stage", "apply", "query"))
        rows.append([
            str(record["run"]), record["order"], f"{boot['seconds']:.2f}", f"{base['seconds']:.2f}",
            f"{boot['seconds'] / base['seconds']:.2f}", f"{boot['rows'] / boot['seconds']:,.0f}",
            f"{boot['bytes'] / MB / boot['seconds']:.1f}",
            f"{timers.get('stage', 0):.2f} / {timers.get('apply', 0):.2f} / "
            f"{timers.get('query', 0):.2f} / {max(boot['seconds'] - busy, 0):.2f}",
            f"{boot['cpu']:.1f} / {boot['server_cpu']:.1f} / "
            + (f"{boot['postgres_cpu']:.1f} (baseline's PG: {base['postgres_cpu']:.1f})"
               if "postgres_cpu" in base else "–"),
            f"{boot['rss_before'] / MB:.0f} → {boot['peak_rss'] / MB:.0f}",
            f"{boot['frame_bytes'] / MB:.0f}", f"{boot['duckdb_bytes'] / MB:.0f}",
        ])
    section.table(["run", "order", "B1 s", "baseline s", "ratio", "docs/s", "MB/s",
                   "client: stage / apply / query / other s", "CPU s: client / server / PG",
                   "client RSS MB: before → peak", "DataFrame MB", "DuckDB memory MB"], rows)
    first = outcome.runs[0]["bootstrap"] if outcome.runs else None
    if first:
        section.add(f"Wire bytes per bootstrap: {first['bytes'] / MB:.1f} MB in "
                    f"{first['batches']} batches. \"other\" is the time the client spent "
                    "outside staging, applying and querying: reading the stream and waiting "
                    "for the server.")
        section.add("")
        peaks = outcome.runs[-1]["bootstrap"].get("rss_peaks", {})
        if peaks:
            phases = ", ".join(f"{phase} {rss / MB:.0f} MB" for phase, rss in
                               sorted(peaks.items(), key=lambda item: item[1]))
            section.add(f"Client peak RSS by phase (last run, sampled every 5 ms): {phases}.")
            section.add("")
    return section


def b6_results(b6: dict[str, Any]) -> list[Result]:
    out = []
    for name, data in b6.items():
        measured = Series("s", data["realm_s"])
        baseline = Series("s", data["sql_s"])
        ratio = Series("", [r / s for r, s in zip(data["realm_s"], data["sql_s"], strict=True)])
        out.append(Result("B6", "cache", f"realm.query, {name} ({data['rows']:,} rows)", measured,
                          baseline, "hand-written DuckDB SQL → Arrow → pandas", ratio,
                          "ratio ≤ 1.2", 1.2))
    return out


def b6_section(b6: dict[str, Any]) -> Section:
    section = Section("B6: queries")
    rows = [[name, f"`{data['query']}`", f"`{data['sql']}`", f"{data['rows']:,}",
             "yes" if data["same"] else "NO"] for name, data in b6.items()]
    section.table(["case", "realm.query", "hand-written SQL", "rows", "same DataFrame"], rows)
    return section
