"""How a user proves who they are: one of the app's auth providers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Credentials"]


@dataclass(frozen=True)
class Credentials:
    """Credentials for ``App.log_in``. Build them with the class methods.

    The secret never appears in ``repr`` (it could end up in a notebook output).
    """

    provider: str
    payload: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def anonymous(cls) -> Credentials:
        return cls("anon-user", {})

    @classmethod
    def email_password(cls, email: str, password: str) -> Credentials:
        return cls("local-userpass", {"username": email, "password": password})

    @classmethod
    def api_key(cls, key: str) -> Credentials:
        return cls("api-key", {"key": key})
