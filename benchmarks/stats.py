"""Small statistics: medians, spreads and percentiles of a handful of runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Series", "percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Series:
    """One measured quantity over several runs, with its unit."""

    unit: str
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(float(value))

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    @property
    def low(self) -> float:
        return min(self.values) if self.values else math.nan

    @property
    def high(self) -> float:
        return max(self.values) if self.values else math.nan

    def spread_pct(self) -> float:
        """(max − min) / median, in percent: how noisy the runs were."""
        if not self.values or self.median == 0:
            return math.nan
        return 100 * (self.high - self.low) / abs(self.median)

    def format(self, digits: int | None = None) -> str:
        """``'4.81 s (4.62–5.10, n=3)'``."""
        if not self.values:
            return "–"
        fmt = _formatter(self.median, digits)
        unit = f" {self.unit}" if self.unit else ""
        if len(self.values) == 1:
            return f"{fmt(self.median)}{unit}"
        return f"{fmt(self.median)}{unit} ({fmt(self.low)}–{fmt(self.high)}, n={len(self.values)})"


def _formatter(reference: float, digits: int | None) -> Callable[[float], str]:
    if digits is None:
        magnitude = abs(reference)
        digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2 if magnitude >= 0.1 else 3

    def fmt(value: float) -> str:
        return f"{value:,.{digits}f}"

    return fmt
