"""``python -m benchmarks``: run the suite and write the report (``make bench``)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import b1, b2, b4, b8
from .clients import demo_size_for_orders
from .machine import load_average, machine_facts
from .processes import REPO_ROOT, BenchError, PostgresHandle, ServerProcess, start_postgres
from .report import profile_section, render, write_report
from .results import Result, Section

__all__ = ["Options", "main", "parse_args"]

BENCHMARKS = ("B1", "B2", "B4", "B5", "B6", "B8")
BACKENDS = ("postgresql", "sqlite")


@dataclass
class Options:
    size: int
    runs: int
    only: tuple[str, ...]
    backends: tuple[str, ...]
    output: Path
    quick: bool
    readers: tuple[int, ...]
    writes: int
    profile: bool
    seed_timeout: float
    keep: bool
    batch_rows: int | None

    @property
    def timeout(self) -> float:
        """Longest wait for one worker answer (a bootstrap of ``size`` documents)."""
        return 120 + 480 * self.size / 1_000_000


def _csv(choices: Sequence[str]) -> argparse.Action | type:
    def parse(text: str) -> tuple[str, ...]:
        picked = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
        wrong = [p for p in picked if p not in choices]
        if wrong or not picked:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (got {text!r})")
        return picked

    return parse  # type: ignore[return-value]


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected counts such as 1,100 (got {text!r})")
    return counts


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the realm_jupyter benchmarks (BRIEF §5) and write docs/benchmarks.md.")
    parser.add_argument("--size", type=int, default=None,
                        help="Orders for B1/B4/B6 (default 1,000,000; 20,000 with --quick)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs of each timed benchmark (default 3; 1 with --quick)")
    parser.add_argument("--only", type=_csv([b.lower() for b in BENCHMARKS] + list(BENCHMARKS)),
                        default=BENCHMARKS, help="comma-separated subset, e.g. B1,B4")
    parser.add_argument("--backend", dest="backends", type=_csv(BACKENDS), default=BACKENDS,
                        help="server stores to measure (default postgresql,sqlite)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md",
                        help="report path (default docs/benchmarks.md)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a fast check: 20,000 Orders, 1 run, 10 readers")
    parser.add_argument("--readers", type=_counts, default=None,
                        help="B2 reader clients, one measurement per count (default 1,100: the "
                             "floor and the target; 1,10 with --quick)")
    parser.add_argument("--writes", type=int, default=None,
                        help="B2 writes per reader count, over --runs rounds (default 90; 20 "
                             "with --quick)")
    parser.add_argument("--profile", action="store_true",
                        help="add one B1 run per backend under cProfile (not counted); the "
                             "client's profile goes in the report")
    parser.add_argument("--seed-timeout", type=float, default=None,
                        help="longest server start-up, seeding included (default scales with "
                             "--size: 540 s at 1,000,000)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--batch-rows", type=int, default=None,
                        help="override the server's bootstrap batch size (to measure its effect)")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    size = args.size if args.size is not None else 20_000 if quick else 1_000_000
    runs = args.runs if args.runs is not None else 1 if quick else 3
    if size < 100 or runs < 1:
        parser.error("--size must be at least 100 and --runs at least 1")
    readers = args.readers if args.readers is not None else (1, 10) if quick else (1, 100)
    writes = args.writes if args.writes is not None else 20 if quick else 90
    return Options(
        size=size, runs=runs, only=tuple(b.upper() for b in args.only),
        backends=tuple(args.backends), output=args.output, quick=quick, readers=readers,
        writes=max(writes, runs), profile=bool(args.profile),
        seed_timeout=args.seed_timeout or 60 + 480 * size / 1_000_000, keep=bool(args.keep),
        batch_rows=args.batch_rows)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    return asyncio.run(Suite(options, list(sys.argv[1:] if argv is None else argv)).run())


class Suite:
    def __init__(self, options: Options, argv: list[str]) -> None:
        self.options = options
        self.argv = argv
        self.results: list[Result] = []
        self.sections: list[Section] = []
        self.notes: list[str] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="realm-bench-"))
        self.b6_done = False
        self.b8_done = False

    def wants(self, *benchmarks: str) -> bool:
        return any(b in self.options.only for b in benchmarks)

    async def run(self) -> int:
        options = self.options
        started = time.monotonic()
        demo_size = demo_size_for_orders(options.size)
        print(f"benchmarks: {', '.join(options.only)} on {', '.join(options.backends)}, "
              f"{options.size:,} Orders (demo size {demo_size:,}), {options.runs} run(s); "
              f"work directory {self.workdir}", flush=True)
        postgres: PostgresHandle | None = None
        pg_version = None
        try:
            if "postgresql" in options.backends:
                try:
                    postgres = start_postgres()
                    pg_version = postgres.version
                except Exception as error:
                    self._fail_backend("postgresql", f"{error}".splitlines()[0])
            facts = machine_facts(REPO_ROOT, pg_version)
            for backend in options.backends:
                if backend == "postgresql" and postgres is None:
                    continue
                await self._backend(backend, postgres, demo_size)
        finally:
            if postgres is not None:
                postgres.stop()
            if not options.keep:
                shutil.rmtree(self.workdir, ignore_errors=True)
        elapsed = time.monotonic() - started
        facts["Load average at end (1/5/15 min)"] = load_average()
        self._write(facts, elapsed)
        print(f"benchmarks: done in {elapsed / 60:.1f} min; report in {options.output}")
        return 0

    # ------------------------------------------------------------------ one backend

    def _fail_backend(self, backend: str, error: str) -> None:
        for bench, what in (("B1", "bootstrap"), ("B5", "client peak RSS"), ("B4", "overlap"),
                            ("B2", "change latency")):
            if self.wants(bench):
                self.results.append(Result.failed(bench, backend, what, error))

    async def _backend(self, backend: str, postgres: PostgresHandle | None, demo_size: int) -> None:
        options = self.options
        if backend == "sqlite":
            sqlite_path = self.workdir / "sqlite" / "store.sqlite3"
            sqlite_path.parent.mkdir(parents=True)
            store_url = f"sqlite:///{sqlite_path}"
        else:
            assert postgres is not None
            sqlite_path, store_url = None, postgres.url
        server = ServerProcess(store_url, demo_size, self.workdir / f"server-{backend}.log",
                               batch_rows=options.batch_rows)
        print(f"{backend}: starting the server and seeding {demo_size:,} documents…", flush=True)
        try:
            await server.start(options.seed_timeout)
        except BenchError as error:
            print(f"{backend}: {error}", flush=True)
            self._fail_backend(backend, str(error))
            return
        self.notes.append(f"{backend} server start-up, seeding {demo_size:,} documents included: "
                          f"{server.start_seconds:.1f} s")
        print(f"{backend}: server ready in {server.start_seconds:.1f} s", flush=True)
        try:
            if self.wants("B1", "B5", "B6"):
                await self._b1(backend, server, postgres, sqlite_path)
            if self.wants("B4"):
                await self._guard(backend, "B4", "overlap", self._b4(backend, server, demo_size))
            if self.wants("B2"):
                await self._b2(backend, server)
            if self.wants("B8") and not self.b8_done:  # the explorer reads the client's cache
                self.b8_done = True                     # only: one store is enough
                await self._guard(backend, "B8", "explorer", self._b8(backend, server))
        finally:
            await server.stop()

    async def _guard(self, backend: str, bench: str, what: str, work: object) -> None:
        try:
            await work  # type: ignore[misc]
        except Exception as error:
            traceback.print_exc()
            self.results.append(Result.failed(bench, backend, what, _one_line(error)))

    async def _b1(self, backend: str, server: ServerProcess, postgres: PostgresHandle | None,
                  sqlite_path: Path | None) -> None:
        options = self.options
        b6_reps = max(2 * options.runs + 1, 7) if self.wants("B6") and not self.b6_done else 0
        profile = self.workdir / f"b1-{backend}.prof" if options.profile else None
        try:
            outcome = await b1.run_b1(backend=backend, server=server, postgres=postgres,
                                      sqlite_path=sqlite_path, runs=options.runs,
                                      workdir=self.workdir, timeout=options.timeout,
                                      b6_reps=b6_reps, profile=profile)
        except Exception as error:
            traceback.print_exc()
            for bench, what in (("B1", "bootstrap"), ("B5", "client peak RSS")):
                if self.wants(bench):
                    self.results.append(Result.failed(bench, backend, what, _one_line(error)))
            return
        for result in b1.b1_results(outcome, options.size):
            if self.wants(result.bench):
                self.results.append(result)
        if self.wants("B1", "B5"):
            self.sections.append(b1.b1_section(outcome))
        if outcome.profile is not None:
            self.sections.append(profile_section(f"Profile: B1 client on {backend}",
                                                 outcome.profile))
        if outcome.b6 is not None:
            self.b6_done = True
            self.results.extend(b1.b6_results(outcome.b6))
            self.sections.append(b1.b6_section(outcome.b6))

    async def _b4(self, backend: str, server: ServerProcess, demo_size: int) -> None:
        outcome = await b4.run_b4(server=server, demo_size=demo_size, workdir=self.workdir,
                                  timeout=self.options.timeout)
        self.results.extend(b4.b4_results(backend, outcome))
        self.sections.append(b4.b4_section(backend, outcome))
        print(f"  B4 {backend}: {outcome['step']['bytes']:,} bytes for "
              f"{outcome['expected_bytes']:,} bytes of new documents", flush=True)

    async def _b8(self, backend: str, server: ServerProcess) -> None:
        outcome = await b8.run_b8(backend=backend, server=server, workdir=self.workdir,
                                  runs=self.options.runs, timeout=self.options.timeout)
        self.results.extend(b8.b8_results(outcome))
        self.sections.append(b8.b8_section(outcome))
        print(f"  B8 {backend}: first paint {outcome.first_paint.median:.0f} ms, scroll p50 "
              f"{outcome.scroll.median:.0f} ms, sort {outcome.sort.median:.0f} ms, filter "
              f"{outcome.filter.median:.0f} ms, summaries {outcome.summaries.median:.0f} ms",
              flush=True)

    async def _b2(self, backend: str, server: ServerProcess) -> None:
        options = self.options
        for readers in options.readers:
            try:
                outcome = await b2.run_b2(backend=backend, server=server, readers=readers,
                                          writes=options.writes, rounds=options.runs,
                                          workdir=self.workdir,
                                          timeout=max(options.timeout, 120 + 2 * readers))
            except Exception as error:
                traceback.print_exc()
                self.results.append(Result.failed("B2", backend, f"change latency, {readers} "
                                                  "readers", _one_line(error)))
                continue
            self.results.extend(b2.b2_results(outcome))
            self.sections.append(b2.b2_section(outcome))
            print(f"  B2 {backend}, {readers} reader{'' if readers == 1 else 's'}: "
                  f"p50 {outcome.p50.median:.1f} ms, "
                  f"p99 {outcome.p99.median:.1f} ms", flush=True)

    # ------------------------------------------------------------------ the report

    def _write(self, facts: dict[str, str], elapsed: float) -> None:
        options = self.options
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = "python -m benchmarks" + ("" if not self.argv else " " + shlex.join(self.argv))
        header = [
            f"Run {when}: `{command}` — {options.size:,} Orders, {options.runs} run(s) each, "
            f"B2 with {' and '.join(map(str, options.readers))} readers and {options.writes} writes "
            f"each; the whole run took "
            f"{elapsed / 60:.1f} min.",
        ]
        if self.notes:
            header += ["", *(f"- {note}" for note in self.notes)]
        order = {name: index for index, name in enumerate(("B1", "B5", "B2", "B4", "B6", "B8"))}
        results = sorted(self.results, key=lambda r: (order.get(r.bench, 9), r.backend))
        write_report(options.output, render(header=header, results=results, facts=facts,
                                            sections=self.sections))


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
