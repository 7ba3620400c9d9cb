"""Refresh tokens kept between kernel restarts, so a password is typed once.

They live in ``<user config dir>/realm-jupyter/tokens.json`` with owner-only
permissions (0600, in a 0700 directory), keyed by server, app and login name.
Nothing here is ever printed or returned to a notebook. The server rotates
refresh tokens at each refresh, so a bound user (:meth:`TokenStore.bind`) writes
each new one back here, and reads it before refreshing, so that two kernels of one
login hand the latest token on to each other instead of presenting a retired one.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .user import User

__all__ = ["TokenStore"]


class TokenStore:
    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            import platformdirs

            path = Path(platformdirs.user_config_dir("realm-jupyter")) / "tokens.json"
        self.path = path

    def _key(self, base_url: str, app_id: str, login: str) -> str:
        return f"{base_url.rstrip('/')}|{app_id}|{login}"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, base_url: str, app_id: str, login: str) -> dict[str, str] | None:
        entry = self._read().get(self._key(base_url, app_id, login))
        return entry if isinstance(entry, dict) else None

    def put(self, base_url: str, app_id: str, login: str, user_id: str, refresh_token: str,
            provider: str) -> None:
        data = self._read()
        data[self._key(base_url, app_id, login)] = {"user_id": user_id,
                                                     "refresh_token": refresh_token,
                                                     "provider": provider}
        self._write(data)

    def bind(self, user: User, base_url: str, app_id: str, login: str, provider: str) -> None:
        """Store ``user``'s refresh token now and each rotated one from now on."""
        self.put(base_url, app_id, login, user.id, user.refresh_token, provider)

        def save(token: str) -> None:
            self.put(base_url, app_id, login, user.id, token, provider)

        def load() -> str | None:
            entry = self.get(base_url, app_id, login)
            if entry is None or entry.get("user_id") != user.id:
                return None
            token = entry.get("refresh_token")
            return token if isinstance(token, str) else None

        user.keep_refresh_token(save, load)

    def forget(self, base_url: str, app_id: str, login: str) -> None:
        data = self._read()
        if data.pop(self._key(base_url, app_id, login), None) is not None:
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(self.path.parent, 0o700)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(data, handle)
        os.replace(temporary, self.path)
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)
