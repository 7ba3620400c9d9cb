"""Reconnect delays: jittered exponential backoff, as Realm's sync client does."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Delays of ``initial × multiplier^n`` capped at ``maximum``, minus up to 25 % jitter.

    ``reset()`` after a connection that worked; a server hint (``retry_after``) wins
    over the computed delay once.
    """

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.25
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self, retry_after: float | None = None) -> float:
        if retry_after is not None:
            self.attempts += 1
            return max(0.0, retry_after)
        base = min(self.maximum, self.initial * self.multiplier ** self.attempts)
        self.attempts += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempts = 0
