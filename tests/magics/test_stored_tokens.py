"""``%realm_connect``'s stored login across refresh-token rotation (no kernel needed)."""

from __future__ import annotations

import stat
from pathlib import Path

from realm_jupyter.client import Credentials
from realm_jupyter.client.tokens import TokenStore
from realm_jupyter.magics.context import RealmContext
from tests.client.support import ALICE
from tests.support.servers import PASSWORDS, ServerUnderTest


def _never_asked() -> Credentials:
    raise AssertionError("the stored login should have been used, not a password")


async def test_connect_keeps_each_rotated_refresh_token(demo_server: ServerUnderTest,
                                                        tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path / "config" / "tokens.json")
    context = RealmContext(None, tokens)
    url, app_id = demo_server.url, demo_server.app_id
    try:
        realm, _ = await context.connect(
            url, app_id, Credentials.email_password(ALICE.email, PASSWORDS[ALICE.email]),
            ALICE.email, cache=str(tmp_path / "first.duckdb"))
        stored = tokens.get(url, app_id, ALICE.email)
        assert stored is not None and stored["refresh_token"] == realm.user.refresh_token
        await realm.user.access_token(refresh=True)  # the server rotates the refresh token
        rotated = tokens.get(url, app_id, ALICE.email)
        assert rotated is not None and rotated["refresh_token"] == realm.user.refresh_token
        assert rotated["refresh_token"] != stored["refresh_token"]
        assert stat.S_IMODE(tokens.path.stat().st_mode) == 0o600
        await context.close()
        # the next connection (a restarted kernel) resumes from the rotated token
        again, _ = await context.connect(url, app_id, None, ALICE.email,
                                         cache=str(tmp_path / "second.duckdb"),
                                         password_source=_never_asked)
        resumed = tokens.get(url, app_id, ALICE.email)
        assert resumed is not None and resumed["refresh_token"] == again.user.refresh_token
        assert resumed["refresh_token"] != rotated["refresh_token"]
    finally:
        await context.close()
