"""Auth over real HTTP: providers, tokens, refresh and logout, and every way a request is refused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import PASSWORDS, ServerUnderTest, serving
from tests.support.waiting import eventually

from .conftest import USERS, login, new_client

ALICE = "alice@example.com"
ROOT = "/api/client/v2.0"


def app_url(server: ServerUnderTest, path: str, app_id: str | None = None) -> str:
    return f"{server.url}{ROOT}/app/{app_id or server.app_id}/{path}"


async def log_in(http: httpx.AsyncClient, server: ServerUnderTest, provider: str,
                 body: dict[str, Any]) -> httpx.Response:
    return await http.post(app_url(server, f"auth/providers/{provider}/login"), json=body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def profile(http: httpx.AsyncClient, server: ServerUnderTest, token: str) -> httpx.Response:
    return await http.get(f"{server.url}{ROOT}/auth/profile", headers=bearer(token))


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code and isinstance(body["error"], str) and body["error"]
    return body


# --------------------------------------------------------------------------- providers


async def test_each_provider_logs_in(demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    alice = await log_in(http, demo_server, "local-userpass",
                         {"username": ALICE, "password": PASSWORDS[ALICE]})
    assert alice.status_code == 200
    tokens = alice.json()
    assert set(tokens) == {"access_token", "refresh_token", "user_id", "device_id"}
    assert tokens["user_id"] == USERS["alice"].id
    me = (await profile(http, demo_server, tokens["access_token"])).json()
    assert me["user_id"] == USERS["alice"].id and me["data"] == {"email": ALICE}
    assert me["custom_data"]["teams"] == ["north"]  # from the UserProfile collection

    first = (await log_in(http, demo_server, "anon-user", {})).json()
    second = (await log_in(http, demo_server, "anon-user", {})).json()
    assert first["user_id"] != second["user_id"]  # a new user at each anonymous login
    anon = (await profile(http, demo_server, first["access_token"])).json()
    assert anon["identities"] == [{"id": first["user_id"], "provider_type": "anon-user"}]

    key, user_id = await demo_server.service.auth.create_api_key("ci")
    by_key = await log_in(http, demo_server, "api-key", {"key": key})
    assert by_key.status_code == 200 and by_key.json()["user_id"] == user_id
    shared_key, _ = await demo_server.service.auth.create_api_key("alice", USERS["alice"].id)
    assert (await log_in(http, demo_server, "api-key",
                         {"key": shared_key})).json()["user_id"] == USERS["alice"].id
    assert_error(await log_in(http, demo_server, "api-key", {"key": key + "x"}), 401,
                 "InvalidSession")
    assert_error(await log_in(http, demo_server, "api-key", {}), 400, "InvalidParameter")
    assert_error(await log_in(http, demo_server, "custom-jwt", {}), 400, "InvalidParameter")


async def test_wrong_passwords_are_refused_then_rate_limited(demo_server: ServerUnderTest,
                                                             http: httpx.AsyncClient) -> None:
    from realm_jupyter.server.logins import LoginGuard

    demo_server.service.auth.guard = LoginGuard(clock=lambda: 1000.0)  # time stands still
    wrong = {"username": ALICE, "password": "not-her-password"}
    body = assert_error(await log_in(http, demo_server, "local-userpass", wrong), 401,
                        "InvalidSession")
    assert "not-her-password" not in body["error"]
    assert_error(await log_in(http, demo_server, "local-userpass",
                              {"username": "nobody@example.com", "password": "whatever"}),
                 401, "InvalidSession")
    assert_error(await log_in(http, demo_server, "local-userpass", {"username": ALICE}), 400,
                 "InvalidParameter")
    for _ in range(4):  # five failures for alice from this address: then delays begin
        assert (await log_in(http, demo_server, "local-userpass", wrong)).status_code == 401
    limited = await log_in(http, demo_server, "local-userpass", wrong)
    assert_error(limited, 429, "TooManyRequests")
    assert 0 < int(limited.headers["Retry-After"]) <= 2
    # the right password does not get through while the delay lasts
    right = await log_in(http, demo_server, "local-userpass",
                         {"username": ALICE, "password": PASSWORDS[ALICE]})
    assert right.status_code == 429


async def test_register_refresh_and_log_out(demo_server: ServerUnderTest,
                                            http: httpx.AsyncClient) -> None:
    register = app_url(demo_server, "auth/providers/local-userpass/register")
    created = await http.post(register, json={"email": "Dana@Example.com", "password": "dana-pw1"})
    assert created.status_code == 201
    assert_error(await http.post(register, json={"email": "dana@example.com",
                                                 "password": "other-pw"}), 409, "AccountNameInUse")
    assert_error(await http.post(register, json={"email": "no-at-sign", "password": "long-enough"}),
                 400, "InvalidParameter")
    assert_error(await http.post(register, json={"email": "eve@example.com", "password": "123"}),
                 400, "InvalidParameter")
    assert_error(await http.post(register, json={"email": "eve@example.com"}), 400,
                 "InvalidParameter")
    tokens = (await log_in(http, demo_server, "local-userpass",
                           {"username": "dana@example.com", "password": "dana-pw1"})).json()
    assert (await demo_server.store.find_user_by_email("dana@example.com")).id == tokens["user_id"]

    session = f"{demo_server.url}{ROOT}/auth/session"
    refreshed = await http.post(session, headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 201
    me = await profile(http, demo_server, refreshed.json()["access_token"])
    assert me.status_code == 200 and me.json()["user_id"] == tokens["user_id"]
    assert_error(await http.post(session, headers=bearer(tokens["access_token"])), 401,
                 "InvalidSession")  # an access token is no refresh token

    assert (await http.delete(session, headers=bearer(tokens["refresh_token"]))).status_code == 204
    assert_error(await http.post(session, headers=bearer(tokens["refresh_token"])), 401,
                 "InvalidSession")
    assert_error(await http.post(session), 401, "InvalidSession")


# --------------------------------------------------------------------------- refused tokens


def forged(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


async def assert_refused_everywhere(http: httpx.AsyncClient, server: ServerUnderTest,
                                    token: str | None, client_id: str) -> None:
    headers = bearer(token) if token else {}
    body = {"protocol": PROTOCOL_VERSION, "client_id": client_id, "version": 1, "queries": {},
            "cursor": 0, "changesets": []}
    for method, path in (("GET", "sync/schema"), ("POST", "sync/clients"),
                         ("POST", "sync/query"), ("POST", "sync/stream"), ("POST", "sync/mark"),
                         ("POST", "sync/upload")):
        response = await http.request(method, app_url(server, path), json=body, headers=headers)
        assert_error(response, 401, "InvalidSession")
    assert_error(await http.get(f"{server.url}{ROOT}/auth/profile", headers=headers), 401,
                 "InvalidSession")


async def test_expired_forged_and_missing_tokens_are_refused(tmp_path: Path,
                                                             http: httpx.AsyncClient) -> None:
    async with serving(f"sqlite:///{tmp_path / 'store.sqlite3'}", access_ttl=1) as server:
        token = await login(server, http, "alice")
        client = await new_client(server, http, token=token)
        secret = server.service.auth.secret
        now = int(time.time())
        claims = {"sub": USERS["alice"].id, "typ": "access", "iat": now, "exp": now + 600,
                  "aud": server.app_id}
        assert (await profile(http, server, forged(claims, secret))).status_code == 200
        for bad in (forged({**claims, "iat": now - 20, "exp": now - 10}, secret),  # expired
                    forged(claims, "not-the-server-secret-but-long-enough-for-hs256"),
                    forged({**claims, "typ": "refresh"}, secret),
                    forged({**claims, "aud": "another-app"}, secret),
                    forged({**claims, "sub": "no-such-user"}, secret),
                    jwt.encode(claims, None, algorithm="none"),
                    "not.a.jwt", None):
            await assert_refused_everywhere(http, server, bad, client.client_id)
        # a real token of this server expires after access_ttl seconds

        async def expired() -> bool:
            return (await profile(http, server, token)).status_code == 401

        await eventually(expired, 10, "the access token to expire")
        await assert_refused_everywhere(http, server, token, client.client_id)


# --------------------------------------------------------------------------- malformed requests


async def test_malformed_requests_get_clear_errors(tmp_path: Path,
                                                   http: httpx.AsyncClient) -> None:
    async with serving(f"sqlite:///{tmp_path / 'store.sqlite3'}", max_body=4096) as server:
        client = await new_client(server, http, "alice")
        headers = client.headers
        query = app_url(server, "sync/query")
        body = {"protocol": PROTOCOL_VERSION, "client_id": client.client_id, "version": 1,
                "queries": {"Item": ["TRUEPREDICATE"]}}
        assert (await http.post(query, json=body, headers=headers)).status_code == 200

        assert_error(await http.post(app_url(server, "sync/query", "no-such-app"), json=body,
                                     headers=headers), 404, "AppNotFound")
        assert_error(await http.post(app_url(server, "auth/providers/anon-user/login",
                                             "no-such-app"), json={}), 404, "AppNotFound")
        big = {**body, "queries": {"Item": ["TRUEPREDICATE"] * 1000}}
        assert_error(await http.post(query, json=big, headers=headers), 413, "BodyTooLarge")

        async def chunks() -> Any:  # no Content-Length: the limit holds while reading
            for _ in range(10):
                yield b" " * 1000

        assert_error(await http.post(query, content=chunks(), headers=headers), 413,
                     "BodyTooLarge")
        assert_error(await http.post(query, content=b'{"protocol": 1, "client_id": ',
                                     headers=headers), 400, "InvalidParameter")
        assert_error(await http.post(query, content=b"[1, 2]", headers=headers), 400,
                     "InvalidParameter")
        for path in ("sync/query", "sync/stream", "sync/upload"):
            assert_error(await http.post(app_url(server, path), headers=headers,
                                         json={**body, "protocol": PROTOCOL_VERSION + 1,
                                               "changesets": []}),
                         400, "ProtocolVersion")
        assert_error(await http.post(query, json={**body, "version": 0}, headers=headers), 400,
                     "InvalidParameter")
        assert_error(await http.post(query, json={**body, "queries": {"Item": "x"}},
                                     headers=headers), 400, "InvalidParameter")
        assert_error(await http.post(query, json={**body, "client_id": "0" * 24},
                                     headers=headers), 404, "ClientNotFound")
        assert_error(await http.post(app_url(server, "sync/stream"), headers=headers,
                                     json={**body, "cursor": -1}), 400, "InvalidParameter")
        bob = await new_client(server, http, "bob")
        assert_error(await http.post(query, json={**body, "client_id": bob.client_id},
                                     headers=headers), 403, "Forbidden")
        assert_error(await http.post(app_url(server, "sync/stream"), headers=headers,
                                     json={**body, "bootstrap": {"version": "x"}}),
                     400, "InvalidParameter")
        health = (await http.get(f"{server.url}/api/health")).json()
        assert health["status"] == "ok" and health["app_id"] == server.app_id


@pytest.mark.parametrize("provider", ["anon-user", "api-key", "local-userpass"])
async def test_disabled_providers_refuse_logins(tmp_path: Path, http: httpx.AsyncClient,
                                                provider: str) -> None:
    import json
    import shutil

    from realm_jupyter.demo import DEMO_APP_DIR

    app_dir = Path(shutil.copytree(DEMO_APP_DIR, tmp_path / "app"))
    providers = app_dir / "auth" / "providers.json"
    config = json.loads(providers.read_text())
    if provider == "local-userpass":  # enabled, but this server cannot send confirmations
        config[provider]["config"]["autoConfirm"] = False
    else:
        config[provider]["disabled"] = True
    providers.write_text(json.dumps(config))
    async with serving(f"sqlite:///{tmp_path / 'store.sqlite3'}", app_dir) as server:
        if provider == "local-userpass":
            refused = await http.post(app_url(server, "auth/providers/local-userpass/register"),
                                      json={"email": "eve@example.com", "password": "eve-pw-1"})
            assert "autoConfirm" in assert_error(refused, 400, "InvalidParameter")["error"]
            assert await server.store.find_user_by_email("eve@example.com") is None
            assert await login(server, http, "alice")  # existing users still log in
            return
        key, _ = await server.service.auth.create_api_key("k")
        body = {"key": key} if provider == "api-key" else {}
        assert_error(await log_in(http, server, provider, body), 400, "InvalidParameter")
