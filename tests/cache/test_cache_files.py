"""The cache holds a user's synced documents: its file and the directory made for it are
its owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from realm_jupyter.cache.store import Cache


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_cache_and_its_directory_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "made-for-it" / "cache.duckdb"
    cache = Cache(path)
    try:
        with cache.transaction() as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
            conn.execute("INSERT INTO t VALUES (1)")
        assert mode(path.parent) == 0o700
        assert mode(path) == 0o600
    finally:
        cache.close()


def test_an_existing_cache_file_is_tightened_on_open(tmp_path: Path) -> None:
    path = tmp_path / "cache.duckdb"
    Cache(path).close()
    os.chmod(path, 0o644)
    cache = Cache(path)
    try:
        assert mode(path) == 0o600
    finally:
        cache.close()
