"""App directories in the shapes real App Services exports have, written by the tests.

``write_app`` lays out any export from a few keyword arguments; ``guide_app``
writes the four permission patterns of the Flexible Sync Permissions Guide
(own data, tiered, restricted feed, collaborators) in either export generation:
``"modern"`` (rules in ``default_rule.json``, an empty legacy block in
``sync/config.json``, as every export since March 2023 writes) or ``"legacy"``
(2022: roles only in ``sync/config.json``'s ``permissions``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SERVICE = "mongodb-atlas"
PROVIDERS = {
    "anon-user": {"name": "anon-user", "type": "anon-user", "disabled": False},
    "local-userpass": {"name": "local-userpass", "type": "local-userpass", "disabled": False,
                       "config": {"autoConfirm": True, "resetFunctionName": "resetFunc"}},
}
EMPTY_LEGACY = {"rules": {}, "defaultRoles": []}


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def schema(title: str, properties: Mapping[str, Any], required: tuple[str, ...] = ("_id",)
           ) -> dict[str, Any]:
    """A ``schema.json`` with ``_id: objectId`` first unless ``properties`` gives one."""
    props = {"_id": {"bsonType": "objectId"}, **properties}
    return {"title": title, "bsonType": "object", "properties": props, "required": list(required)}


def write_app(root: Path, *, app_id: str | None = "export-test", name: str = "export-test",
              root_file: str = "root_config.json", database: str = "db",
              sync: Mapping[str, Any] | None = None,
              schemas: Mapping[str, Mapping[str, Any] | None] | None = None,
              rules: Mapping[str, list[Any]] | None = None,
              default_roles: list[Any] | None = None,
              custom_user_data: Mapping[str, Any] | None = None,
              seeds: Mapping[str, list[Any]] | None = None,
              files: Mapping[str, Any] | None = None) -> Path:
    """Write an export at ``root``; ``schemas[C] = None`` writes a collection folder with an
    empty ``{}`` schema (as exports do for rules-only collections)."""
    root.mkdir(parents=True, exist_ok=True)
    root_config: dict[str, Any] = {"config_version": 20210101, "name": name,
                                   "location": "US-VA", "deployment_model": "LOCAL"}
    if app_id is not None:
        root_config["app_id"] = app_id
    write_json(root / root_file, root_config)
    write_json(root / "auth/providers.json", PROVIDERS)
    write_json(root / "auth/custom_user_data.json", custom_user_data or {"enabled": False})
    write_json(root / "sync/config.json", {
        "type": "flexible", "state": "enabled", "service_name": SERVICE,
        "database_name": database, **(sync or {})})
    base = root / "data_sources" / SERVICE
    write_json(base / "config.json", {"name": SERVICE, "type": "mongodb-atlas",
                                      "config": {"clusterName": "Cluster0"}})
    if default_roles is not None:
        write_json(base / "default_rule.json", {"roles": default_roles})
    for collection, document in (schemas or {}).items():
        write_json(base / database / collection / "schema.json", document or {})
    for collection, roles in (rules or {}).items():
        write_json(base / database / collection / "rules.json",
                   {"collection": collection, "database": database, "roles": roles})
    for collection, documents in (seeds or {}).items():
        write_json(root / "data" / f"{collection}.json", documents)
    for relative, data in (files or {}).items():
        write_json(root / relative, data)
    return root


# --------------------------------------------------------------------------- the guide's apps

ITEM_PROPERTIES = {
    "name": {"bsonType": "string"},
    "owner_id": {"bsonType": "string"},
    "team": {"bsonType": "string"},
    "collaborators": {"bsonType": "array", "items": {"bsonType": "string"}},
}
CUSTOM_DATA = {"enabled": True, "mongo_service_name": SERVICE, "database_name": "Item",
               "collection_name": "User", "user_id_field": "_id"}


def _modern(name: str, read: Any, write: Any, apply_when: Any | None = None) -> dict[str, Any]:
    return {"name": name, "apply_when": apply_when or {},
            "document_filters": {"read": read, "write": write},
            "read": True, "write": True, "insert": True, "delete": True, "search": True}


def _legacy(name: str, read: Any, write: Any, apply_when: Any | None = None) -> dict[str, Any]:
    return {"name": name, "applyWhen": apply_when or {}, "read": read, "write": write}


#: pattern → (queryable fields, custom data?, [(role name, read, write, apply_when)])
PATTERNS: dict[str, tuple[list[str], bool, list[tuple[str, Any, Any, Any]]]] = {
    "own-data": (["owner_id"], False, [
        ("owner-read-write", {"owner_id": "%%user.id"}, {"owner_id": "%%user.id"}, None)]),
    "tiered": (["owner_id", "team"], True, [
        ("admin", {"team": "%%user.custom_data.team"}, {"team": "%%user.custom_data.team"},
         {"%%user.custom_data.isTeamAdmin": True}),
        ("user", {"team": "%%user.custom_data.team"}, {"owner_id": "%%user.id"}, None)]),
    "restricted-feed": (["owner_id", "subscribedTo"], True, [
        ("author-subscriber", {"owner_id": {"$in": "%%user.custom_data.subscribedTo"}},
         {"owner_id": "%%user.id"}, None)]),
    "collaborators": (["collaborators", "owner_id"], False, [
        ("collaborator",
         {"$or": [{"owner_id": "%%user.id"}, {"collaborators": {"$all": ["%%user.id"]}}]},
         {"$or": [{"owner_id": "%%user.id"}, {"collaborators": {"$all": ["%%user.id"]}}]},
         None)]),
}


def guide_app(root: Path, pattern: str, generation: str = "modern") -> Path:
    """One of the Permissions Guide's template apps, with an ``Item`` schema and (where the
    pattern uses it) custom user data in a ``User`` collection that has no schema."""
    queryable, custom, roles = PATTERNS[pattern]
    sync: dict[str, Any] = {"development_mode_enabled": False, "is_recovery_mode_disabled": False,
                            "queryable_fields_names": queryable}
    default_roles = None
    if generation == "modern":
        default_roles = [_modern(*role) for role in roles]
        sync["permissions"] = EMPTY_LEGACY
    else:
        sync["permissions"] = {"rules": {}, "defaultRoles": [_legacy(*role) for role in roles]}
    return write_app(root, app_id=f"{pattern}-abcde", name="FlexSyncPermissions",
                     root_file="realm_config.json", database="Item", sync=sync,
                     schemas={"Item": schema("Item", ITEM_PROPERTIES, ("_id", "owner_id", "name"))},
                     default_roles=default_roles,
                     custom_user_data=CUSTOM_DATA if custom else None,
                     files={"triggers/onUserCreated.json": {"name": "onUserCreated"},
                            "functions/config.json": [],
                            "environments/production.json": {"values": {}}})
