"""Why an open stream ends when the credentials it was opened with do (docs/protocol.md §6).

A stream is authorised once, when it opens; it then lives for hours. A
``StreamGuard`` keeps that authorisation true for as long as the stream runs:

* at the access token's ``exp`` the stream ends with ``TokenExpired`` (the client
  refreshes and reopens from its cursor);
* a ``revoke`` event (log out, a reused refresh token, a revoked API key, a disabled
  user) ends it with ``TokenRevoked`` or ``UserDisabled``; events reach every process
  (PostgreSQL ``LISTEN/NOTIFY``, the SQLite store's outbox), and the guard hears them
  the moment they are published, even while the stream is busy with a bootstrap;
* a change to the user's document in the custom user data collection that changes
  what the user may read or write ends it with ``PermissionsChanged``: the rules
  were resolved at session start, and a reconnect resolves them again.

The stream asks the guard before each frame (see ``StreamSession.frames``), so no
frame computed under a credential that no longer holds is delivered.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..wire import encode_frame
from .auth import AccessClaims
from .storage import Event
from .views import FeedEntry

__all__ = ["DISABLED", "EXPIRED", "PERMISSIONS", "REVOKED", "StreamGuard"]

# Codes are those of Realm's sync protocol (token_expired, bad_authentication,
# user_blacklisted, server_permissions_changed); ``action`` tells the client what to do.
EXPIRED = {"code": 202, "error_code": "TokenExpired", "action": "RefreshUser",
           "error": "the access token expired"}
REVOKED = {"code": 203, "error_code": "TokenRevoked", "action": "LogOutUser",
           "error": "this login was revoked (logged out, its refresh token reused, or its API "
                    "key revoked): log in again"}
DISABLED = {"code": 221, "error_code": "UserDisabled", "action": "LogOutUser",
            "error": "this user has been disabled"}
PERMISSIONS = {"code": 229, "error_code": "PermissionsChanged", "action": "RefreshUser",
               "error": "the user's custom data changed what they may read or write"}


class StreamGuard:
    """Decides when one stream must end because of its credentials.

    Parameters:
        claims: the access token the stream was opened with.
        fingerprint: the session rules' fingerprint at open.
        custom_data: ``(object type, user id field)`` of the custom user data collection.
        reload: the fingerprint of the user's rules resolved again now.
    """

    def __init__(self, claims: AccessClaims, *, fingerprint: str,
                 custom_data: tuple[str, str] | None,
                 reload: Callable[[], Awaitable[str]],
                 clock: Callable[[], float] = time.time) -> None:
        self.claims = claims
        self.fingerprint = fingerprint
        self.custom_data = custom_data
        self.reload = reload
        self.clock = clock
        self._ended: dict[str, Any] | None = None
        self._recheck = False
        self._scopes = {f"user:{claims.user_id}": DISABLED}
        if claims.family_id is not None:
            self._scopes[f"family:{claims.family_id}"] = REVOKED
        if claims.api_key_id is not None:
            self._scopes[f"key:{claims.api_key_id}"] = REVOKED

    @property
    def ended(self) -> dict[str, Any] | None:
        """The end frame's fields once the stream must end, else None."""
        if self._ended is None and self.clock() >= self.claims.expires_at:
            self._ended = EXPIRED
        return self._ended

    def on_event(self, event: Event) -> None:
        """Called as each event is published (``Subscription.watch``)."""
        if event.kind == "revoke" and self._ended is None:
            self._ended = self._scopes.get(event.value)

    def saw(self, entries: Iterable[FeedEntry]) -> None:
        """History the stream is about to send: did the user's custom data document change?"""
        if self.custom_data is None:
            return
        object_type, field = self.custom_data
        for item in entries:
            if item.entry.object_type != object_type:
                continue
            for document in (item.doc, item.prev):
                if document is not None and str(document.get(field)) == self.claims.user_id:
                    self._recheck = True
                    return

    async def check(self) -> dict[str, Any] | None:
        """``ended``, after resolving the rules again when the custom data changed."""
        if self._recheck and self._ended is None:
            self._recheck = False
            if await self.reload() != self.fingerprint:
                self._ended = PERMISSIONS
        return self.ended

    def wait_seconds(self, limit: float) -> float:
        """How long the stream may wait for events before the token runs out."""
        return max(0.0, min(limit, self.claims.expires_at - self.clock()))

    def frame(self) -> bytes:
        assert self._ended is not None
        return encode_frame({"t": "error", **self._ended})
