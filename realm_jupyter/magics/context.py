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

from ..cache.store import default_cache_path
from ..client import App, Credentials, Realm, SnapshotRealm, User
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
        #: A snapshot opened with ``%realm_connect --snapshot`` (then there is no connection).
        self.snapshot: SnapshotRealm | None = None
        self.demo_server: subprocess.Popen[bytes] | None = None
        self.demo_url: str | None = None
        self.notices: list[str] = []

    # ------------------------------------------------------------------ access

    @property
    def realm(self) -> Realm:
        """The connected realm, or the open snapshot.

        Raises:
            RealmJupyterError: not connected yet.
        """
        if self.snapshot is not None and not self.snapshot.closed:
            return self.snapshot
        if self.connection is None or self.connection.realm.closed:
            raise RealmJupyterError("not connected to a sync server",
                                    hint="run %realm_connect --demo, or %realm_connect URL --app ID "
                                         "--email E")
        return self.connection.realm

    # ------------------------------------------------------------------ connecting

    async def connect(self, base_url: str, app_id: str, credentials: Credentials | None,
                      login: str, *, cache: str | None = None, password_source: Any = None,
                      on_error: Any = None) -> tuple[Realm, bool]:
        """Open (or reuse) a realm; returns (realm, reused).

        A connect that fails — nothing listening, a wrong password, an unknown app, a URL
        that is not a sync server — leaves the working connection as it was: the new one is
        logged in and opened first, and only then does it replace (and close) the old one.
        Re-running with the same server, app and login reuses the open realm; if that
        re-run brings a password or an API key, it is checked against the server first.
        """
        base_url = base_url.rstrip("/")
        current = self.connection
        if (current is not None and not current.realm.closed and current.base_url == base_url
                and current.app_id == app_id and current.login == login):
            if credentials is not None and credentials.provider != "anon-user":
                await self._check(current, credentials)
            return current.realm, True
        app = App(base_url, app_id)
        try:
            user = await self._log_in(app, credentials, login, password_source)
            path = Path(cache) if cache else default_cache_path(base_url, app_id, user.id)
            if current is not None and _same_file(current.realm.cache.path, path):
                await self.close()  # one file, one owner: the old realm must let go first
            realm = await Realm.open(user, cache=path, on_error=on_error)
        except BaseException:
            await app.aclose()
            raise
        self.connection = Connection(base_url, app_id, login, app, realm)
        if current is not None and current is not self.connection:
            await _close(current)
        await self._close_snapshot()
        return realm, False

    async def open_snapshot(self, path: str) -> SnapshotRealm:
        """Open the snapshot at ``path`` in place of any connection or snapshot.

        The new snapshot is verified and loaded first: one that is refused (altered,
        missing) leaves what was open as it was.

        Raises:
            SnapshotError: the snapshot is missing, altered or unreadable.
        """
        snapshot = Realm.open_snapshot(path)
        await self._close_snapshot()
        connection, self.connection = self.connection, None
        if connection is not None:
            await _close(connection)
        self.snapshot = snapshot
        return snapshot

    async def _close_snapshot(self) -> None:
        snapshot, self.snapshot = self.snapshot, None
        if snapshot is not None:
            await snapshot.close()

    async def _log_in(self, app: App, credentials: Credentials | None, login: str,
                      password_source: Any, *, keep: bool = True) -> User:
        """A stored session (refresh token) when there are no credentials, else a login.

        With ``keep``, the user's refresh token is stored, and each rotated one after it
        (refresh tokens rotate: only the newest works)."""
        base_url, app_id = app.base_url, app.app_id
        user: User | None = None
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
        if keep and user.provider != "anon-user":
            self.tokens.bind(user, base_url, app_id, login, user.provider)
        return user

    async def _check(self, current: Connection, credentials: Credentials) -> None:
        """Log in once more with ``credentials`` (they must work, and name the same user).

        Raises:
            AuthError: the server refused them, or they belong to another user.
        """
        probe = App(current.base_url, current.app_id)
        try:
            user = await self._log_in(probe, credentials, current.login, None, keep=False)
        finally:
            await probe.aclose()
        if user.id != current.realm.user.id:
            raise AuthError(f"those credentials log in as user {user.id}, not {current.login} "
                            f"(user {current.realm.user.id})")

    async def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            await _close(connection)
        await self._close_snapshot()

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


async def _close(connection: Connection) -> None:
    await connection.realm.close()
    await connection.app.aclose()


def _same_file(a: Path, b: Path) -> bool:
    return a.expanduser().resolve() == b.expanduser().resolve()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
