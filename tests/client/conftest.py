"""Fixtures of the client suite: logged-in demo users and realms on real cache files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from realm_jupyter.client import App, Credentials, Realm, User
from tests.support.servers import PASSWORDS, ServerUnderTest


class Clients:
    """Demo users logged in to one server, and the realms they open (closed at teardown)."""

    def __init__(self, server: ServerUnderTest, directory: Path, url: str | None = None) -> None:
        self.server = server
        self.directory = directory
        self.url = url or server.url
        self._users: dict[str, User] = {}
        self._apps: list[App] = []
        self.realms: list[Realm] = []

    async def user(self, email: str) -> User:
        if email not in self._users:
            app = App(self.url, self.server.app_id)
            self._apps.append(app)
            self._users[email] = await app.log_in(
                Credentials.email_password(email, PASSWORDS[email]))
        return self._users[email]

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.duckdb"

    async def open(self, email: str, name: str | None = None, **options: Any) -> Realm:
        """Open (or reopen) the cache ``name`` (default: the user's name) for ``email``."""
        realm = await Realm.open(await self.user(email),
                                 cache=self.path(name or email.split("@")[0]), **options)
        self.realms.append(realm)
        return realm

    async def aclose(self) -> None:
        for realm in self.realms:
            await realm.close()
        for app in self._apps:
            await app.aclose()


@pytest.fixture
async def clients(demo_server: ServerUnderTest, tmp_path: Path) -> AsyncIterator[Clients]:
    """Open realms for the demo users against ``demo_server`` (both store backends)."""
    pool = Clients(demo_server, tmp_path)
    try:
        yield pool
    finally:
        await pool.aclose()
