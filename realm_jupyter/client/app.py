"""``App``: a sync server's app, and logging in to it."""

from __future__ import annotations

from typing import Any

import httpx

from ..errors import AuthError
from .credentials import Credentials
from .transport import RequestError, Transport, not_a_sync_server
from .user import User

__all__ = ["App"]


class App:
    """An app on a sync server: ``App("http://127.0.0.1:9090", "my-app-id")``.

    Pass ``http`` to share or instrument an ``httpx.AsyncClient`` (tests pass one
    bound to an in-process server).
    """

    def __init__(self, base_url: str, app_id: str, *, http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.transport = Transport(self.base_url, app_id, http)
        self.current_user: User | None = None
        self._users: dict[str, User] = {}

    def __repr__(self) -> str:
        return f"App({self.base_url!r}, {self.app_id!r})"

    async def log_in(self, credentials: Credentials) -> User:
        """Log in with ``credentials``; the user becomes ``current_user``.

        Raises:
            AuthError: wrong credentials, unknown or disabled provider, too many attempts.
            ServerUnavailableError: the server could not be reached.
        """
        url = self.transport.app_path(f"auth/providers/{credentials.provider}/login")
        try:
            answer = await self.transport.request("POST", url, json=credentials.payload)
        except RequestError as error:
            hint = None
            if error.status == 429:
                hint = "wait a few minutes before trying again"
            elif error.error_code == "AppNotFound":
                hint = "check the app id printed by `realm-jupyter serve`"
            raise AuthError(f"login failed: {error.message}", status_code=error.status,
                            hint=hint) from None
        except AuthError as error:
            raise AuthError(f"login failed: {error.message}", status_code=401,
                            hint="check the email and password") from None
        if not isinstance(answer, dict) or not {"user_id", "access_token",
                                                "refresh_token"} <= answer.keys():
            raise not_a_sync_server(self.base_url, "a login with JSON that is not a session")
        user = User(self, str(answer["user_id"]), str(answer["access_token"]),
                    str(answer["refresh_token"]), credentials.provider)
        self._users[user.id] = user
        self.current_user = user
        return user

    async def log_in_with_refresh_token(self, user_id: str, refresh_token: str,
                                        provider: str = "local-userpass") -> User:
        """Resume a session from a stored refresh token (no password needed)."""
        user = User(self, user_id, "", refresh_token, provider)
        await user.refresh()
        self._users[user.id] = user
        self.current_user = user
        return user

    async def register_user(self, email: str, password: str) -> None:
        """Create an email/password user (the server must auto-confirm)."""
        url = self.transport.app_path("auth/providers/local-userpass/register")
        try:
            await self.transport.request("POST", url, json={"email": email, "password": password})
        except RequestError as error:
            raise AuthError(f"registration failed: {error.message}",
                            status_code=error.status) from None

    async def location(self) -> dict[str, Any]:
        return dict(await self.transport.request("GET", self.transport.app_path("location")))

    def forget(self, user: User) -> None:
        self._users.pop(user.id, None)
        if self.current_user is user:
            self.current_user = None

    async def aclose(self) -> None:
        await self.transport.aclose()
