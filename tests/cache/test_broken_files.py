"""Cache files that are broken, and directories that cannot hold one: ``CacheError``, one line.

Each broken file is a real cache (tens of thousands of rows, checkpointed) that is then
truncated, overwritten in the middle, or replaced; using it the way sync does (open,
schema, subscription sets, every table read, a frame applied) must raise a
``CacheError`` that names the file and says to delete it — never a raw DuckDB error.
Deleting the file, as the message says, gives a working cache again.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from realm_jupyter.cache import Cache
from realm_jupyter.cache.apply import apply_changes
from realm_jupyter.cache.subscriptions import load_sets
from realm_jupyter.errors import CacheError, CacheLockedError
from tests.cache.conftest import SCHEMA, names, open_cache, thing, wire
from tests.support.disks import read_only_directory

ROWS = 30_000


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A healthy cache file with data blocks well past its header and catalog."""
    path = tmp_path_factory.mktemp("sound") / "cache.duckdb"
    cache = open_cache(path)
    apply_changes(cache, 7, {"Thing": wire([thing(n) for n in range(ROWS)])}, {})
    cache.execute("CHECKPOINT")
    cache.close()
    assert path.stat().st_size > 1_000_000
    return path


def _use(path: Path) -> None:
    """Everything sync and a notebook do with a cache, start to finish."""
    cache = Cache(path)
    try:
        cache.ensure_schema(SCHEMA)
        load_sets(cache)
        for object_schema in SCHEMA:
            cache.arrow(f"SELECT * FROM {cache.table(object_schema.name)}")
        apply_changes(cache, 8, {"Thing": wire([thing(ROWS + 1)])}, {})
    finally:
        cache.close()


def _truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _garbage_in_the_middle(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size // 2)
        file.write(random.Random(18).randbytes(64 * 1024))


def _garbage_after_the_header(path: Path) -> None:
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(random.Random(19).randbytes(8 * 1024))


def _not_duckdb(path: Path) -> None:
    path.write_text("name,count\nthing,1\n" * 1000)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


BREAKAGES: dict[str, Callable[[Path], None]] = {
    "truncated": _truncated,
    "garbage in the middle": _garbage_in_the_middle,
    "garbage after the header": _garbage_after_the_header,
    "not a DuckDB file": _not_duckdb,
    "empty": _empty,
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_broken_cache_file_is_one_cache_error_that_says_delete_it(
        breakage: str, sound: Path, tmp_path: Path) -> None:
    path = tmp_path / "cache.duckdb"
    path.write_bytes(sound.read_bytes())
    BREAKAGES[breakage](path)
    with pytest.raises(CacheError) as caught:
        _use(path)
    error = caught.value
    assert not isinstance(error, CacheLockedError)
    assert isinstance(error.__cause__, duckdb.Error)  # translated, with the cause kept
    message = str(error)
    assert "\n" not in message and str(path) in message and "delete it to resync" in message
    assert error.hint and "downloads everything again" in error.hint
    path.unlink()  # what the message says to do: a fresh cache works
    _use(path)
    fresh = open_cache(path)
    assert names(fresh) == [f"thing {ROWS + 1}"]
    fresh.close()


def test_a_read_only_cache_directory_is_refused_before_duckdb_opens_it(tmp_path: Path) -> None:
    with read_only_directory(tmp_path / "readonly") as directory:
        path = directory / "cache.duckdb"
        with pytest.raises(CacheError) as caught:
            Cache(path)
        message = str(caught.value)
        assert "\n" not in message and str(path) in message and "read-only" in message
        assert caught.value.hint and "--cache" in caught.value.hint
        assert not path.exists()
    Cache(tmp_path / "readonly" / "cache.duckdb").close()  # nothing is left holding the path


def test_a_read_only_cache_file_is_refused_before_duckdb_opens_it(tmp_path: Path) -> None:
    open_cache(tmp_path / "readonly" / "cache.duckdb").close()
    with read_only_directory(tmp_path / "readonly") as directory:
        path = directory / "cache.duckdb"
        with pytest.raises(CacheError) as caught:
            Cache(path)
        assert f"cannot write the cache {path}: its file is read-only" in str(caught.value)
        readonly = Cache(path, read_only=True)  # reading it (a snapshot, a look) still works
        assert readonly.get_meta("schema") is not None
        readonly.close()


def test_a_directory_that_cannot_be_created_is_a_cache_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(CacheError, match="cannot create the cache directory"):
        Cache(tmp_path / "a-file" / "cache.duckdb")
