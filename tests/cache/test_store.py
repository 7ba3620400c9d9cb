"""The cache file: typed tables, metadata, transactions, schema changes, the process lock."""

from __future__ import annotations

import datetime as dt
import decimal
import subprocess
import sys
from pathlib import Path

import pytest

from realm_jupyter.cache import Cache, default_cache_path
from realm_jupyter.cache.apply import apply_changes
from realm_jupyter.cache.store import META
from realm_jupyter.errors import CacheError, CacheLockedError
from realm_jupyter.schema import Schema
from tests.cache.conftest import SCHEMA, names, oid, open_cache, thing, wire


def column_types(cache: Cache, table: str) -> dict[str, str]:
    rows = cache.execute("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_name = ? AND table_schema = 'main'", [table]).fetchall()
    return dict(rows)


def test_tables_are_typed_after_the_schema(cache: Cache) -> None:
    assert column_types(cache, "Thing") == {
        "_id": "VARCHAR", "name": "VARCHAR", "count": "BIGINT", "ratio": "DOUBLE",
        "price": "DECIMAL(38,9)", "done": "BOOLEAN", "when": "TIMESTAMP WITH TIME ZONE",
        "place": 'STRUCT(city VARCHAR, floor BIGINT)', "tags": "VARCHAR[]"}
    assert column_types(cache, "Counter") == {"_id": "BIGINT", "value": "BIGINT"}
    apply_changes(cache, 5, {"Thing": wire([thing(1, tags=None, place=None)])}, {})
    row = cache.execute('SELECT price, "when", place, tags FROM Thing').fetchall()[0]
    assert row[0] == decimal.Decimal("1.25")
    assert row[1] == dt.datetime(2025, 1, 2, 10, tzinfo=dt.UTC)
    assert row[2] is None and row[3] == []  # a missing list is an empty list


def test_metadata_and_transactions(tmp_path: Path) -> None:
    cache = open_cache(tmp_path / "c.duckdb")
    assert cache.get_meta("missing", "default") == "default" and cache.cursor_version == 0
    with cache.transaction():
        cache.set_meta("cursor", 42)
        cache.set_meta("nested", {"a": [1, 2, None]})
    with pytest.raises(ZeroDivisionError), cache.transaction():
        cache.set_meta("cursor", 43)
        raise ZeroDivisionError
    assert cache.cursor_version == 42
    with pytest.raises(CacheError, match="cache query failed"):
        cache.execute("SELECT * FROM no_such_table")
    with pytest.raises(CacheError):
        cache.arrow("SELEKT 1")
    assert cache.arrow("CREATE VIEW answer AS SELECT 42 AS x").num_rows == 0  # no result set
    assert cache.arrow("SELECT x FROM answer").to_pylist() == [{"x": 42}]
    cache.close()
    reopened = Cache(tmp_path / "c.duckdb")
    assert reopened.cursor_version == 42 and reopened.get_meta("nested") == {"a": [1, 2, None]}
    reopened.close()
    readonly = Cache(tmp_path / "c.duckdb", read_only=True)
    assert readonly.cursor_version == 42
    readonly.close()


def test_a_changed_schema_resets_the_tables(tmp_path: Path) -> None:
    cache = open_cache(tmp_path / "c.duckdb")
    apply_changes(cache, 9, {"Thing": wire([thing(1), thing(2)])}, {})
    assert cache.ensure_schema(SCHEMA) is False and names(cache) == ["thing 1", "thing 2"]
    smaller = Schema({"Thing": SCHEMA["Thing"]})
    cache.close()
    cache = Cache(tmp_path / "c.duckdb")
    assert cache.ensure_schema(smaller) is True
    assert cache.cursor_version == 0 and names(cache) == []
    tables = {row[0] for row in cache.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    assert tables == {"Thing", "__realm_stage_Thing"}  # object table + its bootstrap staging
    cache.close()


def test_default_paths_are_per_server_app_and_user() -> None:
    one = default_cache_path("http://127.0.0.1:9090/", "my app/1", "u1")
    assert one == default_cache_path("http://127.0.0.1:9090", "my app/1", "u1")
    assert one != default_cache_path("http://127.0.0.1:9090", "my app/1", "u2")
    assert one.suffix == ".duckdb" and one.name.startswith("my_app_1-")


def test_a_second_process_is_locked_out_with_the_holders_pid(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    open_cache(path).close()
    with subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                                   "print('ready', flush=True); sys.stdin.read()", str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "ready"
            with pytest.raises(CacheLockedError, match=f"PID {holder.pid}") as caught:
                Cache(path)
            assert "another process" in str(caught.value) and caught.value.hint
        finally:
            holder.stdin.close()
            holder.wait(30)
    Cache(path).close()  # free again


def test_one_cache_one_writer_in_this_process_too(tmp_path: Path) -> None:
    first = open_cache(tmp_path / "c.duckdb")
    with pytest.raises(CacheLockedError, match="already open in this process"):
        Cache(tmp_path / "." / "c.duckdb")
    first.close()
    first.close()  # closing twice is harmless
    second = open_cache(tmp_path / "c.duckdb")
    second.close()


def test_unreadable_files_are_cache_errors(tmp_path: Path) -> None:
    path = tmp_path / "not-a-cache.duckdb"
    path.write_bytes(b"this is not a DuckDB file" * 100)
    with pytest.raises(CacheError) as caught:
        Cache(path)
    assert not isinstance(caught.value, CacheLockedError)


def test_metadata_lives_beside_the_tables(cache: Cache) -> None:
    tables = {row[0] for row in cache.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
        [META]).fetchall()}
    assert {"meta", "subscription_sets", "subscriptions", "bootstrap", "staged_removes",
            "upload_queue", "changes", "rejected_writes"} <= tables
    assert oid(1) == "000000000000000000000001"


def test_duckdb_memory_is_capped_and_spills_beside_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A query bigger than the cap spills to ``<cache>.tmp`` instead of growing the kernel."""
    from realm_jupyter.cache.store import memory_limit

    monkeypatch.delenv("REALM_CACHE_MEMORY_LIMIT", raising=False)
    assert memory_limit().endswith("MiB") and 256 <= int(memory_limit()[:-3]) <= 1024
    monkeypatch.setenv("REALM_CACHE_MEMORY_LIMIT", "24MB")
    cache = Cache(tmp_path / "c.duckdb")
    try:
        limit, temp = cache.execute("SELECT current_setting('memory_limit'), "
                                    "current_setting('temp_directory')").fetchall()[0]
        assert limit == "22.8 MiB"  # DuckDB shows 24 MB in MiB
        assert temp == f"{tmp_path / 'c.duckdb'}.tmp"
        assert (tmp_path / "c.duckdb.tmp").stat().st_mode & 0o777 == 0o700  # spills: owner-only
        cache.execute("CREATE TABLE big AS SELECT range AS i, md5(range::VARCHAR) || "
                      "md5((range + 1)::VARCHAR) AS s FROM range(600000)")
        rows = cache.execute("SELECT count(*), min(s), max(s) FROM (SELECT s FROM big ORDER BY s "
                             "LIMIT 599999)").fetchall()
        assert rows[0][0] == 599_999
    finally:
        cache.close()
