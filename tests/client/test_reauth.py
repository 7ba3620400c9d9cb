"""A full client across the end of its credentials: expiry, revocation, rotation.

Real server on loopback, real cache; the only instrument is an httpx event hook that
counts the client's refresh requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from realm_jupyter.client import App, Credentials, Realm, User
from realm_jupyter.client.tokens import TokenStore
from realm_jupyter.errors import AuthError, RealmJupyterError
from tests.client.support import ALICE, CAROL
from tests.support.servers import PASSWORDS, ServerUnderTest, serving
from tests.support.waiting import eventually

ACROSS = "summary BEGINSWITH 'across '"


class Counted:
    """An App whose refresh requests (``POST …/auth/session``) are counted."""

    def __init__(self, server: ServerUnderTest) -> None:
        self.refreshes = 0
        self.http = httpx.AsyncClient(event_hooks={"request": [self._count]},
                                      timeout=httpx.Timeout(30.0))
        self.app = App(server.url, server.app_id, http=self.http)

    async def _count(self, request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/auth/session"):
            self.refreshes += 1

    async def log_in(self, email: str) -> User:
        return await self.app.log_in(Credentials.email_password(email, PASSWORDS[email]))

    async def aclose(self) -> None:
        await self.http.aclose()


@contextlib.asynccontextmanager
async def opened(user: User, cache: Path, errors: list[RealmJupyterError]
                 ) -> AsyncIterator[tuple[Realm, list[str]]]:
    realm = await Realm.open(user, cache=cache, on_error=lambda r, e: errors.append(e))
    states: list[str] = []
    realm.session.add_connection_listener(lambda old, new: states.append(new.value))
    try:
        yield realm, states
    finally:
        await realm.close()


async def test_a_realm_keeps_syncing_across_an_access_token_expiry(store_url: str,
                                                                   tmp_path: Path) -> None:
    async with serving(store_url, access_ttl=3) as server:
        reader, writer = Counted(server), Counted(server)
        alice = await reader.log_in(ALICE.email)  # this access token lives 3 s
        server.service.auth.access_ttl = 3600  # every later one outlives the test
        carol = await writer.log_in(CAROL.email)
        errors: list[RealmJupyterError] = []
        try:
            async with opened(alice, tmp_path / "alice.duckdb", errors) as (realm, states), \
                    opened(carol, tmp_path / "carol.duckdb", errors) as (other, _):
                await realm.subscribe("Item", "team == 'north'")
                await other.subscribe("Item", "team == 'north'")
                written: list[str] = []

                async def write(count: int) -> None:
                    for _ in range(count):
                        summary = f"across {len(written)}"
                        with other.write() as tx:
                            tx.create("Item", {"owner_id": CAROL.id, "summary": summary,
                                               "team": "north"})
                        written.append(summary)
                        await other.session.wait_for_upload(20)

                await write(3)
                await eventually(lambda: realm.count("Item", ACROSS) == 3, 20, "the first writes")
                # writes go on while the token expires and the stream is reopened
                async with asyncio.timeout(30):
                    while reader.refreshes == 0:
                        await write(1)
                await write(3)
                await realm.session.wait_for_download(20)
                frame = realm.query("Item", ACROSS)
                assert sorted(frame["summary"]) == sorted(written)
                changes = realm.changes()
                ours = {f'"{pk}"' for pk in frame["_id"]}  # the log keeps keys as JSON
                arrived = changes[changes["pk"].isin(ours)]
                assert arrived["pk"].is_unique  # each document arrived once
                assert len(arrived) == len(written)
                assert reader.refreshes == 1
                assert states == ["connecting", "connected"]  # no visible hiccup
                assert errors == []
        finally:
            await reader.aclose()
            await writer.aclose()


async def test_a_revoked_login_stops_the_session_with_one_auth_error(
        demo_server: ServerUnderTest, tmp_path: Path) -> None:
    client = Counted(demo_server)
    alice = await client.log_in(ALICE.email)
    errors: list[RealmJupyterError] = []
    try:
        async with opened(alice, tmp_path / "alice.duckdb", errors) as (realm, states):
            await realm.subscribe("Item", "team == 'north'")
            refresh_token = alice.refresh_token
            another = App(demo_server.url, demo_server.app_id)  # e.g. a leaked copy, used
            try:
                await another.transport.request(
                    "DELETE", another.transport.root_path("auth/session"), token=refresh_token)
            finally:
                await another.aclose()
            await eventually(lambda: bool(errors), 20, "the session to stop")
            await asyncio.sleep(0)
            assert len(errors) == 1 and isinstance(errors[0], AuthError)
            assert "\n" not in str(errors[0]) and "log in again" in str(errors[0]) + str(
                errors[0].hint)
            assert realm.session.state.value == "inactive"
            assert states[-1] == "disconnected"
            assert client.refreshes == 0  # a revoked login is not refreshed in a loop
    finally:
        await client.aclose()


async def test_an_expired_stream_whose_refresh_token_was_revoked_stops_once(
        store_url: str, tmp_path: Path) -> None:
    async with serving(store_url, access_ttl=3) as server:
        client = Counted(server)
        alice = await client.log_in(ALICE.email)
        errors: list[RealmJupyterError] = []
        try:
            async with opened(alice, tmp_path / "alice.duckdb", errors) as (realm, _):
                await realm.subscribe("Item", "team == 'north'")
                # the refresh token stops working, the access token lives on until it expires
                record = await server.store.find_refresh_token(
                    hashlib.sha256(alice.refresh_token.encode()).hexdigest())
                await server.store.revoke_token_families(family_id=record.family_id)
                await eventually(lambda: bool(errors), 20, "the session to stop")
                assert [type(e) for e in errors] == [AuthError]
                assert client.refreshes == 1
                assert realm.session.state.value == "inactive"
        finally:
            await client.aclose()


async def test_rotated_refresh_tokens_are_kept_owner_only(demo_server: ServerUnderTest,
                                                          tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "config" / "tokens.json")
    client = Counted(demo_server)
    try:
        alice = await client.log_in(ALICE.email)
        store.bind(alice, demo_server.url, demo_server.app_id, ALICE.email, "local-userpass")
        first = store.get(demo_server.url, demo_server.app_id, ALICE.email)
        assert first is not None and first["refresh_token"] == alice.refresh_token
        await alice.access_token(refresh=True)
        second = store.get(demo_server.url, demo_server.app_id, ALICE.email)
        assert second is not None and second["refresh_token"] != first["refresh_token"]
        assert second["refresh_token"] == alice.refresh_token
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
        # a second kernel resumes from the stored token and rotates it; the first one then
        # refreshes with what is stored, not with the token the second one retired
        other = Counted(demo_server)
        try:
            resumed = await other.app.log_in_with_refresh_token(alice.id, second["refresh_token"])
            store.bind(resumed, demo_server.url, demo_server.app_id, ALICE.email,
                       "local-userpass")
            await alice.access_token(refresh=True)
            await resumed.access_token(refresh=True)
            assert alice.logged_in and resumed.logged_in
        finally:
            await other.aclose()
    finally:
        await client.aclose()
