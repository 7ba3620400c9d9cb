"""Applying what the server sends: one transaction per frame, durable staging, atomic bootstraps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from realm_jupyter.cache import Cache
from realm_jupyter.cache import apply as cache_apply
from realm_jupyter.cache.store import META
from tests.cache.conftest import names, oid, open_cache, thing, wire


def log(cache: Cache) -> list[tuple[Any, ...]]:
    return cache.execute(f"SELECT server_version, object_type, pk, operation, rows, origin "
                         f"FROM {META}.changes ORDER BY applied_at, pk").fetchall()


def begin(cache: Cache, version: int = 1, kind: str = "diff", first: int = 10,
          snapshot: int = 10) -> None:
    cache_apply.begin_bootstrap(cache, {"version": version, "kind": kind,
                                        "first_snapshot": first, "snapshot": snapshot,
                                        "totals": {"rows": 3}})


def test_changes_upsert_remove_and_move_the_cursor(cache: Cache) -> None:
    cache_apply.apply_changes(cache, 3, {"Thing": wire([thing(1), thing(2)])}, {})
    cache_apply.apply_changes(cache, 5, {"Thing": wire([thing(2, name="two")])},
                              {"Thing": [oid(1)], "Counter": []})
    assert names(cache) == ["two"] and cache.cursor_version == 5
    cache_apply.apply_changes(cache, 6, {}, {})  # an empty frame still moves the cursor
    assert cache.cursor_version == 6
    cache_apply.apply_changes(cache, 7, {"Counter": wire([{"_id": 7, "value": 1}], "Counter")},
                              {})
    cache_apply.apply_changes(cache, 8, {}, {"Counter": [7]})
    assert cache.execute("SELECT count(*) FROM Counter").fetchall() == [(0,)]
    assert sorted(log(cache)) == [
        (3, "Thing", f'"{oid(1)}"', "upsert", 1, "server"),
        (3, "Thing", f'"{oid(2)}"', "upsert", 1, "server"),
        (5, "Thing", f'"{oid(1)}"', "remove", 1, "server"),
        (5, "Thing", f'"{oid(2)}"', "upsert", 1, "server"),
        (7, "Counter", "7", "upsert", 1, "server"),
        (8, "Counter", "7", "remove", 1, "server"),
    ]


def test_a_failing_frame_leaves_nothing_behind(cache: Cache) -> None:
    cache_apply.apply_changes(cache, 3, {"Thing": wire([thing(1)])}, {})

    def fail(conn: Any) -> None:
        assert conn.execute("SELECT name FROM Thing").fetchall() == [("thing 2",)]
        raise RuntimeError("replay failed")

    with pytest.raises(RuntimeError):
        cache_apply.apply_changes(cache, 4, {"Thing": wire([thing(2)])}, {"Thing": [oid(1)]},
                                  after=fail)
    assert names(cache) == ["thing 1"] and cache.cursor_version == 3 and len(log(cache)) == 1


def test_staging_is_durable_and_resumable(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    cache = open_cache(path)
    begin(cache)
    cache_apply.stage_batch(cache, "Thing", wire([thing(1), thing(2)]), 0, oid(2))
    cache.close()

    cache = open_cache(path)  # a restart keeps what was staged
    staged = cache_apply.staged_bootstrap(cache)
    assert staged == {"version": 1, "kind": "diff", "first_snapshot": 10, "snapshot": 10,
                      "step": 0, "after": oid(2), "received": 2, "totals": {"rows": 3}}
    begin(cache, snapshot=12)  # the same bootstrap resumed at a later snapshot
    cache_apply.stage_batch(cache, "Thing", wire([thing(3)]), 0, oid(3))
    cache_apply.stage_removes(cache, "Thing", [oid(9)], 1, oid(9))
    staged = cache_apply.staged_bootstrap(cache)
    assert staged is not None
    assert (staged["snapshot"], staged["received"], staged["step"], staged["after"]) == \
        (12, 3, 1, oid(9))
    assert names(cache) == []  # nothing is visible before the end

    begin(cache, first=11)  # another bootstrap: what was staged goes
    assert cache_apply.staged_bootstrap(cache)["received"] == 0  # type: ignore[index]
    assert cache.execute(f'SELECT count(*) FROM {cache.stage_table("Thing")}').fetchall() == \
        [(0,)]
    cache.close()


def test_a_diff_bootstrap_applies_atomically(cache: Cache) -> None:
    cache_apply.apply_changes(cache, 3, {"Thing": wire([thing(1), thing(2), thing(3)])}, {})
    begin(cache, version=2)
    cache_apply.stage_batch(cache, "Thing", wire([thing(2, name="new two"), thing(4)]), 0, oid(4))
    cache_apply.stage_removes(cache, "Thing", [oid(3)], 1, oid(3))
    with pytest.raises(ValueError, match="no staged bootstrap for version 3"):
        cache_apply.apply_bootstrap(cache, 3, 10)
    seen: list[int] = []

    def on_commit(conn: Any) -> None:
        seen.append(conn.execute("SELECT count(*) FROM Thing").fetchall()[0][0])
        raise RuntimeError("the subscription state could not be saved")

    with pytest.raises(RuntimeError):
        cache_apply.apply_bootstrap(cache, 2, 10, on_commit=on_commit)
    assert seen == [3] and names(cache) == ["thing 1", "thing 2", "thing 3"]
    assert cache_apply.staged_bootstrap(cache) is not None  # still staged, still resumable

    added = cache_apply.apply_bootstrap(cache, 2, 10, on_commit=lambda conn: seen.append(-1))
    assert added == {"Thing": 2, "Counter": 0} and seen == [3, -1]
    assert names(cache) == ["thing 1", "new two", "thing 4"]
    assert cache.cursor_version == 10 and cache_apply.staged_bootstrap(cache) is None
    assert sorted(log(cache)[-2:]) == [(None, "Thing", None, "bootstrap", 2, "bootstrap"),
                                       (None, "Thing", None, "remove", 1, "bootstrap")]


def test_a_full_bootstrap_replaces_every_type(cache: Cache) -> None:
    cache_apply.apply_changes(cache, 3, {"Thing": wire([thing(1), thing(2)]),
                                         "Counter": wire([{"_id": 1, "value": 5}], "Counter")},
                              {})
    begin(cache, version=1, kind="full")
    cache_apply.stage_batch(cache, "Thing", wire([thing(5)]), 0, oid(5))
    cache_apply.apply_bootstrap(cache, 1, 20)
    assert names(cache) == ["thing 5"]
    assert cache.execute("SELECT count(*) FROM Counter").fetchall() == [(0,)]
    cache_apply.discard_staged(cache)
    assert cache_apply.staged_bootstrap(cache) is None


def test_large_frames_replace_and_remove_by_key(cache: Cache) -> None:
    many = [thing(n) for n in range(1, 41)]  # more keys than are bound as parameters
    cache_apply.apply_changes(cache, 1, {"Thing": wire(many)}, {})
    cache_apply.apply_changes(cache, 2, {"Thing": wire([thing(n, name="again") for n in
                                                        range(1, 21)])},
                              {"Thing": [oid(n) for n in range(21, 41)]})
    assert names(cache) == ["again"] * 20
    assert cache.execute(f"SELECT operation, count(*) FROM {META}.changes WHERE server_version = 2 "
                         "GROUP BY operation ORDER BY operation").fetchall() == [
        ("remove", 20), ("upsert", 20)]
