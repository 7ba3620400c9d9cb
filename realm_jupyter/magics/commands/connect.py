"""``%realm_connect``: log in and open the realm (reusing an open one on re-run)."""

from __future__ import annotations

import argparse
import functools
import getpass
import os
from typing import TYPE_CHECKING, Any

from ...client import Credentials
from ...errors import CompensatingWriteError, RealmJupyterError
from ..display import note

if TYPE_CHECKING:
    from ..extension import RealmMagics

DEMO_APP_ID = "realm-jupyter-demo"


async def run(magics: RealmMagics, args: argparse.Namespace) -> None:
    context = magics.context
    if args.snapshot is not None:
        return await _open_snapshot(magics, args)
    if args.demo:
        from ...demo import DEMO_USERS

        url = context.demo()
        app_id = args.app or DEMO_APP_ID
        email = args.email or magics.demo_user
        user = next((u for u in DEMO_USERS if u.email == email), None)
        if user is None and not args.password:
            names = ", ".join(u.email for u in DEMO_USERS)
            raise RealmJupyterError(f"{email} is not a demo user (demo users: {names})")
        password = args.password or (user.password if user else "")
        credentials: Credentials | None = Credentials.email_password(email, password)
        login = email
    else:
        if not args.url or not args.app:
            raise RealmJupyterError("%realm_connect needs a server URL and --app (or --demo)",
                                    hint="%realm_connect http://127.0.0.1:9090 --app my-app "
                                         "--email me@example.com")
        url, app_id = args.url, args.app
        credentials, login = _credentials(args)

    def ask() -> Credentials:
        secret = os.environ.get("REALM_PASSWORD") or getpass.getpass(f"Password for {login}: ")
        return Credentials.email_password(login, secret)

    before = context.connection
    realm, reused = await context.connect(url, app_id, credentials, login, cache=args.cache,
                                          password_source=ask,
                                          on_error=lambda r, error: _on_error(magics, r, error))
    verb = "Still connected" if reused else "Connected"
    switched = ""
    if before is not None and not reused:
        switched = f" (the session of {before.login} at {before.base_url} is closed)"
    note(f"{verb} to {app_id} at {url} as {login} (user {realm.user.id}); "
         f"cache {realm.cache.path}{switched}", level="success")
    return None


async def _open_snapshot(magics: RealmMagics, args: argparse.Namespace) -> None:
    """``--snapshot PATH``: no server, no login — the snapshot's files, read-only."""
    other = [flag for flag, given in [("URL", args.url), ("--app", args.app), ("--demo", args.demo),
                                      ("--anonymous", args.anonymous), ("--email", args.email),
                                      ("--password", args.password),
                                      ("--api-key", args.api_key), ("--cache", args.cache)]
             if given]
    if other:
        raise RealmJupyterError(f"--snapshot opens a snapshot with no server: drop "
                                f"{', '.join(other)}")
    snapshot = await magics.context.open_snapshot(args.snapshot)
    note(f"Opened the {snapshot.describe()}", level="success")


def _credentials(args: argparse.Namespace) -> tuple[Credentials | None, str]:
    if args.anonymous:
        return Credentials.anonymous(), "anonymous"
    if args.api_key is not None or (args.email is None and os.environ.get("REALM_API_KEY")):
        key = args.api_key or os.environ.get("REALM_API_KEY") or getpass.getpass("API key: ")
        return Credentials.api_key(key), "api-key:" + key[:6]
    if args.email is None:
        raise RealmJupyterError("choose how to log in: --anonymous, --email E or --api-key K")
    if args.password:
        return Credentials.email_password(args.email, args.password), args.email
    if os.environ.get("REALM_PASSWORD"):
        return Credentials.email_password(args.email, os.environ["REALM_PASSWORD"]), args.email
    return None, args.email  # a stored refresh token, or a password prompt


def _on_error(magics: RealmMagics, realm: Any, error: Any) -> None:
    """Sync errors as warning lines in the running cell.

    An error that stopped sync while a magic waits for it (a full disk under
    ``%realm_subscribe``) is that magic's red line; it is held, and shown here only
    if the magic ends without raising it.
    """
    if magics.awaiting and error is realm.session.failure:
        magics.held_errors.append(error)
        return
    show_sync_error(magics, error)


def show_sync_error(magics: RealmMagics, error: Any) -> None:
    """One sync error as warning lines in the cell the user sees.

    A reverted write is reported under the cell that made it, if that cell is still running
    (``%realm_write`` waits for the server's answer, and so does a cell that awaits
    ``wait_for_upload``/``wait_for_download`` after its writes). It is never pinned to
    another cell: otherwise the status widget shows it (its error line follows the session)
    and ``realm.rejected_writes()`` lists it. Other sync errors wait for the next cell (see
    CellOutput).
    """
    if isinstance(error, CompensatingWriteError):
        lines = [f"⚠ write reverted by the server: {write.object_type} {write.primary_key}: "
                 f"{write.reason}" for write in error.writes
                 if magics.cells.made_here(write.client_version)]
    else:
        lines = [f"⚠ sync: {error}"]
    for text in lines:
        magics.cells.show(functools.partial(note, text, level="warning"))
