"""Reading documents from files (Extended JSON arrays, NDJSON, BSON) and seeding them all or nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
import shutil
from pathlib import Path

import bson
import pytest
from bson import ObjectId

from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.server.appdir import load_app
from realm_jupyter.server.importer import InvalidDocumentsError, read_documents
from realm_jupyter.server.storage import open_store
from tests.support.servers import serving

ITEM = load_app(DEMO_APP_DIR).schema["Item"]
IDS = [ObjectId(f"66bb0000000000000000000{n}") for n in range(1, 4)]
WHEN = dt.datetime(2024, 3, 1, 8, 30, tzinfo=dt.UTC)


def extended(n: int) -> dict[str, object]:
    """An Item as ``mongoexport`` writes it (canonical Extended JSON)."""
    return {"_id": {"$oid": str(IDS[n])}, "owner_id": "u1", "summary": f"item {n}",
            "priority": {"$numberInt": str(n + 1)}, "tags": ["a", "b"][: n],
            "created_at": {"$date": {"$numberLong": str(int(WHEN.timestamp() * 1000))}}}


def check(documents: list[dict[str, object]]) -> None:
    assert [d["_id"] for d in documents] == IDS
    assert [d["priority"] for d in documents] == [1, 2, 3]
    assert documents[2]["tags"] == ["a", "b"] and documents[0]["tags"] == []
    assert all(d["created_at"] == WHEN for d in documents)
    assert documents[0]["status"] is None and documents[0]["isComplete"] is None


def test_an_extended_json_array(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([extended(n) for n in range(3)], indent=2))
    check(read_documents(path, ITEM))


def test_ndjson_as_mongoexport_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text("\n".join(json.dumps(extended(n)) for n in range(3)) + "\n\n")
    check(read_documents(path, ITEM))


def test_bson_as_mongodump_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "items.bson"
    path.write_bytes(b"".join(bson.encode({"_id": IDS[n], "owner_id": "u1", "summary": f"item {n}",
                                           "priority": n + 1, "tags": ["a", "b"][: n],
                                           "created_at": WHEN}) for n in range(3)))
    check(read_documents(path, ITEM))


@pytest.mark.parametrize(("text", "where"), [
    ("\n".join([json.dumps(extended(0)), json.dumps(extended(1)), '{"_id": {"$oid": "x"}, oops',
                json.dumps(extended(2))]), "line 3"),
    ("\n".join([json.dumps(extended(0)), json.dumps(extended(1)),
                json.dumps({**extended(2), "summary": 5})]), "line 3"),
    ("[\n" + ",\n".join(json.dumps(d) for d in [extended(0), extended(1),
                                                 {**extended(2), "colour": "red"}]) + "\n]",
     "line 4"),
    ("\n".join([json.dumps(extended(0)), json.dumps({**extended(1),
                                                      "_id": {"$oid": "not-hex"}})]), "line 2"),
    ("\n".join([json.dumps({**extended(0), "priority": {"$numberDecimal": "abc"}})]), "line 1"),
])
def test_a_bad_document_is_named_by_its_line(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "items.json"
    path.write_text(text)
    with pytest.raises(InvalidDocumentsError) as caught:
        read_documents(path, ITEM)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].location == where
    assert where in str(caught.value) and "nothing was imported" in str(caught.value)


def test_a_truncated_bson_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "items.bson"
    good = bson.encode({"_id": IDS[0], "owner_id": "u1", "summary": "s"})
    path.write_bytes(good + good[:10])
    with pytest.raises(InvalidDocumentsError) as caught:
        read_documents(path, ITEM)
    assert caught.value.problems[0].location.startswith("document 2")


def open_files(prefix: Path) -> list[str]:
    """Files of this process whose path starts with ``prefix`` (Linux ``/proc``)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return []
    found = []
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(prefix)):
                found.append(target)
    return found


async def test_a_seed_file_with_one_bad_line_commits_nothing(tmp_path: Path) -> None:
    app_dir = Path(shutil.copytree(DEMO_APP_DIR, tmp_path / "app"))
    (app_dir / "data").mkdir()
    lines = [json.dumps(extended(n)) for n in range(3)]
    lines.insert(2, json.dumps({**extended(2), "_id": {"$oid": "66bb00000000000000000009"},
                                "priority": "high"}))
    seed = app_dir / "data" / "Item.json"
    seed.write_text("\n".join(lines))
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with pytest.raises(RuntimeError, match="failed to start"):
        async with serving(url, app_dir, demo_size=None):
            pass
    gc.collect()  # a socket or store connection left open would warn now, inside this test
    assert open_files(tmp_path / "store.sqlite3") == [], "the failed start left the store open"
    app = load_app(app_dir)
    store = open_store(url)
    await store.open(app.schema.types, {})
    try:
        assert await store.latest_version() == 0
        assert await store.get_documents("Item", IDS) == {}
        assert await store.get_meta("seeded:Item") is None
    finally:
        await store.close()
    # fixed, the seed loads once, however often the server starts
    del lines[2]
    seed.write_text("\n".join(lines))
    versions = []
    for _ in range(2):
        async with serving(url, app_dir, demo_size=None) as server:
            found = await server.store.get_documents("Item", IDS)
            assert sorted(found) == IDS and found[IDS[2]]["priority"] == 3
            versions.append(await server.store.latest_version())
    assert versions[0] == versions[1] > 0
