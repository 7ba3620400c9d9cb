"""Login defences over real HTTP: throttling keys and delays, forwarded headers, bounded
limiter memory, Argon2 for unknown users, and hashing that never blocks the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from argon2 import PasswordHasher

from realm_jupyter.server.logins import MAX_USERNAME, FailureLimiter, LoginGuard
from realm_jupyter.server.runner import ServerLimits
from tests.support.servers import ServerUnderTest, serving
from tests.support.waiting import eventually

from .test_auth import app_url, assert_error, log_in

ALICE, BOB = "carol@example.com", "dave@example.com"
PASSWORDS = {ALICE: "carol-pw-1", BOB: "dave-pw-1"}
WRONG = {"username": ALICE, "password": "not-her-password"}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_clock(server: ServerUnderTest, **options: Any) -> Clock:
    clock = Clock()
    server.service.auth.guard = LoginGuard(clock=clock, **options)
    return clock


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


def cheap_argon2() -> PasswordHasher:
    """Real Argon2id at its lowest cost: these tests count attempts, not CPU."""
    return PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)


@contextlib.asynccontextmanager
async def server_with_users(tmp_path: Path, hasher: PasswordHasher | None = None,
                            **options: Any) -> AsyncIterator[ServerUnderTest]:
    """The demo app with no demo data and two users whose hashes are cheap to check."""
    async with serving(sqlite(tmp_path), demo_size=None, **options) as server:
        auth = server.service.auth
        auth.passwords.hasher = cheap_argon2()
        for email, password in PASSWORDS.items():
            await auth.add_user(email, password)
        if hasher is not None:
            auth.passwords.hasher = hasher
        yield server


async def attempt(http: httpx.AsyncClient, server: ServerUnderTest, body: dict[str, Any],
                  forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await http.post(app_url(server, "auth/providers/local-userpass/login"), json=body,
                           headers=headers)


def right(email: str) -> dict[str, str]:
    return {"username": email, "password": PASSWORDS[email]}


# --------------------------------------------------------------------------- keys and delays


async def test_one_attacker_does_not_lock_out_other_users_at_the_same_address(
        tmp_path: Path, http: httpx.AsyncClient) -> None:
    async with server_with_users(tmp_path) as server:
        clock = fake_clock(server)
        for _ in range(5):  # five free failures for (this address, alice)
            assert_error(await attempt(http, server, WRONG), 401, "InvalidSession")
        waits = []
        for _ in range(3):  # then each failure doubles the delay
            limited = await attempt(http, server, WRONG)
            assert_error(limited, 429, "TooManyRequests")
            waits.append(int(limited.headers["Retry-After"]))
            assert (await attempt(http, server, right(ALICE))).status_code == 429
            clock.now += waits[-1]
            assert_error(await attempt(http, server, WRONG), 401, "InvalidSession")
        assert waits == [2, 3, 5]  # 1, 2 and 4 seconds, rounded up
        # everyone else behind the same address logs in as usual
        assert (await attempt(http, server, right(BOB))).status_code == 200
        assert (await log_in(http, server, "anon-user", {})).status_code == 200
        clock.now += 60
        assert (await attempt(http, server, right(ALICE))).status_code == 200


async def test_guesses_from_many_addresses_slow_down_that_user_only(
        tmp_path: Path, http: httpx.AsyncClient) -> None:
    trusted = ServerLimits(forwarded_allow_ips="127.0.0.1")
    async with server_with_users(tmp_path, limits=trusted) as server:
        clock = fake_clock(server)
        for n in range(20):  # one guess from each of twenty addresses: no pair is limited
            assert_error(await attempt(http, server, WRONG, f"198.51.100.{n}"), 401,
                         "InvalidSession")
        fresh = "198.51.100.200"
        assert_error(await attempt(http, server, right(ALICE), fresh), 429, "TooManyRequests")
        assert (await attempt(http, server, right(BOB), fresh)).status_code == 200
        clock.now += 2
        assert (await attempt(http, server, right(ALICE), fresh)).status_code == 200


async def test_registration_is_throttled_per_address(tmp_path: Path,
                                                     http: httpx.AsyncClient) -> None:
    async with server_with_users(tmp_path) as server:
        clock = fake_clock(server)
        register = app_url(server, "auth/providers/local-userpass/register")
        for n in range(5):
            created = await http.post(register, json={"email": f"u{n}@example.com",
                                                      "password": "long-enough"})
            assert created.status_code == 201, created.text
        throttled = await http.post(register, json={"email": "u5@example.com",
                                                    "password": "long-enough"})
        assert_error(throttled, 429, "TooManyRequests")
        assert int(throttled.headers["Retry-After"]) >= 1
        assert await server.store.find_user_by_email("u5@example.com") is None
        clock.now += 2
        assert (await http.post(register, json={"email": "u5@example.com",
                                                "password": "long-enough"})).status_code == 201
        long_email = "x" * 100_000 + "@example.com"  # refused by length, and not echoed back
        clock.now += 60
        refused = await http.post(register, json={"email": long_email, "password": "long-enough"})
        assert len(assert_error(refused, 400, "InvalidParameter")["error"]) < 200


# --------------------------------------------------------------------------- forwarded headers


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
        tmp_path: Path, http: httpx.AsyncClient) -> None:
    async with server_with_users(tmp_path) as server:  # the default: trust no proxy
        fake_clock(server)
        for n in range(5):
            assert_error(await attempt(http, server, WRONG, f"203.0.113.{n}"), 401,
                         "InvalidSession")
        # a new X-Forwarded-For does not make a new address: still the same pair
        assert_error(await attempt(http, server, WRONG, "203.0.113.99"), 429, "TooManyRequests")
    async with server_with_users(tmp_path / "trusted",
                                 limits=ServerLimits(forwarded_allow_ips="127.0.0.1")) as server:
        fake_clock(server)
        for _ in range(5):
            assert_error(await attempt(http, server, WRONG, "203.0.113.1"), 401,
                         "InvalidSession")
        assert_error(await attempt(http, server, WRONG, "203.0.113.1"), 429, "TooManyRequests")
        # behind a trusted proxy, the forwarded address is the client's
        assert_error(await attempt(http, server, WRONG, "203.0.113.2"), 401, "InvalidSession")


# --------------------------------------------------------------------------- bounded memory


async def test_limiter_memory_stays_bounded(tmp_path: Path, http: httpx.AsyncClient) -> None:
    async with server_with_users(tmp_path) as server:
        clock = fake_clock(server, max_entries=50)
        guard: LoginGuard = server.service.auth.guard
        huge = "a" * (1 << 20) + "@example.com"
        for _ in range(5):  # a 1 MiB user name is refused before it is looked at
            refused = await attempt(http, server, {"username": huge, "password": "pw-pw-pw"})
            assert_error(refused, 400, "InvalidParameter")
        assert guard.entries() == 0
        for n in range(120):  # more distinct users than the table holds
            assert_error(await attempt(http, server, {"username": f"nobody{n}@example.com",
                                                      "password": "pw-pw-pw"}), 401,
                         "InvalidSession")
        assert guard.entries() <= 100  # 50 pairs and 50 users at most
        clock.now += 3600  # an hour later every entry has expired
        assert_error(await attempt(http, server, WRONG), 401, "InvalidSession")
        assert guard.entries() == 2  # just (address, alice) and alice


def test_limiter_keys_are_digests_and_expire() -> None:
    clock = Clock()
    limiter = FailureLimiter(free=1, base=1.0, cap=10.0, forget=10.0, clock=clock)
    names = [str(n) * (MAX_USERNAME * 10) for n in range(10)]
    for name in names:
        limiter.failed(name)
    assert len(limiter) == 10
    assert all(len(key) == 16 for key in limiter._entries)  # fixed size, whatever the name
    assert limiter.retry_after(names[0]) == 1.0
    clock.now += 11
    assert limiter.retry_after(names[0]) is None and len(limiter) == 0


# --------------------------------------------------------------------------- Argon2


class CountingHasher(PasswordHasher):
    """The real Argon2id hasher, counting how often it verifies."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=256, parallelism=1)
        self.verified = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.verified += 1
        return super().verify(hash, password)


async def test_unknown_emails_run_argon2_like_known_ones(tmp_path: Path,
                                                         http: httpx.AsyncClient) -> None:
    async with server_with_users(tmp_path) as server:
        hasher = CountingHasher()
        server.service.auth.passwords.hasher = hasher
        unknown = await attempt(http, server, {"username": "nobody@example.com",
                                               "password": "whatever"})
        known = await attempt(http, server, WRONG)
        assert hasher.verified == 2  # one verification each, the unknown one on a dummy hash
        assert unknown.json() == known.json()
        assert_error(unknown, 401, "InvalidSession")


class GatedHasher(PasswordHasher):
    """Argon2id that holds every verification until ``gate`` opens (a stand-in for slow CPUs)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=256, parallelism=1)
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.entered = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self.lock:
            self.entered += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.gate.wait(timeout=5)  # a safety net: the test opens it
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


async def test_health_is_answered_while_logins_hash(tmp_path: Path,
                                                    http: httpx.AsyncClient) -> None:
    async with server_with_users(tmp_path) as server:
        passwords = server.service.auth.passwords
        hasher = GatedHasher()
        passwords.hasher = hasher
        finished: list[str] = []

        async def one_login(n: int) -> int:
            response = await attempt(http, server, right(ALICE) if n % 2 else
                                     {"username": f"u{n}@example.com", "password": "pw-pw-pw"})
            finished.append(f"login {n}")
            return response.status_code

        logins = [asyncio.create_task(one_login(n)) for n in range(8)]
        await eventually(lambda: hasher.entered >= passwords.workers, what="hashing to start")
        health = await http.get(f"{server.url}/api/health")
        finished.append("health")
        assert health.status_code == 200
        hasher.gate.set()
        statuses = await asyncio.gather(*logins)
        assert finished[0] == "health"  # answered while every login was still hashing
        assert sorted(statuses) == [200] * 4 + [401] * 4
        assert hasher.most_at_once <= passwords.workers  # a bounded pool


async def test_logins_beyond_the_waiting_bound_get_503(tmp_path: Path,
                                                       http: httpx.AsyncClient) -> None:
    async with server_with_users(tmp_path) as server:
        passwords = server.service.auth.passwords
        hasher = GatedHasher()
        passwords.hasher = hasher
        passwords.max_pending = 2
        waiting = [asyncio.create_task(attempt(http, server, right(BOB))) for _ in range(2)]
        await eventually(lambda: passwords.pending >= 2, what="two hashes pending")
        busy = await attempt(http, server, right(ALICE))
        assert_error(busy, 503, "ServerBusy")
        assert busy.headers["Retry-After"]
        hasher.gate.set()
        assert [r.status_code for r in await asyncio.gather(*waiting)] == [200, 200]
        assert (await attempt(http, server, right(ALICE))).status_code == 200


@pytest.mark.parametrize("username", ["", "x" * (MAX_USERNAME + 1)])
async def test_odd_user_names_get_clear_answers(tmp_path: Path, http: httpx.AsyncClient,
                                                username: str) -> None:
    async with server_with_users(tmp_path) as server:
        response = await attempt(http, server, {"username": username, "password": "pw-pw-pw"})
        assert response.status_code in (400, 401)
        assert len(response.text) < 300
