"""Facts about the machine and the software a benchmark run measured."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["load_average", "machine_facts", "rss_bytes", "peak_rss_bytes"]

_PACKAGES = ("duckdb", "pandas", "pyarrow", "numpy", "psycopg", "adbc-driver-sqlite",
             "adbc-driver-postgresql", "httpx", "uvicorn", "starlette", "orjson")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_total() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    with contextlib.suppress(OSError):
        one, five, fifteen = os.getloadavg()
        return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
    return "unknown"


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def machine_facts(root: Path, postgres_version: str | None) -> dict[str, str]:
    """CPU, cores, RAM, OS and the versions that matter, as display strings."""
    cores = os.cpu_count() or 0
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    commit = _git(root, "rev-parse", "--short", "HEAD")
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    facts = {
        "CPU": _cpu_model(),
        "Cores": f"{cores} ({affinity} usable by this process)",
        "RAM": f"{_memory_total() / 2**30:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()} ({_os_name()})",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "SQLite (Python's sqlite3)": sqlite3.sqlite_version,
        "PostgreSQL": postgres_version or "not used",
    }
    for package in _PACKAGES:
        facts[package] = _version(package)
    facts["Commit"] = (commit + (" + uncommitted changes" if dirty else "")) if commit else "unknown"
    facts["Load average at start (1/5/15 min)"] = load_average()
    return facts


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return sys.platform


def _status_kib(field: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_bytes() -> int:
    """This process's resident set size now."""
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (``VmHWM``; ``ru_maxrss`` elsewhere)."""
    peak = _status_kib("VmHWM") * 1024
    if peak:
        return peak
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
