"""Real App Services exports load unchanged: one test per quirk the public exports have.

The app directories are written by ``tests/support/exports.py`` in the shapes of
the public exports (both generations); see docs/server.md "Bringing an exported app".
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from realm_jupyter.errors import ConfigError, SchemaError
from realm_jupyter.server.appdir import load_app
from realm_jupyter.server.appdir_infer import infer_schema
from realm_jupyter.server.rules_check import absent_rule_fields
from tests.support.exports import EMPTY_LEGACY, guide_app, schema, write_app, write_json

OWNER_ROLE = {"name": "owner", "apply_when": {},
              "document_filters": {"read": {"owner_id": "%%user.id"},
                                   "write": {"owner_id": "%%user.id"}},
              "read": True, "write": True}
ITEM = schema("Item", {"owner_id": {"bsonType": "string"}, "name": {"bsonType": "string"}})


def messages(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


# --------------------------------------------------------------------------- empty legacy block


@pytest.mark.parametrize("pattern", ["own-data", "tiered", "restricted-feed", "collaborators"])
@pytest.mark.parametrize("generation", ["modern", "legacy"])
def test_every_guide_app_loads_in_both_generations(tmp_path: Path, pattern: str,
                                                   generation: str) -> None:
    app = load_app(guide_app(tmp_path / "app", pattern, generation))
    assert app.app_id == f"{pattern}-abcde"
    assert sorted(app.collections) == ["Item"]
    assert app.default_roles[0].read_filter is not None
    expected = "rules.json" if generation == "modern" else "sync/config.json permissions"
    assert app.sync_rules_source == expected


def test_empty_legacy_block_beside_default_rule_means_absent(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", sync={"permissions": EMPTY_LEGACY,
                                             "queryable_fields_names": ["owner_id"]},
                     schemas={"Item": ITEM}, default_roles=[OWNER_ROLE])
    app = load_app(root)
    assert [r.name for r in app.roles_for("Item")] == ["owner"]


# --------------------------------------------------------------------------- app id


def test_app_id_from_mdb_meta_json(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = write_app(tmp_path / "app", app_id=None, name="pulled", schemas={"Item": ITEM},
                     files={".mdb/meta.json": {"client_app_id": "pulled-xyzzy",
                                               "config_version": 20210101}})
    with caplog.at_level(logging.INFO):
        app = load_app(root)
    assert (app.app_id, app.app_id_source) == ("pulled-xyzzy", ".mdb/meta.json")
    assert "app id 'pulled-xyzzy' taken from .mdb/meta.json" in messages(caplog)


def test_app_id_from_an_older_realm_config_beside_root_config(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", app_id=None, name="pulled", schemas={"Item": ITEM},
                     files={"realm_config.json": {"app_id": "older-abcde", "name": "pulled"}})
    app = load_app(root)
    assert (app.app_id, app.app_id_source) == ("older-abcde", "realm_config.json")


def test_app_id_derived_from_name(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", app_id=None, name="just-a-name", schemas={"Item": ITEM})
    app = load_app(root)
    assert (app.app_id, app.app_id_source) == ("just-a-name", "name")


# --------------------------------------------------------------------------- sync type first


def test_partition_based_app_refused_before_anything_else(tmp_path: Path) -> None:
    # Everything else is broken too: the sync type is what the error must name.
    root = write_app(tmp_path / "app", app_id=None, name="",
                     sync={"type": "partition", "partition": {"key": "_partition"}},
                     schemas={"Item": {"title": "Item", "properties": {"x": {"bsonType": "js"}}}})
    with pytest.raises(ConfigError) as caught:
        load_app(root)
    assert "partition-based sync is not supported" in str(caught.value)
    assert "\n" not in caught.value.message


# --------------------------------------------------------------------------- unknown parts


def test_unknown_provider_type_is_reported_not_fatal(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    root = write_app(tmp_path / "app", schemas={"Item": ITEM})
    providers = json.loads((root / "auth/providers.json").read_text())
    providers["magic"] = {"name": "magic", "type": "magic-link"}
    write_json(root / "auth/providers.json", providers)
    with caplog.at_level(logging.INFO, logger="realm_jupyter.server.appdir"):
        app = load_app(root)
    assert "magic" not in app.providers
    reports = [m for m in messages(caplog) if "magic" in m]
    assert len(reports) == 1 and "unknown type 'magic-link'" in reports[0]


def test_collection_queryable_fields_of_an_unknown_collection_are_inert(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = write_app(tmp_path / "app", schemas={"Item": ITEM}, default_roles=[OWNER_ROLE],
                     sync={"collection_queryable_fields_names": {"Task": ["owner_id"],
                                                                 "Item": ["colour"]}})
    with caplog.at_level(logging.WARNING):
        app = load_app(root)
    assert sorted(app.collections) == ["Item"]
    inert = [m for m in messages(caplog, logging.WARNING) if "inert" in m]
    assert len(inert) == 1 and "Task.*" in inert[0] and "Item.colour" in inert[0]


def test_unknown_root_entries_are_reported_once(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    root = write_app(tmp_path / "app", schemas={"Item": ITEM}, default_roles=[OWNER_ROLE],
                     sync={"asymmetric_tables": ["Log"], "last_disabled": 1653320842},
                     files={"data_api_config.json": {"disabled": True},
                            "atlas_clusters/cluster.json": {}, ".mdb/meta.json": {}})
    with caplog.at_level(logging.INFO, logger="realm_jupyter.server.appdir"):
        app = load_app(root)
    assert {"data_api_config.json", "atlas_clusters/"} <= set(app.unused)
    assert "sync/config.json key 'asymmetric_tables'" in app.unused
    assert not any(u.startswith(".mdb") for u in app.unused)
    assert len([m for m in messages(caplog) if "data_api_config.json" in m]) == 1


def test_float_and_mixed_are_refused_clearly(tmp_path: Path) -> None:
    for kind in ("float", "mixed"):
        item = schema("Item", {"score": {"bsonType": kind}})
        root = write_app(tmp_path / kind, schemas={"Item": item}, default_roles=[OWNER_ROLE])
        with pytest.raises(ConfigError) as caught:
            load_app(root)
        assert f"Item.score: unsupported bsonType '{kind}'" in str(caught.value)
        assert "schema.json" in str(caught.value)


# --------------------------------------------------------------------------- custom user data


def test_custom_user_data_without_a_schema_is_server_side(tmp_path: Path) -> None:
    app = load_app(guide_app(tmp_path / "app", "tiered"))
    config = app.custom_user_data
    assert config is not None and config.server_side
    assert (config.collection_name, config.user_id_field) == ("User", "_id")
    assert "User" not in app.collections


def test_custom_user_data_schema_without_user_id_field_is_server_side(tmp_path: Path) -> None:
    user = schema("User", {"team": {"bsonType": "string"}})
    root = write_app(tmp_path / "app", database="Item", schemas={"Item": ITEM, "User": user},
                     default_roles=[OWNER_ROLE],
                     custom_user_data={"enabled": True, "database_name": "Item",
                                       "collection_name": "User", "user_id_field": "user_id"})
    app = load_app(root)
    assert app.custom_user_data is not None and app.custom_user_data.server_side
    assert "User" in app.collections  # the collection itself still syncs, under its rules


# --------------------------------------------------------------------------- development mode


def test_development_mode_without_any_schema_loads(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    root = write_app(tmp_path / "app", sync={"development_mode_enabled": True,
                                             "queryable_fields_names": ["owner_id"]},
                     default_roles=[OWNER_ROLE])
    with caplog.at_level(logging.WARNING):
        app = load_app(root)
    assert app.development_mode and dict(app.collections) == {}
    inert = [m for m in messages(caplog, logging.WARNING) if "inert" in m]
    assert len(inert) == 1 and "owner_id" in inert[0]


def test_development_mode_infers_the_schema_from_seed_documents(tmp_path: Path) -> None:
    seeds = [{"_id": {"$oid": "65a000000000000000000001"}, "owner_id": "u1", "name": "a",
              "done": True, "n": 1, "at": {"$date": "2024-01-01T00:00:00Z"},
              "tags": ["x"], "meta": {"k": 1}},
             {"_id": {"$oid": "65a000000000000000000002"}, "owner_id": "u2", "n": 2.5,
              "price": {"$numberDecimal": "1.10"}, "big": {"$numberLong": "1"},
              "u": {"$uuid": "00112233-4455-6677-8899-aabbccddeeff"}}]
    root = write_app(tmp_path / "app", sync={"development_mode_enabled": True,
                                             "queryable_fields_names": ["owner_id"]},
                     schemas={"Item": None}, default_roles=[OWNER_ROLE], seeds={"Item": seeds})
    app = load_app(root)
    item = app.collections["Item"]
    assert item.inferred and item.seed_path is not None
    assert item.database == "db"
    types = {p.name: (p.type.value, p.required) for p in item.schema}
    assert types == {"_id": ("objectId", True), "owner_id": ("string", True),
                     "name": ("string", False), "done": ("bool", False), "n": ("double", True),
                     "at": ("date", False), "tags": ("array", True), "meta": ("object", False),
                     "price": ("decimal", False), "big": ("long", False), "u": ("uuid", False)}


def test_inference_is_deterministic_and_refuses_mixed_values() -> None:
    docs = [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}]
    assert infer_schema("T", docs) == infer_schema("T", list(docs))
    assert infer_schema("T", docs)["properties"] == {"_id": {"bsonType": "int"},
                                                    "a": {"bsonType": "int"}}
    with pytest.raises(SchemaError, match=r"T\.a: values of several types"):
        infer_schema("T", [{"_id": 1, "a": 1}, {"_id": 2, "a": "x"}])


def test_outside_development_mode_a_seed_without_schema_names_the_collection(
        tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", schemas={"Item": ITEM}, default_roles=[OWNER_ROLE],
                     seeds={"Note": [{"_id": 1}]})
    with pytest.raises(ConfigError) as caught:
        load_app(root)
    assert "data/Note.json" in str(caught.value)
    assert "development mode" in str(caught.value)


# --------------------------------------------------------------------------- schemas


def test_placeholder_schema_is_skipped_with_one_warning(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    root = write_app(tmp_path / "app", schemas={"Item": ITEM, "Draft": {
        "title": "Draft", "properties": {}}, "Note": {"title": "Note", "bsonType": "object",
                                                      "properties": {"text": {"bsonType": "string"}}}},
        default_roles=[OWNER_ROLE])
    with caplog.at_level(logging.WARNING):
        app = load_app(root)
    assert sorted(app.collections) == ["Item"]
    warnings = [m for m in messages(caplog, logging.WARNING) if "placeholder" in m]
    assert len(warnings) == 2


def test_empty_embedded_object_is_dropped(tmp_path: Path) -> None:
    item = schema("Item", {"owner_id": {"bsonType": "string"},
                           "extra": {"bsonType": "object", "properties": {}},
                           "more": {"bsonType": "array",
                                    "items": {"bsonType": "object", "properties": {}}}})
    root = write_app(tmp_path / "app", schemas={"Item": item}, default_roles=[OWNER_ROLE])
    app = load_app(root)
    assert [p.name for p in app.schema["Item"]] == ["_id", "owner_id"]


def test_field_names_that_differ_only_in_case_are_a_clear_start_up_error(
        tmp_path: Path) -> None:
    item = schema("Item", {"lastBreakTime": {"bsonType": "date"},
                           "lastBreaktime": {"bsonType": "date"}})
    root = write_app(tmp_path / "app", schemas={"Item": item}, default_roles=[OWNER_ROLE])
    with pytest.raises(ConfigError) as caught:
        load_app(root)
    assert "'lastBreakTime' and 'lastBreaktime' differ only in case" in str(caught.value)


# --------------------------------------------------------------------------- rule generations


def test_non_empty_legacy_block_alone_governs_sync(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    # Pre-2023: rules.json held the non-Sync rules (here: read-only), Sync the legacy block.
    read_only = {**OWNER_ROLE, "name": "data-api", "write": False}
    legacy = {"rules": {"Item": [{"name": "sync-owner", "applyWhen": {},
                                  "read": {"owner_id": "%%user.id"},
                                  "write": {"owner_id": "%%user.id"}}],
                        "Gone": [{"name": "x", "applyWhen": {}, "read": True}]},
              "defaultRoles": [{"name": "nothing", "applyWhen": {}, "read": False}]}
    root = write_app(tmp_path / "app", sync={"permissions": legacy,
                                             "queryable_fields_names": ["owner_id"]},
                     schemas={"Item": ITEM}, rules={"Item": [read_only]},
                     default_roles=[read_only])
    with caplog.at_level(logging.INFO):
        app = load_app(root)
    assert [r.name for r in app.roles_for("Item")] == ["sync-owner"]
    assert app.roles_for("Item")[0].write
    assert [r.name for r in app.default_roles] == ["nothing"]
    assert any("non-Sync rules" in u for u in app.unused)
    assert any("permissions.rules names 'Gone'" in m for m in messages(caplog, logging.WARNING))


def test_roles_naming_fields_a_collection_lacks_are_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    note = schema("Note", {"text": {"bsonType": "string"}})
    root = write_app(tmp_path / "app", sync={"queryable_fields_names": ["owner_id"]},
                     schemas={"Item": ITEM, "Note": note}, default_roles=[OWNER_ROLE])
    with caplog.at_level(logging.INFO, logger="realm_jupyter.server.rules_check"):
        app = load_app(root)
    assert absent_rule_fields(app) == {("Note", "owner"): ["owner_id"]}
    logged = [m for m in messages(caplog) if "lacks" in m]
    assert logged == ["role 'owner' of Note mentions owner_id, which Note lacks: "
                      "evaluated as null"]
