"""Fixtures shared by the whole suite."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresCluster
from tests.support.servers import ServerUnderTest, serving

_database_names = (f"realm_test_{n}" for n in itertools.count(1))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole test session."""
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty database in the session's cluster."""
    return postgres_cluster.create_database(next(_database_names))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend: SQLite in a temporary file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def demo_server(store_url: str) -> AsyncIterator[ServerUnderTest]:
    """The demo app (tiny data, the three demo users) on a real loopback server."""
    async with serving(store_url) as server:
        yield server
