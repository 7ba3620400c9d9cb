"""The demo data generator: deterministic, in the wire schema, valid, and telling its story."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from realm_jupyter.demo import DEMO_APP_DIR, DEMO_USERS
from realm_jupyter.demo.generate import (
    CHUNK_ROWS,
    SIZES,
    STORY_ITEMS,
    document_counts,
    generate,
    iter_tables,
)
from realm_jupyter.documents import validate_document
from realm_jupyter.schema import ObjectSchema, PropertyType, Schema
from realm_jupyter.server.appdir import load_app
from realm_jupyter.wire import arrow_schema, encode_ipc

ALICE, BOB, CAROL = DEMO_USERS


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_app(DEMO_APP_DIR).schema


@pytest.fixture(scope="module")
def small() -> dict[str, pa.Table]:
    return generate("small")


def decode(object_schema: ObjectSchema, row: dict[str, Any]) -> dict[str, Any]:
    """A wire row back into a document: JSON text columns parsed, the rest as Arrow gave it."""
    return {name: json.loads(value)
            if value is not None and object_schema[name].type in (PropertyType.OBJECT,
                                                                  PropertyType.ARRAY)
            else value
            for name, value in row.items()}


# --------------------------------------------------------------------------- sizes and counts


def test_document_counts_per_size() -> None:
    assert document_counts("tiny") == {"UserProfile": 3, "Item": 30, "Order": 270}
    assert document_counts("small") == {"UserProfile": 3, "Item": 1_000, "Order": 9_000}
    assert document_counts("large") == {"UserProfile": 3, "Item": 5_000, "Order": 995_000}
    assert document_counts(5) == {"UserProfile": 3, "Item": 5, "Order": 0}
    for name, total in SIZES.items():
        counts = document_counts(name)
        assert counts["Item"] + counts["Order"] == total


@pytest.mark.parametrize("size", ["huge", -1, 1 << 24])
def test_bad_sizes_are_refused(size: str | int) -> None:
    with pytest.raises(ValueError, match="size"):
        document_counts(size)


@pytest.mark.parametrize("size", ["tiny", "small", 0, 12])
def test_generated_counts(size: str | int) -> None:
    tables = generate(size)
    assert {name: t.num_rows for name, t in tables.items()} == document_counts(size)


@pytest.mark.slow
def test_large_counts_and_unique_ids() -> None:
    tables = generate("large")
    assert {name: t.num_rows for name, t in tables.items()} == document_counts("large")
    assert pc.count_distinct(tables["Order"]["_id"]).as_py() == 995_000


# --------------------------------------------------------------------------- determinism and schema


def test_same_seed_gives_identical_bytes() -> None:
    first, second = generate("small", seed=11), generate("small", seed=11)
    assert list(first) == list(second) == ["Item", "Order", "UserProfile"]
    for name in first:
        assert encode_ipc(first[name]) == encode_ipc(second[name])


def test_another_seed_gives_other_data(small: dict[str, pa.Table]) -> None:
    other = generate("small", seed=8)
    assert not other["Order"].equals(small["Order"])
    assert other["Item"]["summary"][:len(STORY_ITEMS)].equals(
        small["Item"]["summary"][:len(STORY_ITEMS)])


def test_tables_have_the_wire_schema(schema: Schema, small: dict[str, pa.Table]) -> None:
    for name, table in {**small, **generate(0)}.items():
        assert table.schema == arrow_schema(schema[name]), name


def test_batches_cut_the_same_rows_whatever_their_length() -> None:
    size = CHUNK_ROWS + 12_345 + 1_000  # Orders cross a chunk boundary
    whole = generate(size)
    batches: dict[str, list[pa.Table]] = {}
    for name, table in iter_tables(size, batch_rows=30_000):
        assert 0 < table.num_rows <= 30_000
        batches.setdefault(name, []).append(table)
    for name, tables in batches.items():
        assert pa.concat_tables(tables).equals(whole[name]), name


# --------------------------------------------------------------------------- validity


def test_rows_validate_against_the_schema(schema: Schema, small: dict[str, pa.Table]) -> None:
    for name, table in small.items():
        object_schema = schema[name]
        sample = table.take(list(range(0, table.num_rows, 37))).to_pylist()
        assert sample
        for row in sample:
            validate_document(object_schema, decode(object_schema, row))


def test_object_ids_are_unique_across_types(small: dict[str, pa.Table]) -> None:
    ids = pa.chunked_array([c for t in small.values() for c in t["_id"].chunks])
    assert pc.count_distinct(ids).as_py() == len(ids)
    assert pc.all(pc.match_substring_regex(ids, "^[0-9a-f]{24}$")).as_py()


def test_decimal_amounts_are_exact_text(small: dict[str, pa.Table]) -> None:
    assert pc.all(pc.match_substring_regex(small["Order"]["amount"], r"^\d+\.\d\d$")).as_py()


# --------------------------------------------------------------------------- the story


def test_every_demo_user_owns_items(small: dict[str, pa.Table]) -> None:
    owners = set(small["Item"]["owner_id"].to_pylist())
    assert {user.id for user in DEMO_USERS} <= owners


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_north_team_has_open_urgent_items(size: str) -> None:
    items = generate(size)["Item"].to_pylist()
    north = [i for i in items if i["team"] == "north" and i["status"] == "open"
             and i["priority"] >= 3]
    assert north
    # Alice sees some of them through the team rule, not because she owns them.
    assert any(i["owner_id"] != ALICE.id for i in north)


def test_members_see_other_peoples_items_of_their_team(small: dict[str, pa.Table]) -> None:
    items = small["Item"].to_pylist()
    for user in (ALICE, BOB):
        (team,) = user.teams
        assert any(i["team"] == team and i["owner_id"] != user.id for i in items)


def test_open_priority_query_matches_a_healthy_fraction(small: dict[str, pa.Table]) -> None:
    items = small["Item"]
    hits = pc.and_(pc.equal(items["status"], "open"), pc.greater_equal(items["priority"], 3))
    assert 0.15 < pc.sum(hits).as_py() / items.num_rows < 0.45


def test_is_complete_follows_status(small: dict[str, pa.Table]) -> None:
    items = small["Item"]
    assert items["isComplete"].equals(pc.equal(items["status"], "done"))


def test_profiles_are_the_demo_users(small: dict[str, pa.Table]) -> None:
    profiles = small["UserProfile"].to_pylist()
    assert [{k: p[k] for k in ("user_id", "name", "role")} for p in profiles] == [
        {"user_id": u.id, "name": u.name, "role": u.role} for u in DEMO_USERS]
    assert [json.loads(p["teams"]) for p in profiles] == [list(u.teams) for u in DEMO_USERS]
    assert CAROL.custom_data == {"user_id": CAROL.id, "name": "Carol", "role": "admin",
                                 "teams": []}
