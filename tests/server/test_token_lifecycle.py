"""Open streams end when their credentials do, and refresh tokens rotate (over real HTTP).

Every way a login stops standing — its access token expires, its user logs out, its
refresh token is presented twice, its API key is revoked, its user is disabled — ends
the streams opened with it, with the documented ``error`` frame (docs/protocol.md §6),
and leaves every other login's streams alone.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.servers import PASSWORDS, ServerUnderTest, serving

from .conftest import USERS, FrameStream, SyncClient, new_client, server_put

ROOT = "/api/client/v2.0"


async def log_in(server: ServerUnderTest, http: httpx.AsyncClient, user: str) -> dict[str, Any]:
    email = USERS[user].email
    response = await http.post(f"{server.url}{ROOT}/app/{server.app_id}/auth/providers/"
                               "local-userpass/login",
                               json={"username": email, "password": PASSWORDS[email]})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def refresh(server: ServerUnderTest, http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(f"{server.url}{ROOT}/auth/session",
                           headers={"Authorization": f"Bearer {token}"})


async def ended(frames: FrameStream) -> dict[str, Any]:
    """Read up to the stream's ``error`` frame; the stream must end right after it."""
    seen = await frames.until(lambda h: h["t"] == "error")
    with pytest.raises(StopAsyncIteration):
        await frames.next()
    header = seen[-1][0]
    assert isinstance(header["error"], str) and header["error"]
    return {key: header[key] for key in ("code", "error_code", "action")}


EXPIRED = {"code": 202, "error_code": "TokenExpired", "action": "RefreshUser"}
REVOKED = {"code": 203, "error_code": "TokenRevoked", "action": "LogOutUser"}
DISABLED = {"code": 221, "error_code": "UserDisabled", "action": "LogOutUser"}


async def synced(client: SyncClient, frames: FrameStream) -> None:
    await client.submit(1, {"Item": ["TRUEPREDICATE"]})
    await client.sync(frames)


async def still_delivers(server: ServerUnderTest, client: SyncClient, frames: FrameStream) -> None:
    item = next(iter(client.replica.docs["Item"]))
    version = await server_put(server, "Item", item, lambda d: d.update(priority=5))
    await frames.until(lambda h: h["t"] == "changes" and h["server_version"] >= version)


async def test_a_stream_ends_when_its_access_token_expires(store_url: str,
                                                           http: httpx.AsyncClient) -> None:
    async with serving(store_url, access_ttl=3) as server:
        alice = await new_client(server, http, "alice")
        async with alice.stream() as frames:
            await synced(alice, frames)
            assert await ended(frames) == EXPIRED  # at expiry, not at the next ping
        response = await alice.post("sync/mark", {"client_id": alice.client_id})
        assert response.status_code == 401


async def test_log_out_ends_the_streams_of_that_login_only(demo_server: ServerUnderTest,
                                                           http: httpx.AsyncClient) -> None:
    first, second = await log_in(demo_server, http, "alice"), await log_in(demo_server, http,
                                                                           "alice")
    one = await new_client(demo_server, http, token=first["access_token"])
    other = await new_client(demo_server, http, token=second["access_token"])
    async with one.stream() as frames, other.stream() as others:
        await synced(one, frames)
        await synced(other, others)
        response = await http.delete(f"{demo_server.url}{ROOT}/auth/session",
                                     headers={"Authorization": f"Bearer {first['refresh_token']}"})
        assert response.status_code == 204
        assert await ended(frames) == REVOKED
        await still_delivers(demo_server, other, others)
    # the access token of the revoked login is refused at once, long before it expires
    assert (await one.post("sync/mark", {"client_id": one.client_id})).status_code == 401
    assert (await refresh(demo_server, http, first["refresh_token"])).status_code == 401
    assert (await other.post("sync/mark", {"client_id": other.client_id})).status_code == 200


async def test_disabling_a_user_ends_their_streams_and_refuses_their_tokens(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    tokens = await log_in(demo_server, http, "alice")
    alice = await new_client(demo_server, http, token=tokens["access_token"])
    bob = await new_client(demo_server, http, "bob")
    async with alice.stream() as frames, bob.stream() as bobs:
        await synced(alice, frames)
        await synced(bob, bobs)
        assert await demo_server.service.auth.set_user_disabled(USERS["alice"].id)
        assert await ended(frames) == DISABLED
        await still_delivers(demo_server, bob, bobs)
    assert (await refresh(demo_server, http, tokens["refresh_token"])).status_code == 401
    email = USERS["alice"].email
    again = await http.post(f"{demo_server.url}{ROOT}/app/{demo_server.app_id}/auth/providers/"
                            "local-userpass/login",
                            json={"username": email, "password": PASSWORDS[email]})
    assert again.status_code == 401
    assert await demo_server.service.auth.set_user_disabled(USERS["alice"].id, False)
    assert await log_in(demo_server, http, "alice")


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_its_login(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    tokens = await log_in(demo_server, http, "alice")
    bystander = await log_in(demo_server, http, "alice")
    first = await refresh(demo_server, http, tokens["refresh_token"])
    assert first.status_code == 201
    rotated = first.json()
    assert set(rotated) == {"access_token", "refresh_token"}
    assert rotated["refresh_token"] != tokens["refresh_token"]
    second = await refresh(demo_server, http, rotated["refresh_token"])
    assert second.status_code == 201
    latest = second.json()
    alice = await new_client(demo_server, http, token=latest["access_token"])
    async with alice.stream() as frames:
        await synced(alice, frames)
        # the first token again: someone else holds a copy, so the whole login goes
        reused = await refresh(demo_server, http, tokens["refresh_token"])
        assert reused.status_code == 401 and "already used" in reused.json()["error"]
        assert await ended(frames) == REVOKED
    assert (await refresh(demo_server, http, latest["refresh_token"])).status_code == 401
    assert (await alice.post("sync/mark", {"client_id": alice.client_id})).status_code == 401
    # another login of the same user is not touched
    assert (await refresh(demo_server, http, bystander["refresh_token"])).status_code == 201


async def test_revoking_an_api_key_ends_its_streams_and_its_refresh_tokens(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    auth = demo_server.service.auth
    key, _ = await auth.create_api_key("notebook", USERS["alice"].id)
    login = f"{demo_server.url}{ROOT}/app/{demo_server.app_id}/auth/providers/api-key/login"
    tokens = (await http.post(login, json={"key": key})).json()
    by_key = await new_client(demo_server, http, token=tokens["access_token"])
    by_password = await new_client(demo_server, http, "alice")
    async with by_key.stream() as frames, by_password.stream() as others:
        await synced(by_key, frames)
        await synced(by_password, others)
        (record,) = [k for k in await demo_server.store.list_api_keys() if k.name == "notebook"]
        assert await auth.revoke_api_key(record.id)
        assert await ended(frames) == REVOKED
        await still_delivers(demo_server, by_password, others)
    assert (await refresh(demo_server, http, tokens["refresh_token"])).status_code == 401
    assert (await http.post(login, json={"key": key})).status_code == 401
    assert not await auth.revoke_api_key("0" * 24)


@pytest.mark.postgres
async def test_a_revocation_made_on_one_process_ends_streams_on_another(
        postgres_url: str, http: httpx.AsyncClient) -> None:
    from .test_two_processes import server_process

    async with serving(postgres_url) as local, server_process(postgres_url, local.app_id) as remote:
        tokens = await log_in(local, http, "alice")
        key, _ = await local.service.auth.create_api_key("nb", USERS["bob"].id)
        login = f"{remote.url}{ROOT}/app/{remote.app_id}/auth/providers/api-key/login"
        by_key = (await http.post(login, json={"key": key})).json()
        alice = await new_client(remote, http, token=tokens["access_token"])  # type: ignore[arg-type]
        bob = await new_client(remote, http, token=by_key["access_token"])  # type: ignore[arg-type]
        carol = await new_client(remote, http, "carol")  # type: ignore[arg-type]
        async with alice.stream() as frames, bob.stream() as bobs, carol.stream() as carols:
            for client, stream in ((alice, frames), (bob, bobs), (carol, carols)):
                await synced(client, stream)
            # log out through this process: alice's stream at the other one ends
            response = await http.delete(f"{local.url}{ROOT}/auth/session",
                                         headers={"Authorization":
                                                  f"Bearer {tokens['refresh_token']}"})
            assert response.status_code == 204
            assert await ended(frames) == REVOKED
            (record,) = await local.store.list_api_keys()
            assert await local.service.auth.revoke_api_key(record.id)
            assert await ended(bobs) == REVOKED
            assert await local.service.auth.set_user_disabled(USERS["carol"].id)
            assert await ended(carols) == DISABLED


async def test_a_refresh_token_from_before_rotation_rotates_and_is_caught_when_reused(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    import hashlib
    import time

    from realm_jupyter.server.storage import RefreshTokenRecord

    old = "a-refresh-token-issued-by-an-older-server"
    await demo_server.store.add_refresh_token(RefreshTokenRecord(
        hashlib.sha256(old.encode()).hexdigest(), USERS["alice"].id,
        int(time.time() * 1000) + 60_000))
    first = await refresh(demo_server, http, old)
    assert first.status_code == 201, first.text
    rotated = first.json()["refresh_token"]
    assert (await refresh(demo_server, http, old)).status_code == 401  # reuse
    assert (await refresh(demo_server, http, rotated)).status_code == 401  # the family went
