"""``RealmContext``: the one object that holds a notebook's connection state.

The magics keep no module globals: the extension creates one context per IPython
shell and every command receives it. Re-running ``%realm_connect`` with the same
server, app and user reuses the open realm instead of starting a second session.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import App, Credentials, Realm
from ..client.tokens import TokenStore
from ..errors import AuthError, RealmJupyterError

__all__ = ["Connection", "RealmContext"]

logger = logging.getLogger(__name__)


@dataclass
class Connection:
    base_url: str
    app_id: str
    login: str
    app: App
    realm: Realm


class RealmContext:
    """State of the ``%realm_*`` magics in one kernel."""

    def __init__(self, shell: Any, tokens: TokenStore | None = None) -> None:
        self.shell = shell
        self.tokens = tokens or TokenStore()
        self.connection: Connection | None = None
        self.demo_server: subprocess.Popen[bytes] | None = None
        self.demo_url: str | None = None
        self.notices: list[str] = []

    # ------------------------------------------------------------------ access

    @property
    def realm(self) -> Realm:
        """The connected realm.

        Raises:
            RealmJupyterError: not connected yet.
        """
        if self.connection is None or self.connection.realm.closed:
            raise RealmJupyterError("not connected to a sync server",
                                    hint="run %realm_connect --demo, or %realm_connect URL --app ID "
                                         "--email E")
        return self.connection.realm

    # ------------------------------------------------------------------ connecting

    async def connect(self, base_url: str, app_id: str, credentials: Credentials | None,
                      login: str, *, cache: str | None = None, password_source: Any = None,
                      on_error: Any = None) -> tuple[Realm, bool]:
        """Open (or reuse) a realm; returns (realm, reused)."""
        base_url = base_url.rstrip("/")
        current = self.connection
        if (current is not None and not current.realm.closed and current.base_url == base_url
                and current.app_id == app_id and current.login == login):
            return current.realm, True
        await self.close()
        app = App(base_url, app_id)
        try:
            user = None
            if credentials is None:
                stored = self.tokens.get(base_url, app_id, login)
                if stored is not None:
                    try:
                        user = await app.log_in_with_refresh_token(
                            stored["user_id"], stored["refresh_token"], stored.get("provider", ""))
                    except AuthError:
                        self.tokens.forget(base_url, app_id, login)
                if user is None:
                    credentials = password_source()
            if user is None:
                assert credentials is not None
                user = await app.log_in(credentials)
            if user.provider != "anon-user":  # refresh tokens rotate: keep the latest
                self.tokens.bind(user, base_url, app_id, login, user.provider)
            realm = await Realm.open(user, cache=Path(cache) if cache else None, on_error=on_error)
        except BaseException:
            await app.aclose()
            raise
        self.connection = Connection(base_url, app_id, login, app, realm)
        return realm, False

    async def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            await connection.realm.close()
            await connection.app.aclose()

    # ------------------------------------------------------------------ the demo server

    def demo(self) -> str:
        """The demo server's URL: ``$REALM_DEMO_URL`` (``make demo``) or one started here."""
        from ..demo.launcher import _free_port, wait_for_server

        if os.environ.get("REALM_DEMO_URL"):
            return os.environ["REALM_DEMO_URL"].rstrip("/")
        if self.demo_server is not None and self.demo_server.poll() is None and self.demo_url:
            return self.demo_url
        port = _free_port()
        store = Path.home() / ".cache" / "realm-jupyter" / "demo-store.sqlite3"
        with contextlib.suppress(ImportError):
            import platformdirs

            store = Path(platformdirs.user_cache_dir("realm-jupyter")) / "demo-store.sqlite3"
        store.parent.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "realm_jupyter", "serve", "--port", str(port),
             "--demo-size", "small", "--store", f"sqlite:///{store}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_server(url, process)
        except RealmJupyterError:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            process.kill()
            last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
            raise RealmJupyterError(f"the demo server did not start: {last}") from None
        self.demo_server, self.demo_url = process, url
        atexit.register(_terminate, process)
        return url

    def shutdown(self) -> None:
        if self.demo_server is not None:
            _terminate(self.demo_server)
            self.demo_server = None


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
