"""Sync progress: estimates from the totals the server sends before a bootstrap."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Progress", "ProgressTracker"]


@dataclass(frozen=True)
class Progress:
    """A progress report. ``estimate`` goes 0 → 1 over the current download."""

    estimate: float
    rows: int
    total_rows: int
    bytes: int
    eta_seconds: float | None
    phase: str  # "idle" | "bootstrap" | "catch_up"

    def as_dict(self) -> dict[str, object]:
        return {"estimate": self.estimate, "rows": self.rows, "total_rows": self.total_rows,
                "bytes": self.bytes, "eta_seconds": self.eta_seconds, "phase": self.phase}

    def describe(self) -> str:
        """``'1,234 / 10,000 rows (12%), 3.4 MB, ETA 2 s'``."""
        if self.phase == "idle":
            return "up to date"
        eta = "" if self.eta_seconds is None else f", ETA {self.eta_seconds:.0f} s"
        return (f"{self.rows:,} / {self.total_rows:,} rows ({self.estimate:.0%}), "
                f"{_human_bytes(self.bytes)}{eta}")


def _human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


class ProgressTracker:
    """Turns bootstrap frames into :class:`Progress` reports."""

    def __init__(self) -> None:
        self.idle()

    def idle(self) -> Progress:
        self.total = 0
        self.rows = 0
        self.bytes = 0
        self.started = time.monotonic()
        self.phase = "idle"
        return self.current()

    def begin(self, total_rows: int, already: int = 0) -> Progress:
        self.total = max(total_rows + already, already)
        self.rows = already
        self.bytes = 0
        self.started = time.monotonic()
        self.phase = "bootstrap"
        return self.current()

    def advance(self, rows: int, size: int) -> Progress:
        self.rows += rows
        self.bytes += size
        return self.current()

    def current(self) -> Progress:
        if self.phase == "idle":
            return Progress(1.0, 0, 0, 0, None, "idle")
        estimate = 1.0 if self.total == 0 else min(1.0, self.rows / self.total)
        elapsed = time.monotonic() - self.started
        eta = None
        if 0 < estimate < 1.0 and elapsed > 0.2:
            eta = elapsed * (1 - estimate) / estimate
        return Progress(estimate, self.rows, self.total, self.bytes, eta, self.phase)
