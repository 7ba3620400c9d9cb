"""What a benchmark hands to the report: rows of measured values, baselines and ratios."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .stats import Series

__all__ = ["Result", "Section"]


@dataclass
class Result:
    """One line of the summary table.

    ``ratio`` holds one value per run (measured ÷ baseline of the same run); the
    verdict compares its median with ``limit``. For B2 the targets are absolute
    latencies (BRIEF §5), so ``absolute_limit`` is compared with ``measured``
    instead and the ratio against the loopback round trip is shown for scale.
    """

    bench: str
    backend: str
    what: str
    measured: Series
    baseline: Series | None = None
    baseline_what: str = ""
    ratio: Series = field(default_factory=lambda: Series(""))
    target: str = ""
    limit: float | None = None
    absolute_limit: float | None = None
    error: str | None = None

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "not measured"
        if self.absolute_limit is not None:
            value = self.measured.median
            return "–" if math.isnan(value) else "met" if value <= self.absolute_limit else "missed"
        if self.limit is None or not self.ratio.values:
            return "–"
        return "met" if self.ratio.median <= self.limit else "missed"

    @classmethod
    def failed(cls, bench: str, backend: str, what: str, error: str, target: str = "") -> Result:
        return cls(bench, backend, what, Series(""), target=target, error=error)


@dataclass
class Section:
    """A details section of the report: a title and Markdown lines."""

    title: str
    lines: list[str] = field(default_factory=list)

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(row) + " |")
        self.lines.append("")
