"""Fixtures of the notebook tests: a demo store seeded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notebooks.support import seeded_demo_store


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy source of the demo store as the real server seeds it (``small``)."""
    return seeded_demo_store(tmp_path_factory.getbasetemp())
