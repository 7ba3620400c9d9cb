"""``realm-jupyter apikeys list|revoke`` and ``users disable|enable``: who may still sync.

Revoking a key or disabling a user takes effect at once everywhere: their refresh
tokens stop working and their open streams end (a running server on the same
store hears it through the store's events), as docs/server.md describes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from .errors import RealmJupyterError

if TYPE_CHECKING:
    from .server.auth import Auth
    from .server.storage import ApiKeyRecord, Store, UserRecord

__all__ = ["run_apikeys", "run_users"]


async def run_apikeys(auth: Auth, store: Store, args: argparse.Namespace) -> int:
    if args.apikeys_command == "list":
        keys = await store.list_api_keys()
        if not keys:
            print("no API keys", file=sys.stderr)
        for key in keys:
            state = "revoked" if key.disabled else "active"
            print(f"{key.id}  {key.name}  user {key.user_id}  created {_when(key.created_at)}  "
                  f"{state}")
        return 0
    key = _one_key(await store.list_api_keys(), args.key)
    if key.disabled:
        print(f"API key {key.name!r} ({key.id}) was already revoked", file=sys.stderr)
        return 0
    await auth.revoke_api_key(key.id)
    print(f"revoked API key {key.name!r} ({key.id}): its refresh tokens and open streams end")
    return 0


async def run_users(auth: Auth, store: Store, args: argparse.Namespace) -> int:
    user = await _user(store, args.user)
    disable = args.users_command == "disable"
    await auth.set_user_disabled(user.id, disable)
    label = user.email or user.id
    print(f"disabled user {label}: their logins and open streams end" if disable
          else f"enabled user {label}")
    return 0


def _one_key(keys: list[ApiKeyRecord], wanted: str) -> ApiKeyRecord:
    by_id = [k for k in keys if k.id == wanted]
    matches = by_id or [k for k in keys if k.name == wanted]
    if not matches:
        raise RealmJupyterError(f"no API key with id or name {wanted!r}",
                                hint="realm-jupyter apikeys list shows them")
    if len(matches) > 1:
        ids = ", ".join(k.id for k in matches)
        raise RealmJupyterError(f"{len(matches)} API keys are named {wanted!r}: give the id "
                                f"({ids})")
    return matches[0]


async def _user(store: Store, wanted: str) -> UserRecord:
    user = (await store.find_user_by_email(wanted.strip().lower()) if "@" in wanted
            else await store.get_user(wanted))
    if user is None:
        raise RealmJupyterError(f"no user {wanted!r}",
                                hint="give the email of an email/password user, or a user id")
    return user


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
