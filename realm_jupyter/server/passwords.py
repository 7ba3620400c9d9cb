"""Argon2id password hashing off the event loop, on a small bounded pool of threads.

One Argon2id verification takes tens of milliseconds of CPU by design. Run on the
event loop, thirty concurrent logins stalled every other request (health checks,
streams, uploads) for seconds; so hashing runs on ``workers`` threads (argon2-cffi
releases the GIL), and at most ``max_pending`` hashes may wait for them — beyond
that, logins are refused with 503 instead of queueing without bound.

``verify`` of an unknown user checks the password against a dummy hash made with the
same parameters, so a login takes as long whether or not the email exists.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PasswordHashing"]

T = TypeVar("T")


class PasswordHashing:
    """Hash and verify passwords with Argon2id on a bounded pool of worker threads."""

    def __init__(self, *, workers: int = 2, max_pending: int = 64,
                 hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self.workers = workers
        self.max_pending = max_pending
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._dummy: str | None = None

    @property
    def pending(self) -> int:
        """Hashes queued or running now."""
        return self._pending

    def saturated(self) -> bool:
        """True when another hash would wait behind ``max_pending`` others."""
        return self._pending >= self.max_pending

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                                thread_name_prefix="realm-argon2")
            pool = self._pool
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        finally:
            self._pending -= 1

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; with no stored hash, False after the same work."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            stored = self._dummy
            await self._run(self._check, stored, password)
            return False
        return await self._run(self._check, stored, password)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(stored, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        """Let the worker threads go (a hash still running finishes first)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
