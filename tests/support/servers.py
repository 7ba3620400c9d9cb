"""Real sync servers for tests: uvicorn on a free loopback port, in the test's own loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realm_jupyter.client import App, Credentials, Realm, User
from realm_jupyter.demo import DEMO_APP_DIR, DEMO_USERS
from realm_jupyter.server.app import create_app
from realm_jupyter.server.runner import RunningServer, ServerLimits, start_server

DEMO_APP_ID = "realm-jupyter-demo"
PASSWORDS = {user.email: user.password for user in DEMO_USERS}


@dataclass
class ServerUnderTest:
    running: RunningServer
    app_id: str
    store_url: str

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def service(self) -> Any:
        return self.running.server.config.app.state.service

    @property
    def store(self) -> Any:
        return self.service.store

    def app(self) -> App:
        return App(self.url, self.app_id)

    async def login(self, email: str, password: str | None = None) -> User:
        app = self.app()
        return await app.log_in(Credentials.email_password(email, password or PASSWORDS[email]))

    @contextlib.asynccontextmanager
    async def realm(self, email: str, cache: Path, **options: Any) -> AsyncIterator[Realm]:
        user = await self.login(email)
        realm = await Realm.open(user, cache=cache, **options)
        try:
            yield realm
        finally:
            await realm.close()
            await user.app.aclose()

    async def stop(self) -> None:
        await self.running.stop()


@contextlib.asynccontextmanager
async def serving(store_url: str, app_dir: Path = DEMO_APP_DIR, *, demo_size: str | int | None = "tiny",
                  limits: ServerLimits | None = None, **options: Any) -> AsyncIterator[ServerUnderTest]:
    """A server for ``app_dir`` on ``store_url`` (uvicorn ``limits`` as given), stopped afterwards."""
    app = create_app(app_dir, store_url, demo_size=demo_size, **options)
    running = await start_server(app, limits=limits)
    server = ServerUnderTest(running, app.state.service.app.app_id, store_url)
    try:
        yield server
    finally:
        await server.stop()
