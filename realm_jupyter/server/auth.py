"""Users, credentials and tokens: the App Services auth providers we serve.

* ``anon-user`` makes a new user at each login;
* ``local-userpass`` checks an Argon2id hash (memory-hard, as the brief asks);
* ``api-key`` looks up the SHA-256 of a random key (keys are high-entropy, so a
  fast hash is right for them, unlike passwords).

Access tokens are short-lived HS256 JWTs signed with a secret every process on
the store shares — ``REALM_SIGNING_SECRET``, a 0600 file beside a SQLite store, or
the PostgreSQL database — so any of them accepts them. Refresh tokens are opaque,
stored as hashes, and rotate: each refresh retires the token it was given and
returns a new one of the same *family* (one login). Presenting a retired token
again means two parties hold it, so the whole family is revoked. Revocations are
published as ``revoke`` events so that open streams end (``server/revocation.py``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from bson import ObjectId

from ..errors import AuthError, ConfigError, StorageError
from .appdir import AppConfig
from .logins import MAX_USERNAME, LoginGuard
from .passwords import PasswordHashing
from .storage import ApiKeyRecord, Event, RefreshTokenRecord, Store, UserRecord
from .storage.base import TokenFamilyRecord
from .storage.sql import now_ms

__all__ = ["AccessClaims", "Auth", "Tokens", "new_id"]

logger = logging.getLogger(__name__)

ACCESS_TTL_SECONDS = 30 * 60
REFRESH_TTL_SECONDS = 60 * 24 * 3600
MIN_PASSWORD, MAX_PASSWORD = 6, 128
SECRET_VARIABLE = "REALM_SIGNING_SECRET"


def new_id() -> str:
    """A new id in App Services' form (an ObjectId's hex)."""
    return str(ObjectId())


def _given_secret() -> str | None:
    """``REALM_SIGNING_SECRET``, if set: the same value on every process of a deployment.

    Raises:
        ConfigError: it is shorter than 32 characters (too weak for HS256).
    """
    given = os.environ.get(SECRET_VARIABLE, "").strip()
    if not given:
        return None
    if len(given) < 32:
        raise ConfigError(f"{SECRET_VARIABLE} must be at least 32 characters long "
                          f"(it has {len(given)})", hint="python -c 'import secrets; "
                                                         "print(secrets.token_urlsafe(48))'")
    return given


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    user_id: str
    device_id: str

    def as_json(self) -> dict[str, str]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "user_id": self.user_id, "device_id": self.device_id}


class Auth:
    """Log in, issue and check tokens, manage users and API keys for one app."""

    def __init__(self, app: AppConfig, store: Store, *, secret: str,
                 access_ttl: int = ACCESS_TTL_SECONDS) -> None:
        self.app = app
        self.store = store
        self.secret = secret
        self.access_ttl = access_ttl
        self.passwords = PasswordHashing()
        self.guard = LoginGuard()

    @classmethod
    async def create(cls, app: AppConfig, store: Store, **options: Any) -> Auth:
        """Load (or create once, shared by all processes) the signing secret."""
        secret = await store.signing_secret(secrets.token_urlsafe(48), given=_given_secret())
        return cls(app, store, secret=secret, **options)

    # ------------------------------------------------------------------ providers

    def _provider(self, name: str) -> None:
        provider = self.app.providers.get(name)
        if provider is None or provider.disabled:
            raise AuthError(f"authentication provider {name!r} is not enabled for this app",
                            status_code=400)

    async def login(self, provider: str, body: Mapping[str, Any]) -> Tokens:
        """Check credentials for ``provider`` and issue tokens.

        Raises:
            AuthError: unknown or disabled provider (400), bad credentials (401).
        """
        self._provider(provider)
        if provider == "anon-user":
            user = UserRecord(id=new_id(), provider="anon-user", created_at=now_ms())
            await self.store.create_user(user)
            return await self.issue(user.id)
        if provider == "local-userpass":
            username, password = body.get("username"), body.get("password")
            if not isinstance(username, str) or not isinstance(password, str):
                raise AuthError("username and password are required", status_code=400)
            found = await self._check_password(username, password)
            if found is None:
                raise AuthError("invalid username/password", status_code=401)
            return await self.issue(found.id)
        if provider == "api-key":
            key = body.get("key")
            if not isinstance(key, str):
                raise AuthError("key is required", status_code=400)
            record = await self.store.find_api_key(_sha256(key))
            if record is None or record.disabled:
                raise AuthError("invalid API key", status_code=401)
            return await self.issue(record.user_id, api_key_id=record.id)
        raise AuthError(f"provider {provider!r} is not supported by this server", status_code=400)

    async def _check_password(self, username: str, password: str) -> UserRecord | None:
        """The user whose email and password these are, else None.

        Every call runs Argon2 once, against a dummy hash when there is no such user,
        so the answer takes as long whether or not the email exists.
        """
        if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            return None  # no stored user or password is this long
        found = await self.store.find_user_by_email(username.strip().lower())
        stored = found.password_hash if found is not None else None
        if not await self.passwords.verify(stored, password) or found is None:
            return None
        return found

    async def register(self, email: str, password: str, *,
                       custom_data: Mapping[str, Any] | None = None,
                       user_id: str | None = None) -> UserRecord:
        """Create a ``local-userpass`` user (confirmed at once when the provider says so).

        Raises:
            AuthError: bad email or password, unconfirmable provider, or a taken email.
        """
        self._provider("local-userpass")
        config = self.app.providers["local-userpass"].config
        if not config.get("autoConfirm", False):
            raise AuthError("this server cannot send confirmation emails: set autoConfirm in "
                            "auth/providers.json, or add users with `realm-jupyter users add`",
                            status_code=400)
        return await self.add_user(email, password, custom_data=custom_data, user_id=user_id)

    async def add_user(self, email: str, password: str, *,
                       custom_data: Mapping[str, Any] | None = None,
                       user_id: str | None = None) -> UserRecord:
        """Create an email/password user (the CLI and the demo use this directly)."""
        if len(email) > MAX_USERNAME:
            raise AuthError(f"an email address has at most {MAX_USERNAME} characters",
                            status_code=400)
        email = email.strip().lower()
        if "@" not in email:
            raise AuthError(f"{email!r} is not an email address", status_code=400)
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise AuthError(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters",
                            status_code=400)
        user = UserRecord(id=user_id or new_id(), provider="local-userpass", email=email,
                          password_hash=await self.passwords.hash(password),
                          custom_data=dict(custom_data or {}), created_at=now_ms())
        try:
            await self.store.create_user(user)
        except StorageError as error:
            raise AuthError(f"a user with email {email} already exists", status_code=409) from error
        return user

    async def create_api_key(self, name: str, user_id: str | None = None) -> tuple[str, str]:
        """A new API key (and, unless given, a server user it logs in as): (key, user id)."""
        if user_id is None:
            user = UserRecord(id=new_id(), provider="api-key", created_at=now_ms(),
                              custom_data={})
            await self.store.create_user(user)
            user_id = user.id
        key = secrets.token_urlsafe(48)
        await self.store.add_api_key(ApiKeyRecord(id=new_id(), user_id=user_id, name=name,
                                                  key_hash=_sha256(key), created_at=now_ms()))
        return key, user_id

    # ------------------------------------------------------------------ tokens

    async def issue(self, user_id: str, *, api_key_id: str | None = None) -> Tokens:
        """Tokens of a new login: a new family, its first refresh token, an access token.

        Raises:
            AuthError: the user is disabled (401).
        """
        user = await self.store.get_user(user_id)
        if user is None or user.disabled:
            raise AuthError("this user has been disabled", status_code=401)
        family = TokenFamilyRecord(new_id(), user_id, api_key_id, now_ms())
        await self.store.add_token_family(family)
        refresh = secrets.token_urlsafe(32)
        await self.store.add_refresh_token(RefreshTokenRecord(
            _sha256(refresh), user_id, now_ms() + REFRESH_TTL_SECONDS * 1000,
            family_id=family.id))
        return Tokens(self.access_token(user_id, family.id, api_key_id), refresh, user_id,
                      new_id())

    def access_token(self, user_id: str, family_id: str | None = None,
                     api_key_id: str | None = None) -> str:
        issued = int(time.time())
        claims: dict[str, Any] = {"sub": user_id, "typ": "access", "iat": issued,
                                  "exp": issued + self.access_ttl, "aud": self.app.app_id,
                                  "jti": new_id()}  # a refresh always changes the token
        if family_id is not None:
            claims["sid"] = family_id
        if api_key_id is not None:
            claims["key"] = api_key_id
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify_access(self, token: str) -> str:
        """The user id of a valid access token.

        Raises:
            AuthError: expired, forged or malformed (401).
        """
        return self.access_claims(token).user_id

    def access_claims(self, token: str) -> AccessClaims:
        """What a valid access token says (signature, audience and expiry checked).

        Raises:
            AuthError: expired, forged or malformed (401).
        """
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], audience=self.app.app_id,
                                options={"require": ["exp", "sub", "iat"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("access token expired", status_code=401) from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid access token", status_code=401) from None
        if claims.get("typ") != "access":
            raise AuthError("invalid access token", status_code=401)
        family, key = claims.get("sid"), claims.get("key")
        return AccessClaims(str(claims["sub"]), None if family is None else str(family),
                            None if key is None else str(key), int(claims["exp"]))

    async def session_valid(self, claims: AccessClaims) -> bool:
        """Whether the login behind an access token still stands (not logged out or revoked)."""
        if claims.family_id is None:
            return True  # issued before token families existed: it expires on its own
        family = await self.store.get_token_family(claims.family_id)
        return family is not None and not family.revoked

    async def refresh(self, refresh_token: str) -> str:
        """A new access token for a valid refresh token (see :meth:`rotate`)."""
        access, _ = await self.rotate(refresh_token)
        return access

    async def rotate(self, refresh_token: str) -> tuple[str, str]:
        """Exchange a refresh token for (a new access token, the next refresh token).

        The token presented is retired. A retired token presented again revokes its
        whole family, so a stolen token stops working for the thief and the owner alike.

        Raises:
            AuthError: unknown, expired, revoked or reused refresh token, a disabled user
                or a revoked API key (401).
        """
        invalid = AuthError("invalid session: log in again", status_code=401)
        token_hash = _sha256(refresh_token)
        record = await self.store.find_refresh_token(token_hash)
        if record is None or record.revoked or record.expires_at < now_ms():
            raise invalid
        family = await self._family_of(record)
        if family.revoked:
            raise invalid
        if record.retired:
            await self._reused(family)
        user = await self.store.get_user(record.user_id)
        key = None if family.api_key_id is None else await self.store.get_api_key(
            family.api_key_id)
        if user is None or user.disabled or (family.api_key_id is not None
                                             and (key is None or key.disabled)):
            await self.revoke_family(family.id)
            raise invalid
        new = secrets.token_urlsafe(32)
        rotated = await self.store.rotate_refresh_token(token_hash, RefreshTokenRecord(
            _sha256(new), record.user_id, now_ms() + REFRESH_TTL_SECONDS * 1000,
            family_id=family.id))
        if not rotated:  # retired (or revoked) since it was read: a concurrent reuse
            await self._reused(family)
        return self.access_token(record.user_id, family.id, family.api_key_id), new

    async def _family_of(self, record: RefreshTokenRecord) -> TokenFamilyRecord:
        # A token from before families existed starts one at its first refresh, named
        # after itself, so that presenting it again finds (and revokes) that family.
        family_id = record.family_id or record.token_hash[:24]
        family = await self.store.get_token_family(family_id)
        if family is None:
            await self.store.add_token_family(TokenFamilyRecord(family_id, record.user_id, None,
                                                                now_ms()))
            family = await self.store.get_token_family(family_id)
            assert family is not None
        return family

    async def _reused(self, family: TokenFamilyRecord) -> None:
        logger.warning("a retired refresh token of user %s was presented again: revoking "
                       "that login's tokens", family.user_id)
        await self.revoke_family(family.id)
        raise AuthError("this refresh token was already used, so the login it belongs to "
                        "has been revoked: log in again", status_code=401)

    async def log_out(self, refresh_token: str) -> None:
        """Revoke the login of ``refresh_token`` (every token of its family)."""
        record = await self.store.find_refresh_token(_sha256(refresh_token))
        if record is None:
            return
        await self.store.revoke_refresh_token(record.token_hash)
        if record.family_id is not None:
            await self.revoke_family(record.family_id)

    # ------------------------------------------------------------------ revocation

    async def revoke_family(self, family_id: str) -> None:
        """Revoke one login; its open streams end (on every process)."""
        await self.store.revoke_token_families(family_id=family_id)
        await self.store.publish(Event("revoke", f"family:{family_id}"))

    async def set_user_disabled(self, user_id: str, disabled: bool = True) -> bool:
        """Disable (or enable) a user; disabling revokes every login and ends their streams.

        Returns False when there is no such user.
        """
        if not await self.store.set_user_disabled(user_id, disabled):
            return False
        if disabled:
            await self.store.revoke_token_families(user_id=user_id)
            await self.store.publish(Event("revoke", f"user:{user_id}"))
        return True

    async def revoke_api_key(self, key_id: str) -> bool:
        """Disable an API key, revoke every login made with it and end their streams.

        Returns False when there is no such key.
        """
        if not await self.store.set_api_key_disabled(key_id, True):
            return False
        await self.store.revoke_token_families(api_key_id=key_id)
        await self.store.publish(Event("revoke", f"key:{key_id}"))
        return True


@dataclass(frozen=True)
class AccessClaims:
    """A checked access token: whose, which login (``family_id``), which API key, until when."""

    user_id: str
    family_id: str | None
    api_key_id: str | None
    expires_at: int  # seconds since the epoch
