"""The store's files are its owner's, the token secret lives outside the data, and a store
belongs to one app."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import httpx
import jwt
import pytest

from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.errors import ConfigError, StorageError
from realm_jupyter.server.appdir import load_app
from realm_jupyter.server.auth import Auth
from realm_jupyter.server.storage import open_store
from tests.support.servers import serving

from .conftest import USERS, login

SECRET_VARIABLE = "REALM_SIGNING_SECRET"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_secret_only_in(secret: str, directory: Path, allowed: set[str]) -> None:
    for file in directory.iterdir():
        if file.name not in allowed:
            assert secret.encode() not in file.read_bytes(), f"the secret is in {file.name}"


async def accepted(http: httpx.AsyncClient, url: str, secret: str, app_id: str) -> bool:
    now = int(time.time())
    token = jwt.encode({"sub": USERS["alice"].id, "typ": "access", "iat": now, "exp": now + 600,
                        "aud": app_id}, secret, algorithm="HS256")
    response = await http.get(f"{url}/api/client/v2.0/auth/profile",
                              headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


async def test_a_new_sqlite_store_is_owner_only_and_its_data_holds_no_secret(
        tmp_path: Path, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    directory = tmp_path / "app" / ".realm"
    async with serving(f"sqlite:///{directory / 'store.sqlite3'}") as server:
        await login(server, http, "alice")  # a write: a refresh token
        secret = server.service.auth.secret
        files = {file.name: mode(file) for file in directory.iterdir()}
        assert {"store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm",
                "store.sqlite3.secret"} <= set(files)
        assert set(files.values()) == {0o600}, files
        assert mode(directory) == 0o700
        assert (directory / "store.sqlite3.secret").read_text().strip() == secret
        assert await server.store.get_meta("signing_secret") is None
        assert await accepted(http, server.url, secret, server.app_id)
        assert_secret_only_in(secret, directory, {"store.sqlite3.secret"})


async def test_an_older_store_is_tightened_and_its_secret_moved_out(
        tmp_path: Path, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    directory = tmp_path / ".realm"
    url = f"sqlite:///{directory / 'store.sqlite3'}"
    old_secret = "an-older-version-kept-this-secret-in-the-data-file"
    store = open_store(url)
    await store.open({}, {})
    await store.set_meta("signing_secret", old_secret)
    await store.close()
    for file in directory.iterdir():
        os.chmod(file, 0o644)
    os.chmod(directory, 0o755)
    assert old_secret.encode() in (directory / "store.sqlite3").read_bytes() + b"".join(
        f.read_bytes() for f in directory.glob("store.sqlite3-*"))
    async with serving(url) as server:
        assert server.service.auth.secret == old_secret  # tokens it signed stay valid
        assert await server.store.get_meta("signing_secret") is None
        assert await accepted(http, server.url, old_secret, server.app_id)
        assert {mode(file) for file in directory.iterdir()} == {0o600}
        assert mode(directory) == 0o700
        assert_secret_only_in(old_secret, directory, {"store.sqlite3.secret"})


async def test_the_secret_can_come_from_the_environment(
        store_url: str, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    given = "a-secret-from-the-environment-0123456789"
    monkeypatch.setenv(SECRET_VARIABLE, given)
    async with serving(store_url) as server:
        assert server.service.auth.secret == given
        assert await server.store.get_meta("signing_secret") is None
        assert await accepted(http, server.url, given, server.app_id)
        if store_url.startswith("sqlite:///"):
            assert not Path(store_url.removeprefix("sqlite:///") + ".secret").exists()


async def test_a_short_secret_in_the_environment_is_one_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, "too-short")
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    await store.open({}, {})
    try:
        with pytest.raises(ConfigError, match="at least 32 characters"):
            await Auth.create(load_app(DEMO_APP_DIR), store)
    finally:
        await store.close()


async def test_a_store_of_another_app_is_refused(store_url: str) -> None:
    config = load_app(DEMO_APP_DIR)
    store = open_store(store_url)
    await store.open({}, {})
    try:
        await store.claim_app("another-app")
        await store.claim_app("another-app")  # its own app opens it again
    finally:
        await store.close()
    with pytest.raises(RuntimeError):  # the server does not start
        async with serving(store_url):
            pass
    store = open_store(store_url)
    await store.open({}, {})
    try:
        with pytest.raises(StorageError) as refused:
            await store.claim_app(config.app_id)
        message = str(refused.value)
        assert "another-app" in message and config.app_id in message and "\n" not in message
    finally:
        await store.close()
