"""The CLI with exported apps: custom user data without a schema, development mode."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from realm_jupyter.server.appdir import load_app
from realm_jupyter.server.custom_data import get_custom_data
from realm_jupyter.server.storage import open_store
from tests.support.exports import guide_app, write_app
from tests.test_cli import cli

OWNER_ROLE = {"name": "owner", "apply_when": {},
              "document_filters": {"read": {"owner_id": "%%user.id"},
                                   "write": {"owner_id": "%%user.id"}},
              "read": True, "write": True}


def _store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


async def _custom(app_dir: Path, store_url: str, user_id: str) -> dict[str, Any]:
    config = load_app(app_dir)
    store = open_store(store_url)
    await store.open(config.schema.types, {})
    try:
        return await get_custom_data(config, store, user_id)
    finally:
        await store.close()


def _add(app_dir: Path, store: str, email: str, *extra: str) -> str:
    result = cli("users", "add", "--app-dir", str(app_dir), "--store", store, email,
                 "--password", "cli-password-1", *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_custom_data_without_schema_through_the_cli(tmp_path: Path) -> None:
    app_dir, store = guide_app(tmp_path / "app", "tiered"), _store(tmp_path)
    alice = _add(app_dir, store, "alice@example.com", "--custom-data", '{"team": "north"}')
    bob = _add(app_dir, store, "bob@example.com")
    assert asyncio.run(_custom(app_dir, store, alice)) == {"team": "north", "_id": alice}

    result = cli("users", "set-custom-data", "--app-dir", str(app_dir), "--store", store,
                 "alice@example.com", '{"team": "south", "isTeamAdmin": true}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"_id": alice, "isTeamAdmin": True, "team": "south"}
    result = cli("users", "set-custom-data", "--app-dir", str(app_dir), "--store", store, bob,
                 '{"team": "north"}')
    assert result.returncode == 0, result.stderr
    assert asyncio.run(_custom(app_dir, store, bob)) == {"team": "north", "_id": bob}

    for args, message in ((["nobody@example.com", "{}"], "no user 'nobody@example.com'"),
                          ([bob, "{not json"], "custom data is not valid JSON"),
                          ([bob, "[1]"], "custom data must be a JSON object")):
        result = cli("users", "set-custom-data", "--app-dir", str(app_dir), "--store", store,
                     *args)
        assert result.returncode == 1
        assert message in result.stderr and "Traceback" not in result.stderr

    documents = tmp_path / "users.ndjson"
    documents.write_text(json.dumps({"_id": bob, "team": "west"}) + "\n"
                         + json.dumps({"_id": "66a0000000000000000000cc", "team": "east"}) + "\n")
    result = cli("import", "--app-dir", str(app_dir), "--store", store, "User", str(documents))
    assert result.returncode == 0, result.stderr
    assert "2 custom user data documents" in result.stdout
    assert asyncio.run(_custom(app_dir, store, bob)) == {"team": "west", "_id": bob}


def test_schema_infer_prints_and_writes(tmp_path: Path) -> None:
    seeds = [{"_id": {"$oid": "65a000000000000000000001"}, "owner_id": "u1", "n": 1},
             {"_id": {"$oid": "65a000000000000000000002"}, "owner_id": "u2"}]
    app_dir = write_app(tmp_path / "app", sync={"development_mode_enabled": True,
                                                "queryable_fields_names": ["owner_id"]},
                        default_roles=[OWNER_ROLE], seeds={"Item": seeds})
    result = cli("schema", "infer", "--app-dir", str(app_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("// data_sources/mongodb-atlas/db/Item/schema.json\n")
    printed = json.loads(result.stdout.split("\n", 1)[1])
    assert printed == {"title": "Item", "bsonType": "object",
                       "properties": {"_id": {"bsonType": "objectId"},
                                      "owner_id": {"bsonType": "string"},
                                      "n": {"bsonType": "int"}},
                       "required": ["_id", "owner_id"]}
    target = app_dir / "data_sources/mongodb-atlas/db/Item/schema.json"
    assert not target.exists()
    result = cli("schema", "infer", "--app-dir", str(app_dir), "--write")
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text()) == printed
    assert not load_app(app_dir).collections["Item"].inferred


def test_import_in_development_mode_gives_a_new_collection_its_schema(tmp_path: Path) -> None:
    app_dir, store = write_app(tmp_path / "app", sync={"development_mode_enabled": True},
                               default_roles=[OWNER_ROLE]), _store(tmp_path)
    documents = tmp_path / "tasks.ndjson"
    documents.write_text("\n".join(json.dumps({"_id": n, "owner_id": "u", "title": f"t{n}"})
                                   for n in range(3)) + "\n")
    result = cli("import", "--app-dir", str(app_dir), "--store", store, "Task", str(documents))
    assert result.returncode == 0, result.stderr
    assert "wrote the inferred schema of Task" in result.stderr
    assert "imported 3 Task documents" in result.stdout
    assert [p.name for p in load_app(app_dir).schema["Task"]] == ["_id", "owner_id", "title"]

    plain = write_app(tmp_path / "plain", default_roles=[OWNER_ROLE])
    result = cli("import", "--app-dir", str(plain), "--store", _store(tmp_path / "plain"),
                 "Task", str(documents))
    assert result.returncode == 1 and "no collection or object type 'Task'" in result.stderr


def test_apikeys_create_admin_marks_the_key_admin(tmp_path: Path) -> None:
    from realm_jupyter.server.admin_routes import is_admin

    app_dir, store = guide_app(tmp_path / "app", "tiered"), _store(tmp_path)
    result = cli("apikeys", "create", "--app-dir", str(app_dir), "--store", store, "ops",
                 "--admin")
    assert result.returncode == 0, result.stderr
    user_id = result.stderr.split("server user ")[1].split(";")[0]

    async def check() -> bool:
        backend = open_store(store)
        await backend.open(load_app(app_dir).schema.types, {})
        try:
            return await is_admin(backend, user_id)
        finally:
            await backend.close()

    assert asyncio.run(check())
