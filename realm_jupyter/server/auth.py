"""Users, credentials and tokens: the App Services auth providers we serve.

* ``anon-user`` makes a new user at each login;
* ``local-userpass`` checks an Argon2id hash (memory-hard, as the brief asks);
* ``api-key`` looks up the SHA-256 of a random key (keys are high-entropy, so a
  fast hash is right for them, unlike passwords).

Access tokens are short-lived HS256 JWTs signed with a secret every process on
the store shares — ``REALM_SIGNING_SECRET``, a 0600 file beside a SQLite store, or
the PostgreSQL database — so any of them accepts them. Refresh tokens are opaque,
stored as hashes, and revocable.
"""

from __future__ import annotations

import hashlib
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
from .storage import ApiKeyRecord, RefreshTokenRecord, Store, UserRecord
from .storage.sql import now_ms

__all__ = ["Auth", "Tokens", "new_id"]

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
            return await self.issue(record.user_id)
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

    async def issue(self, user_id: str) -> Tokens:
        refresh = secrets.token_urlsafe(32)
        expires = now_ms() + REFRESH_TTL_SECONDS * 1000
        await self.store.add_refresh_token(RefreshTokenRecord(_sha256(refresh), user_id, expires))
        return Tokens(self.access_token(user_id), refresh, user_id, new_id())

    def access_token(self, user_id: str) -> str:
        issued = int(time.time())
        claims = {"sub": user_id, "typ": "access", "iat": issued, "exp": issued + self.access_ttl,
                  "aud": self.app.app_id}
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify_access(self, token: str) -> str:
        """The user id of a valid access token.

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
        return str(claims["sub"])

    async def refresh(self, refresh_token: str) -> str:
        """A new access token for a valid refresh token.

        Raises:
            AuthError: unknown, expired or revoked refresh token (401).
        """
        record = await self.store.find_refresh_token(_sha256(refresh_token))
        if record is None or record.revoked or record.expires_at < now_ms():
            raise AuthError("invalid session: log in again", status_code=401)
        return self.access_token(record.user_id)

    async def log_out(self, refresh_token: str) -> None:
        await self.store.revoke_refresh_token(_sha256(refresh_token))
