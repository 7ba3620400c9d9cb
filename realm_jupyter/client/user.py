"""A logged-in user: tokens, refresh, log out, profile.

The server rotates refresh tokens: every refresh answers with the next refresh
token and retires the one presented, and presenting a retired one again logs the
whole login out (reuse detection). So a user keeps exactly the latest token, and
hands each new one to whoever persists it (``TokenStore.bind``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import AuthError

if TYPE_CHECKING:
    from .app import App

__all__ = ["User"]

logger = logging.getLogger(__name__)


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
        self._save_token: Callable[[str], None] | None = None
        self._load_token: Callable[[], str | None] | None = None
        self.logged_in = True

    def __repr__(self) -> str:  # never the tokens
        return f"User(id={self.id!r}, provider={self.provider!r})"

    async def access_token(self, refresh: bool = False, *, stale: str | None = None) -> str:
        """The current access token; with ``refresh``, a fresh one first.

        ``stale`` names the token the server refused: when another task already
        replaced it, that replacement is returned without a second refresh.

        Raises:
            AuthError: the user logged out, or the refresh token is no longer valid.
        """
        if not self.logged_in:
            raise AuthError("the user has logged out", status_code=401)
        if refresh:
            self._refreshing = self._refreshing or asyncio.Lock()
            stale = self._access_token if stale is None else stale
            async with self._refreshing:
                if self._access_token == stale:
                    await self.refresh()
        return self._access_token

    async def refresh(self) -> None:
        """Exchange the refresh token for a new access token (and the next refresh token)."""
        if self._load_token is not None:  # another kernel of this login may have rotated it
            stored = self._load_token()
            if stored:
                self._refresh_token = stored
        transport = self.app.transport
        try:
            answer = await transport.request("POST", transport.root_path("auth/session"),
                                             token=self._refresh_token)
        except AuthError as error:
            self.logged_in = False
            raise AuthError(f"the session expired or was revoked ({error.message}): log in "
                            "again", status_code=401) from None
        self._access_token = str(answer["access_token"])
        rotated = answer.get("refresh_token")
        if isinstance(rotated, str) and rotated != self._refresh_token:
            self._refresh_token = rotated
            if self._save_token is not None:
                self._save_token(rotated)

    def keep_refresh_token(self, save: Callable[[str], None],
                           load: Callable[[], str | None] | None = None) -> None:
        """Persist every rotated refresh token with ``save``; read the latest with ``load``."""
        self._save_token = save
        self._load_token = load

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
