"""Login and registration throttling: exponential delays per (address, user) and per user.

Why these keys. A limit per address alone lets one attacker lock every login out of an
address that many people share (an office NAT, a balancer without trusted forwarded
headers); a limit per user alone lets anyone lock a user out from everywhere at once.
So guesses are counted twice:

* per **(address, user)** — a few free failures, then delays that double with each
  failure (up to 15 minutes): one source guessing one account is slowed to a crawl
  while everyone else at that address logs in as usual;
* per **user** across all addresses — more free failures and a shorter cap, so a
  distributed guess is slowed too, but the account owner waits at most minutes.

An attempt counts as a failure from the moment it starts (and is taken back when it
succeeds), so a burst of concurrent guesses cannot all slip in before the first one
fails. Registration is throttled per address the same way.

Memory is bounded: keys are fixed-size digests (a 16 MiB user name costs 16 bytes),
entries are forgotten once their delays have run out, and the table holds at most
``max_entries`` keys (the least recently failed go first). Limits are per process.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AuthError
from .http import ApiError, auth_error

if TYPE_CHECKING:
    from .auth import Auth, Tokens

__all__ = ["FailureLimiter", "LoginGuard", "MAX_USERNAME"]

#: Longest user name a login or registration may carry (an email address's limit, RFC 5321).
MAX_USERNAME = 254

Clock = Callable[[], float]


@dataclass
class _Entry:
    failures: int
    last: float


class FailureLimiter:
    """Exponential delays after ``free`` failures per key; memory bounded by pruning.

    After ``n >= free`` failures the next attempt waits ``base * 2 ** (n - free)``
    seconds (at most ``cap``) from the last failure. A key is forgotten ``forget``
    seconds after its last failure (never before its delay has run out).
    """

    def __init__(self, *, free: int, base: float = 1.0, cap: float = 900.0,
                 forget: float = 900.0, max_entries: int = 100_000,
                 clock: Clock = time.monotonic) -> None:
        self.free = free
        self.base = base
        self.cap = cap
        self.forget = max(forget, cap)
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()  # least recently failed first

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _key(key: str) -> bytes:
        return hashlib.blake2b(key.encode(errors="surrogatepass"), digest_size=16).digest()

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures."""
        if failures < self.free:
            return 0.0
        return float(min(self.cap, self.base * 2.0 ** min(failures - self.free, 64)))

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        now = self.clock()
        self._prune(now)
        entry = self._entries.get(self._key(key))
        if entry is None:
            return None
        wait = entry.last + self.delay(entry.failures) - now
        return wait if wait > 0 else None

    def failed(self, key: str) -> None:
        now = self.clock()
        digest = self._key(key)
        entry = self._entries.pop(digest, None) or _Entry(0, now)
        entry.failures += 1
        entry.last = now
        self._entries[digest] = entry  # now the most recent
        self._prune(now)

    def settle(self, key: str) -> None:
        """An attempt counted up front did fail: its delay runs from now, not from its start."""
        digest = self._key(key)
        entry = self._entries.pop(digest, None)
        if entry is not None:
            entry.last = self.clock()
            self._entries[digest] = entry

    def forgive(self, key: str) -> None:
        """Take back one failure (an attempt counted up front that turned out right)."""
        entry = self._entries.get(self._key(key))
        if entry is not None:
            entry.failures -= 1
            if entry.failures <= 0:
                del self._entries[self._key(key)]

    def succeeded(self, key: str) -> None:
        self._entries.pop(self._key(key), None)

    def _prune(self, now: float) -> None:
        entries = self._entries
        while entries:
            digest, oldest = next(iter(entries.items()))
            if len(entries) <= self.max_entries and now - oldest.last <= self.forget:
                return
            del entries[digest]


class LoginGuard:
    """The throttles in front of ``/login`` and ``/register`` for one server process."""

    def __init__(self, *, clock: Clock = time.monotonic, max_entries: int = 100_000) -> None:
        self.pairs = FailureLimiter(free=5, base=1.0, cap=900.0, clock=clock,
                                    max_entries=max_entries)
        self.users = FailureLimiter(free=20, base=1.0, cap=300.0, clock=clock,
                                    max_entries=max_entries)
        self.registrations = FailureLimiter(free=5, base=1.0, cap=60.0, clock=clock,
                                            max_entries=max_entries)

    def entries(self) -> int:
        """How many keys the throttles hold (what bounds their memory)."""
        return len(self.pairs) + len(self.users) + len(self.registrations)

    async def login(self, auth: Auth, provider: str, body: Mapping[str, Any],
                    address: str) -> Tokens:
        """``auth.login`` behind the throttles.

        Raises:
            ApiError: 400 for a user name over ``MAX_USERNAME`` characters, 429 (with
                Retry-After) while a delay runs, 503 while the password workers are
                saturated, and the login's own errors.
        """
        username = body.get("username")
        if provider != "local-userpass" or not isinstance(username, str):
            try:  # anonymous users, API keys (unguessable) and malformed bodies
                return await auth.login(provider, body)
            except AuthError as error:
                raise auth_error(error) from None
        if len(username) > MAX_USERNAME:
            raise ApiError(400, "InvalidParameter",
                           f"username is longer than {MAX_USERNAME} characters")
        user = f"user:{username.strip().lower()}"
        pair = f"pair:{address}\x00{user}"
        waits = [w for w in (self.pairs.retry_after(pair), self.users.retry_after(user)) if w]
        if waits:
            raise ApiError(429, "TooManyRequests", "too many failed logins: try again later",
                           retry_after=max(waits))
        if auth.passwords.saturated():
            raise ApiError(503, "ServerBusy", "the server is busy checking passwords: "
                                              "try again shortly", retry_after=1)
        self.pairs.failed(pair)  # counted up front, taken back on success
        self.users.failed(user)
        try:
            tokens = await auth.login(provider, body)
        except AuthError as error:
            if error.status_code == 401:
                self.pairs.settle(pair)
                self.users.settle(user)
            else:  # not a guess (a disabled provider, a bad body)
                self.pairs.forgive(pair)
                self.users.forgive(user)
            raise auth_error(error) from None
        except BaseException:
            self.pairs.forgive(pair)
            self.users.forgive(user)
            raise
        self.pairs.succeeded(pair)
        self.users.forgive(user)
        return tokens

    def register(self, auth: Auth, address: str) -> None:
        """Count one registration from ``address`` (each one costs an Argon2 hash).

        Raises:
            ApiError: 429 (with Retry-After) while the address must wait, 503 while the
                password workers are saturated.
        """
        if auth.passwords.saturated():
            raise ApiError(503, "ServerBusy", "the server is busy hashing passwords: "
                                              "try again shortly", retry_after=1)
        key = f"register:{address}"
        wait = self.registrations.retry_after(key)
        if wait is not None:
            raise ApiError(429, "TooManyRequests", "too many registrations from this address: "
                                                   "try again later", retry_after=wait)
        self.registrations.failed(key)
