"""Two (or more) demo clients against one real server, for write-path scenarios."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from realm_jupyter.client import Realm
from tests.support.servers import ServerUnderTest


@contextlib.asynccontextmanager
async def clients(server: ServerUnderTest, tmp_path: Path, *emails: str,
                  **options: Any) -> AsyncIterator[list[Realm]]:
    async with contextlib.AsyncExitStack() as stack:
        realms = [await stack.enter_async_context(
            server.realm(email, tmp_path / f"{n}-{email.split('@')[0]}.duckdb", **options))
            for n, email in enumerate(emails)]
        yield realms


async def settle(*realms: Realm) -> None:
    """Every realm has uploaded its writes and downloaded everything the server has."""
    for realm in realms:
        await realm.session.wait_for_upload(30)
    for realm in realms:
        await realm.session.wait_for_download(30)


@pytest.fixture
def make_clients(demo_server: ServerUnderTest, tmp_path: Path) -> Any:
    def make(*emails: str, **options: Any) -> Any:
        return clients(demo_server, tmp_path, *emails, **options)

    return make
