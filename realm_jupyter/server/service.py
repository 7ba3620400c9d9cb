"""The sync service: what the sync routes do, independent of HTTP.

Holds the app, the store, auth and the shared history feed of one server
process. Routes translate requests into calls here and results into frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from ..errors import QueryError, StorageError, UnsupportedQueryError
from ..query import check_subscription
from ..query.subscription import MAX_SET_TERMS, query_terms
from ..wire import PROTOCOL_VERSION
from .appdir import AppConfig
from .auth import AccessClaims, Auth, new_id
from .feed import HistoryFeed
from .http import ApiError
from .revocation import StreamGuard
from .rules import SessionRules, check_readable_fields
from .session import BootstrapResume, StreamSession
from .storage import ClientRecord, Event, Store, UserRecord
from .streaming import StreamStats
from .views import View

__all__ = ["SyncService"]

logger = logging.getLogger(__name__)


class SyncService:
    def __init__(self, app: AppConfig, store: Store, auth: Auth) -> None:
        self.app = app
        self.store = store
        self.auth = auth
        self.feed = HistoryFeed(store, app.schema)
        self.shutting_down = asyncio.Event()
        self.readers: set[Any] = set()  # open bootstrap snapshots
        self.sessions = 0
        self.streams: set[StreamStats] = set()  # what each open stream buffers

    # ------------------------------------------------------------------ identity

    async def user(self, token: str) -> UserRecord:
        """The user behind an access token (401 when the token or the user is not valid)."""
        user, _ = await self.authenticate(token)
        return user

    async def authenticate(self, token: str) -> tuple[UserRecord, AccessClaims]:
        """The user and the checked claims of an access token.

        Raises:
            ApiError: 401 for an expired, forged or revoked token, or a disabled user.
        """
        from ..errors import AuthError
        from .http import auth_error

        try:
            claims = self.auth.access_claims(token)
        except AuthError as error:
            raise auth_error(error) from None
        user = await self.store.get_user(claims.user_id)
        if user is None or user.disabled:
            raise ApiError(401, "InvalidSession", "the user of this token no longer exists")
        if not await self.auth.session_valid(claims):
            raise ApiError(401, "InvalidSession", "this login was revoked: log in again")
        return user, claims

    async def custom_data(self, user: UserRecord) -> dict[str, Any]:
        """``%%user.custom_data``: from the custom user data collection when configured."""
        from .custom_data import get_custom_data

        return await get_custom_data(self.app, self.store, user.id, user.custom_data)

    async def rules(self, user: UserRecord) -> SessionRules:
        return SessionRules(self.app, user, await self.custom_data(user))

    async def client(self, user: UserRecord, body: Mapping[str, Any]) -> ClientRecord:
        client_id = body.get("client_id")
        if not isinstance(client_id, str):
            raise ApiError(400, "InvalidParameter", "client_id is required")
        client = await self.store.get_client(client_id)
        if client is None:
            raise ApiError(404, "ClientNotFound", f"unknown client {client_id}: the client must "
                                                  "reset", sync_code=208)
        if client.user_id != user.id:
            raise ApiError(403, "Forbidden", "this client belongs to another user")
        return client

    # ------------------------------------------------------------------ sync verbs

    async def register_client(self, user: UserRecord) -> str:
        client_id = new_id()
        await self.store.create_client(client_id, user.id)
        return client_id

    async def submit_query(self, user: UserRecord, body: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a subscription set and record it as the client's desired set."""
        _check_protocol(body)
        client = await self.client(user, body)
        version = body.get("version")
        queries = body.get("queries")
        if not isinstance(version, int) or version < 1:
            raise ApiError(400, "InvalidParameter", "version must be a positive integer")
        if not isinstance(queries, dict) or not all(
                isinstance(t, str) and isinstance(qs, list) and all(isinstance(q, str) for q in qs)
                for t, qs in queries.items()):
            raise ApiError(400, "InvalidParameter",
                           "queries must map object types to lists of query strings")
        rules = await self.rules(user)
        # Parsing and checking 256 kB of query text takes a while: off the event loop.
        canonical = await asyncio.to_thread(self._canonical_set, queries, rules, version)
        if version > client.desired_version:
            await self.store.set_desired_queries(client.id, version, canonical)
            await self.store.publish(Event("client", client.id))
        return {"version": version}

    def _canonical_set(self, queries: Mapping[str, list[str]], rules: SessionRules,
                       version: int) -> dict[str, list[str]]:
        """The set's queries checked and in canonical form, by object type.

        Raises:
            ApiError: 400 ``BadQuery`` naming the first query refused and why.
        """
        canonical: dict[str, list[str]] = {}
        for object_type, texts in sorted(queries.items()):
            if object_type not in self.app.collections:
                raise ApiError(400, "BadQuery", f"unknown object type {object_type!r}",
                               version=version, object_type=object_type)
            rendered = set()
            terms = 0
            for text in texts:
                try:
                    parsed = check_subscription(text, self.app.schema, object_type, self.app.sync)
                    check_readable_fields(parsed, rules[object_type])
                    terms += query_terms(parsed)
                    if terms > MAX_SET_TERMS:
                        raise UnsupportedQueryError(
                            f"the subscriptions on {object_type} make more than "
                            f"{MAX_SET_TERMS:,} comparisons together (LimitsExceeded)",
                            construct="query size")
                except QueryError as error:
                    raise ApiError(400, "BadQuery", f"Invalid query for {object_type}: "
                                   f"{error.message}", version=version, object_type=object_type,
                                   query=text, position=error.position,
                                   construct=getattr(error, "construct", None)) from None
                rendered.add(parsed.render())
            if rendered:
                canonical[object_type] = sorted(rendered)
        return canonical

    async def open_stream(self, user: UserRecord, body: Mapping[str, Any],
                          claims: AccessClaims | None = None) -> StreamSession:
        _check_protocol(body)
        client = await self.client(user, body)
        cursor = body.get("cursor", 0)
        active = body.get("active") or {"version": 0, "queries": {}}
        if not isinstance(cursor, int) or cursor < 0 or not isinstance(active, dict):
            raise ApiError(400, "InvalidParameter", "cursor and active are malformed")
        rules = await self.rules(user)
        queries = active.get("queries") or {}
        if not isinstance(queries, dict) or not all(
                isinstance(qs, list) and all(isinstance(q, str) for q in qs)
                for qs in queries.values()):
            raise ApiError(400, "InvalidParameter", "active queries must map object types to "
                                                    "lists of query strings")
        refused = await asyncio.to_thread(self._active_problem, queries, rules)
        try:
            view = await asyncio.to_thread(View.build, rules, int(active.get("version", 0)),
                                           {} if refused else queries)
            resume = BootstrapResume.parse(body.get("bootstrap"))
        except (QueryError, KeyError, TypeError, ValueError) as error:
            raise ApiError(400, "InvalidParameter", f"malformed active set or bootstrap: {error}") \
                from None
        guard = None if claims is None else self._guard(user, claims, rules)
        return StreamSession(store=self.store, feed=self.feed, rules=rules, client_id=client.id,
                             cursor=cursor, active=view, resume=resume,
                             view_hash=client.view_hash, shutting_down=self.shutting_down,
                             refused=refused, readers=self.readers, guard=guard)

    def _guard(self, user: UserRecord, claims: AccessClaims, rules: SessionRules) -> StreamGuard:
        """What ends this stream when its token expires or its login is revoked."""
        config = self.app.custom_user_data
        # Synced custom data is watched in the history; server-side custom data (no schema)
        # changes no stream: it applies at the user's next session.
        custom = None if config is None or config.object_type is None \
            else (config.object_type, config.user_id_field)

        async def reload() -> str:
            return (await self.rules(user)).fingerprint()

        return StreamGuard(claims, fingerprint=rules.fingerprint(), custom_data=custom,
                           reload=reload)

    def _active_problem(self, queries: Mapping[str, list[str]],
                        rules: SessionRules) -> str | None:
        """Why the client's active set cannot be served here, or None.

        The server accepted the set once, so this means a tampered client or an app
        whose schema, queryable fields or field rules changed since: either way the
        client resets.
        """
        for object_type, texts in queries.items():
            if object_type not in self.app.collections:
                return f"unknown object type {object_type!r}"
            for text in texts:
                try:
                    parsed = check_subscription(text, self.app.schema, object_type,
                                                self.app.sync)
                    check_readable_fields(parsed, rules[object_type])
                except QueryError as error:
                    return f"{object_type}: {error.message}"
        return None

    async def upload(self, user: UserRecord, body: Mapping[str, Any]) -> dict[str, Any]:
        """Integrate uploaded changesets (the write path)."""
        _check_protocol(body)
        client = await self.client(user, body)
        from .uploads import integrate

        return await integrate(self, user, client, body)

    async def mark(self, user: UserRecord, body: Mapping[str, Any]) -> dict[str, Any]:
        await self.client(user, body)
        return {"server_version": await self.store.latest_version()}

    async def shutdown(self) -> None:
        self.shutting_down.set()
        with contextlib.suppress(StorageError):
            await self.store.publish(Event("shutdown", ""))
        for reader in list(self.readers):  # bootstraps cut short: close their snapshots now
            await asyncio.to_thread(reader.close)
            self.readers.discard(reader)


def _check_protocol(body: Mapping[str, Any]) -> None:
    version = body.get("protocol", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise ApiError(400, "ProtocolVersion", f"protocol version {version!r} is not supported "
                                               f"(this server speaks {PROTOCOL_VERSION})")
