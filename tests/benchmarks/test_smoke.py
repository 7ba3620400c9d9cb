"""The benchmark suite runs end to end at a tiny size and reports every benchmark.

A smoke test, not a timing test: it checks that ``python -m benchmarks`` finishes,
that the report names B1, B2, B4, B5, B6 and B8 with numbers, and that
the hand-written analysis below the generated block survives a rerun. Timings are
never asserted (BRIEF §5: benchmarks, never timed tests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.b2 import latencies
from benchmarks.cli import parse_args
from benchmarks.clients import demo_size_for_orders
from benchmarks.report import BEGIN, END, write_report
from realm_jupyter.demo.generate import document_counts

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"\d[\d,]*(\.\d+)?"


def _rows(report: str, bench: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith(f"| {bench} |")]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_the_suite_reports_every_benchmark_with_numbers(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    output.write_text(f"# Benchmarks\n\n{BEGIN}\nold numbers\n{END}\n\n## Analysis\n\nkept\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--size", "2000", "--runs", "1",
         "--readers", "1,3", "--writes", "6", "--output", str(output)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stderr[-3000:]
    report = output.read_text()
    assert "old numbers" not in report
    assert report.rstrip().endswith("## Analysis\n\nkept")
    assert "not measured" not in report, report
    for bench, rows in (("B1", 2), ("B5", 2), ("B2", 8), ("B4", 2), ("B6", 2), ("B8", 5)):
        found = _rows(report, bench)
        assert len(found) == rows, (bench, found)
        for row in found:
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            assert re.match(NUMBER, cells[3]), row  # the measured median
            assert re.match(NUMBER, cells[5]), row  # the ratio
            assert cells[7] in ("met", "**missed**"), row
    for backend in ("postgresql", "sqlite"):
        assert any(f"| {backend} |" in row for row in _rows(report, "B1")), backend
    for fact in ("CPU", "Cores", "RAM", "Python", "duckdb", "pandas", "pyarrow", "PostgreSQL"):
        assert re.search(rf"^\| {fact} \| \S", report, re.MULTILINE), fact


def test_the_generated_block_is_replaced_and_the_analysis_kept(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    write_report(path, f"{BEGIN}\nfirst\n{END}\n")
    assert path.read_text().count(BEGIN) == 1 and "first" in path.read_text()
    path.write_text(path.read_text().replace("No analysis written for this run.", "By hand."))
    write_report(path, f"{BEGIN}\nsecond\n{END}\n")
    text = path.read_text()
    assert "second" in text and "first" not in text and "By hand." in text


def test_the_demo_size_holds_exactly_the_asked_orders() -> None:
    for orders in (100, 2_000, 44_999, 1_000_000):
        assert document_counts(demo_size_for_orders(orders))["Order"] == orders


def test_latency_is_the_first_time_a_reader_holds_the_writes_version() -> None:
    ms = 1_000_000
    writes = [[0, 10], [100 * ms, 11]]
    events = {0: [(5 * ms, 10, 4 * ms), (103 * ms, 11, 101 * ms)],
              1: [(150 * ms, 11, 140 * ms)]}  # reader 1 got both writes in one frame
    samples = latencies(writes, events, readers=3)  # reader 2 never saw anything
    assert samples.every == [5.0, 150.0, 3.0, 50.0]
    assert samples.slowest == [150.0, 50.0]
    assert samples.to_frame == [4.0, 140.0, 1.0, 40.0]
    assert samples.missed == 2


def test_quick_defaults_and_options() -> None:
    quick = parse_args(["--quick"])
    assert (quick.size, quick.runs, quick.readers) == (20_000, 1, (1, 10))
    full = parse_args(["--only", "b1,B4", "--size", "5000", "--runs", "2", "--readers", "100"])
    assert (full.only, full.size, full.runs, full.readers) == (("B1", "B4"), 5000, 2, (100,))
    with pytest.raises(SystemExit):
        parse_args(["--only", "B3"])
