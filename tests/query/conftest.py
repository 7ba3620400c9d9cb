"""Engines for the query suite: created once per module, reloaded per example."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.query.engines import DuckDBEngine, PostgreSQLEngine, PythonEngine, SQLiteEngine
from tests.strategies import SCHEMA
from tests.support.postgres import PostgresCluster


@pytest.fixture(scope="module")
def python_engine() -> PythonEngine:
    return PythonEngine(SCHEMA)


@pytest.fixture(scope="module")
def duckdb_engine() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(SCHEMA)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def sqlite_engine() -> Iterator[SQLiteEngine]:
    engine = SQLiteEngine(SCHEMA)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def postgres_engine(postgres_cluster: PostgresCluster) -> Iterator[PostgreSQLEngine]:
    """A module's own database in the session's throwaway cluster."""
    url = postgres_cluster.create_database(f"realm_query_{uuid.uuid4().hex[:12]}")
    engine = PostgreSQLEngine(SCHEMA, url)
    yield engine
    engine.close()
