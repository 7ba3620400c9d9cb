"""A logged-in user: tokens, refresh, log out, profile."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..errors import AuthError

if TYPE_CHECKING:
    from .app import App

__all__ = ["User"]


class User:
    """A user of an app. ``id`` is what ``%%user.id`` expands to in the server's rules."""

    def __init__(self, app: App, user_id: str, access_token: str, refresh_token: str,
                 provider: str) -> None:
        self.app = app
        self.id = user_id
        self.provider = provider
        self._access_token = access_token
        self._refresh_token = refresh_token
        self._refreshing: asyncio.Lock | None = None
        self.logged_in = True

    def __repr__(self) -> str:  # never the tokens
        return f"User(id={self.id!r}, provider={self.provider!r})"

    async def access_token(self, refresh: bool = False) -> str:
        """The current access token; with ``refresh``, a fresh one first.

        Raises:
            AuthError: the user logged out, or the refresh token is no longer valid.
        """
        if not self.logged_in:
            raise AuthError("the user has logged out", status_code=401)
        if refresh:
            self._refreshing = self._refreshing or asyncio.Lock()
            stale = self._access_token
            async with self._refreshing:
                if self._access_token == stale:
                    await self.refresh()
        return self._access_token

    async def refresh(self) -> None:
        """Exchange the refresh token for a new access token."""
        transport = self.app.transport
        try:
            answer = await transport.request("POST", transport.root_path("auth/session"),
                                             token=self._refresh_token)
        except AuthError:
            self.logged_in = False
            raise AuthError("the session expired: log in again", status_code=401) from None
        self._access_token = str(answer["access_token"])

    async def profile(self) -> dict[str, Any]:
        """``{"user_id", "identities", "data", "custom_data"}`` from the server."""
        transport = self.app.transport
        for refresh in (False, True):
            try:
                return dict(await transport.request("GET", transport.root_path("auth/profile"),
                                                    token=await self.access_token(refresh)))
            except AuthError:
                if refresh:
                    raise
        raise AssertionError("unreachable")

    async def custom_data(self) -> dict[str, Any]:
        return dict((await self.profile()).get("custom_data") or {})

    async def log_out(self) -> None:
        """Revoke the refresh token on the server and forget the tokens."""
        if not self.logged_in:
            return
        transport = self.app.transport
        try:
            await transport.request("DELETE", transport.root_path("auth/session"),
                                    token=self._refresh_token)
        finally:
            self.logged_in = False
            self.app.forget(self)

    @property
    def refresh_token(self) -> str:
        """For the token store only (``client.tokens``); never print it."""
        return self._refresh_token
