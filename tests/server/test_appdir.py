"""Loading app directories: the demo app, a modern and an older export, every way to fail."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.errors import ConfigError, SchemaError
from realm_jupyter.schema import PropertyType
from realm_jupyter.server.appdir import FieldPermission, Role, SyncConfig, load_app
from realm_jupyter.server.appdir_roles import MATCH_NOTHING

FIXTURES = Path(__file__).parent.parent / "fixtures" / "apps"
MODERN = FIXTURES / "todo-modern"
LEGACY = FIXTURES / "tasks-legacy"
ITEM_DIR = "data_sources/mongodb-atlas/todo/Item"


def copy_app(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / source.name))


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


# --------------------------------------------------------------------------- the demo app


def test_demo_app_loads_with_its_three_types() -> None:
    app = load_app(DEMO_APP_DIR)
    assert app.app_id == "realm-jupyter-demo"
    assert app.schema.names == ["Item", "Order", "UserProfile"]
    assert {c.service for c in app.collections.values()} == {"mongodb-atlas"}
    assert {c.database for c in app.collections.values()} == {"demo"}
    assert sorted(app.providers) == ["anon-user", "api-key", "local-userpass"]
    assert not any(p.disabled for p in app.providers.values())
    assert app.providers["local-userpass"].config["autoConfirm"] is True
    assert app.unused == ()


def test_demo_app_schema_matches_the_story() -> None:
    app = load_app(DEMO_APP_DIR)
    item, order = app.schema["Item"], app.schema["Order"]
    assert {p.name for p in item if p.required and not p.is_list} == {"_id", "owner_id", "summary"}
    assert item["tags"].element.type is PropertyType.STRING
    assert order["amount"].type is PropertyType.DECIMAL
    assert order["customer"].embedded is not None
    assert list(order["customer"].embedded.properties) == ["name", "city", "country"]
    assert len(order.properties) == 12


def test_demo_app_sync_config_and_custom_user_data() -> None:
    app = load_app(DEMO_APP_DIR)
    assert app.sync.queryable_fields("Item") == {
        "_id", "owner_id", "team", "status", "priority", "isComplete", "tags", "created_at"}
    assert "customer" not in app.sync.queryable_fields("Order")
    assert app.sync.queryable_fields("UserProfile") >= {"_id", "user_id"}
    assert app.sync.indexed_queryable_fields_names == ()
    assert app.sync.client_max_offline_days == 30
    assert app.custom_user_data is not None
    assert app.custom_user_data.object_type == "UserProfile"
    assert app.custom_user_data.user_id_field == "user_id"


def test_demo_app_roles_in_order() -> None:
    app = load_app(DEMO_APP_DIR)
    assert [r.name for r in app.roles_for("Item")] == ["admin", "team-member", "owner"]
    team = app.roles_for("Item")[1]
    assert team.apply_when == {"%%user.custom_data.role": "member"}
    assert team.read_filter == {"$or": [{"owner_id": "%%user.id"},
                                        {"team": {"$in": "%%user.custom_data.teams"}}]}
    assert team.write_filter == {"owner_id": "%%user.id"}
    regional = app.roles_for("Order")[1]
    assert regional.name == "regional"
    assert regional.fields["customer"] == FieldPermission(read=False, write=False)
    assert regional.additional_fields.read and not regional.additional_fields.write
    assert [r.name for r in app.roles_for("UserProfile")] == ["self"]
    assert [r.name for r in app.default_roles] == ["deny"]


# --------------------------------------------------------------------------- a modern export


def test_modern_export_loads() -> None:
    app = load_app(MODERN)
    assert (app.app_id, app.name, app.root) == ("todo-abcde", "todo", MODERN.absolute())
    assert sorted(app.collections) == ["Item", "Team", "User"]
    user = app.collections["User"]
    assert (user.service, user.database, user.collection) == ("mongodb-atlas", "todo", "users")
    assert app.schema["Team"].primary_key_property.type is PropertyType.UUID


def test_modern_export_providers_skip_unserved_types() -> None:
    app = load_app(MODERN)
    assert sorted(app.providers) == ["anon-user", "api-key", "local-userpass"]
    assert app.providers["api-key"].disabled
    assert app.providers["local-userpass"].config["resetPasswordUrl"] == "https://example.com/reset"


def test_modern_export_roles_and_default_rule() -> None:
    app = load_app(MODERN)
    owner = app.roles_for("Item")[1]
    assert owner == Role(
        name="owner", apply_when={}, read_filter={"owner_id": "%%user.id"},
        write_filter={"owner_id": "%%user.id"}, read=False, write=False, insert=True,
        delete=False, search=True, fields={"priority": FieldPermission(read=True)},
        additional_fields=FieldPermission(read=True, write=True))
    assert app.collections["Team"].roles == ()
    default = app.roles_for("Team")
    assert [r.name for r in default] == ["readAll"]
    # `false` is a filter that matches nothing: the role stays Sync-compatible.
    assert default[0].read_filter == {} and default[0].write_filter == MATCH_NOTHING


def test_modern_export_sync_config_keys_by_collection_name() -> None:
    app = load_app(MODERN)
    assert app.sync == SyncConfig(
        queryable_fields_names=("owner_id",),
        collection_queryable_fields_names={"Item": ("isComplete", "priority", "labels"),
                                           "User": ("user_id",)},
        indexed_queryable_fields_names=("owner_id",),
        client_max_offline_days=14, is_recovery_mode_disabled=True)
    assert app.sync.queryable_fields("User") == {"_id", "owner_id", "user_id"}


def test_modern_export_custom_user_data_resolves_collection_to_type() -> None:
    app = load_app(MODERN)
    assert app.custom_user_data is not None
    assert app.custom_user_data.collection_name == "users"
    assert app.custom_user_data.object_type == "User"


def test_modern_export_seed_files_by_type_or_collection() -> None:
    app = load_app(MODERN)
    assert app.collections["Item"].seed_path == MODERN.absolute() / "data" / "Item.json"
    assert app.collections["User"].seed_path == MODERN.absolute() / "data" / "users.json"
    assert app.collections["Team"].seed_path is None


def test_modern_export_unused_parts_are_listed_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="realm_jupyter.server.appdir"):
        app = load_app(MODERN)
    assert app.unused == (
        "data_sources/mongodb-atlas/config.json",
        f"{ITEM_DIR}/relationships.json",
        "data_sources/mongodb-atlas/todo/Log/",  # rules but an empty schema: not synced
        "environments/",
        "functions/",
        "graphql/",
        "http_endpoints/",
        "sync/config.json key 'asymmetric_tables'",
        "triggers/",
        "values/",
    )
    records = [r for r in caplog.records if r.name == "realm_jupyter.server.appdir"]
    assert len(records) == 1
    assert "functions/" in records[0].getMessage()
    assert "oauth2-google" in records[0].getMessage()


def test_roles_for_unknown_type() -> None:
    with pytest.raises(SchemaError, match="unknown object type 'Nope'"):
        load_app(MODERN).roles_for("Nope")


# --------------------------------------------------------------------------- an older export


def test_legacy_export_loads_from_realm_config() -> None:
    app = load_app(LEGACY)
    assert (app.app_id, app.name) == ("tasktracker-qwert", "TaskTracker")
    assert sorted(app.collections) == ["Comment", "Project", "Task"]
    assert sorted(app.providers) == ["anon-user", "local-userpass"]  # a list, not a dict
    assert app.custom_user_data is None
    assert app.unused == (
        "data_sources/mongodb-atlas/config.json",
        "data_sources/mongodb-atlas/tracker/Project/relationships.json",
        "functions/",
        "hosting/",
        "services/",
    )


def test_legacy_permissions_become_roles() -> None:
    app = load_app(LEGACY)
    (owner,) = app.roles_for("Task")
    assert owner == Role(name="owner", apply_when={}, read_filter={"owner_id": "%%user.id"},
                         write_filter={"owner_id": "%%user.id"}, read=True, write=True)
    admin, reader = app.roles_for("Project")
    assert admin.apply_when == {"%%user.custom_data.isGlobalAdmin": True}
    assert (admin.read_filter, admin.write_filter, admin.read, admin.write) == ({}, {}, True, True)
    assert (reader.read_filter, reader.write_filter) == ({"owner_id": "%%user.id"}, MATCH_NOTHING)
    assert (reader.read, reader.write, reader.insert, reader.delete) == (True, False, False, False)
    (default,) = app.roles_for("Comment")
    assert (default.name, default.read_filter, default.write_filter) == ("read-only", {}, MATCH_NOTHING)


# --------------------------------------------------------------------------- every way to fail


def assert_config_error(app: Path, file: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_app(app)
    assert caught.value.path == str(app.absolute() / file)
    assert str(caught.value).startswith(str(app.absolute() / file) + ": ")
    assert fragment in str(caught.value)


def test_invalid_json_gives_line_and_column(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    (app / "sync/config.json").write_text('{\n  "type": "flexible",\n}\n')
    assert_config_error(app, "sync/config.json", "invalid JSON at line 3, column 1")


def test_missing_root_config(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    (app / "root_config.json").unlink()
    assert_config_error(app, "root_config.json", "root_config.json (or realm_config.json")


def test_missing_app_id_falls_back_to_the_name(tmp_path: Path) -> None:
    app = copy_app(LEGACY, tmp_path)
    edit_json(app / "realm_config.json", lambda d: d.pop("app_id"))
    config = load_app(app)
    assert (config.app_id, config.app_id_source) == (config.name, "name")


def test_schema_error_names_the_schema_file(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    edit_json(app / ITEM_DIR / "schema.json",
              lambda d: d["properties"].update(due={"bsonType": "javascript"}))
    assert_config_error(app, f"{ITEM_DIR}/schema.json", "unsupported bsonType 'javascript'")


def test_role_that_is_not_an_object(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    edit_json(app / ITEM_DIR / "rules.json", lambda d: d["roles"].append("owner"))
    assert_config_error(app, f"{ITEM_DIR}/rules.json", "role #3 must be an object, not a string")


def test_legacy_role_that_is_not_an_object(tmp_path: Path) -> None:
    app = copy_app(LEGACY, tmp_path)
    edit_json(app / "sync/config.json",
              lambda d: d["permissions"]["defaultRoles"].insert(0, ["read"]))
    assert_config_error(app, "sync/config.json", "role #1 must be an object, not a list")


def test_duplicate_object_type(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    shutil.copytree(app / ITEM_DIR, app / "data_sources/mongodb-atlas/todo/tasks")
    assert_config_error(app, "data_sources/mongodb-atlas/todo/tasks/schema.json",
                        "object type 'Item' is already defined by mongodb-atlas/todo/Item")


def test_queryable_field_that_no_collection_has_is_inert(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    edit_json(app / "sync/config.json", lambda d: d["queryable_fields_names"].append("colour"))
    assert "colour" in load_app(app).sync.queryable_fields_names


def test_embedded_object_is_not_queryable(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    edit_json(app / "sync/config.json",
              lambda d: d["collection_queryable_fields_names"].update(Team=["address"]))
    assert_config_error(app, "sync/config.json", "Team.address is embedded Address")


def test_indexed_field_must_be_globally_queryable(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    edit_json(app / "sync/config.json",
              lambda d: d.update(indexed_queryable_fields_names=["priority"]))
    assert_config_error(app, "sync/config.json",
                        "'priority' must also be in queryable_fields_names")


def test_indexed_field_must_have_an_indexable_type_everywhere(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    edit_json(app / "data_sources/mongodb-atlas/todo/Team/schema.json",
              lambda d: d["properties"].update(owner_id={"bsonType": "double"}))
    assert_config_error(app, "sync/config.json", "Team.owner_id is double")


def test_client_max_offline_days_below_one(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    edit_json(app / "sync/config.json", lambda d: d.update(client_max_offline_days=0))
    assert_config_error(app, "sync/config.json", "client_max_offline_days must be at least 1")


def test_partition_based_sync_is_refused(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    (app / "sync/config.json").write_text(json.dumps({
        "type": "partition", "state": "enabled", "database_name": "todo",
        "partition": {"key": "_partition", "type": "string", "permissions": {}}}))
    assert_config_error(app, "sync/config.json", "partition-based sync is not supported")


def test_custom_user_data_collection_without_schema_is_server_side(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    edit_json(app / "auth/custom_user_data.json", lambda d: d.update(collection_name="people"))
    config = load_app(app).custom_user_data
    assert config is not None and config.server_side


def test_seed_file_for_no_collection(tmp_path: Path) -> None:
    app = copy_app(MODERN, tmp_path)
    (app / "data/Itme.json").write_text("[]")
    assert_config_error(app, "data/Itme.json", "names no object type or collection")


def test_legacy_rules_win_over_rules_json_for_sync(tmp_path: Path) -> None:
    app = copy_app(LEGACY, tmp_path)
    (app / "data_sources/mongodb-atlas/tracker/Task/rules.json").write_text(json.dumps(
        {"roles": [{"name": "all", "apply_when": {}, "document_filters": {"read": {}}}]}))
    assert [r.name for r in load_app(app).roles_for("Task")] == ["owner"]
