"""Load an App Services app directory into frozen dataclasses.

We serve an app as App Services exported it, so that an app that ran on Atlas
Device Sync runs here unchanged. :func:`load_app` reads the whole layout and
checks everything a session will rely on *before* the first session starts: a
bad config fails at start-up with one :class:`ConfigError` naming the file,
never later as a puzzling sync error. ::

    root_config.json                             app_id, name (older exports: realm_config.json)
    auth/providers.json                          anon-user, local-userpass, api-key
    auth/custom_user_data.json                   where %%user.custom_data comes from
    data_sources/<service>/default_rule.json     roles of collections without rules.json
    data_sources/<service>/<db>/<Coll>/schema.json, rules.json
    sync/config.json                             Flexible Sync settings (older exports: permissions)
    data/<Coll>.json                             seed documents (our addition)

Both export generations load (roles: :mod:`.appdir_roles`; sync settings:
:mod:`.appdir_sync`). Parts of an app we do not
serve (functions, triggers, …) are accepted, listed in ``AppConfig.unused`` and
logged once, so an export never has to be trimmed before it runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError, SchemaError
from ..schema import ObjectSchema, Schema
from .appdir_roles import (
    FieldPermission,
    Role,
    expect,
    json_kind,
    parse_legacy_roles,
    parse_roles,
    read_json,
)
from .appdir_sync import SyncConfig, load_sync, resolve_type

__all__ = [
    "AppConfig",
    "AuthProvider",
    "CollectionConfig",
    "CustomUserData",
    "FieldPermission",
    "Role",
    "SyncConfig",
    "load_app",
]

logger = logging.getLogger(__name__)

ROOT_CONFIG_FILES = ("root_config.json", "realm_config.json")
PROVIDER_TYPES = frozenset({"anon-user", "local-userpass", "api-key"})
#: App Services provider types we do not serve: accepted and logged, so an export still loads.
UNSERVED_PROVIDER_TYPES = frozenset({"custom-function", "custom-token", "oauth2-apple",
                                     "oauth2-facebook", "oauth2-google"})
UNUSED_DIRS = frozenset({"environments", "functions", "graphql", "hosting", "http_endpoints",
                         "https_endpoints", "log_forwarders", "services", "triggers", "values"})


@dataclass(frozen=True)
class CollectionConfig:
    """One synced collection: where it lives in MongoDB terms, its schema and its roles."""

    object_type: str
    service: str
    database: str
    collection: str
    schema: ObjectSchema
    roles: tuple[Role, ...]
    seed_path: Path | None


@dataclass(frozen=True)
class AuthProvider:
    """One entry of ``auth/providers.json`` (``config`` is kept as raw JSON)."""

    name: str
    type: str
    disabled: bool = False
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomUserData:
    """Where ``%%user.custom_data`` comes from: the document whose ``user_id_field`` is the user."""

    enabled: bool
    database_name: str
    collection_name: str
    user_id_field: str
    object_type: str


@dataclass(frozen=True)
class AppConfig:
    """Everything the server needs from an app directory, validated."""

    root: Path
    app_id: str
    name: str
    providers: Mapping[str, AuthProvider]
    collections: Mapping[str, CollectionConfig]
    default_roles: tuple[Role, ...]
    sync: SyncConfig
    custom_user_data: CustomUserData | None
    unused: tuple[str, ...]

    @cached_property
    def schema(self) -> Schema:
        """The object schemas of every synced collection, by object type."""
        return Schema(MappingProxyType({name: c.schema for name, c in self.collections.items()}))

    def roles_for(self, object_type: str) -> tuple[Role, ...]:
        """The collection's roles if it has any, else the default roles (App Services: no mixing).

        Raises:
            SchemaError: the app has no such object type.
        """
        collection = self.collections.get(object_type)
        if collection is None:
            known = ", ".join(sorted(self.collections)) or "none"
            raise SchemaError(f"unknown object type {object_type!r} (known types: {known})")
        return collection.roles or self.default_roles


def load_app(path: str | Path) -> AppConfig:
    """Read and validate the app directory at ``path``.

    Raises:
        ConfigError: anything that would stop the app from being served; the
            message starts with the file at fault.
    """
    root = Path(path).expanduser().absolute()
    if not root.is_dir():
        raise ConfigError("not an app directory (no such directory)", path=str(root))
    root_file = next((root / n for n in ROOT_CONFIG_FILES if (root / n).is_file()), None)
    if root_file is None:
        raise ConfigError("missing: an App Services app directory starts with root_config.json "
                          "(or realm_config.json in older exports)",
                          path=str(root / ROOT_CONFIG_FILES[0]))
    root_config = _read_object(root_file)
    app_id = root_config.get("app_id")
    if not isinstance(app_id, str) or not app_id:
        raise ConfigError("missing 'app_id'", path=str(root_file))
    name = expect(root_config, "name", str, app_id, root_file)

    sync_file = root / "sync" / "config.json"
    sync_raw = _read_object(sync_file) if sync_file.is_file() else {}
    unused = _unused_paths(root)
    collections, default_roles = _load_data_sources(root, sync_raw.get("service_name"), unused)
    collections, default_roles = _apply_legacy_permissions(sync_raw, sync_file, collections,
                                                           default_roles)
    collections = _attach_seeds(root / "data", collections)
    unserved: list[str] = []
    providers = _load_providers(root / "auth" / "providers.json", unserved)
    app = AppConfig(
        root=root, app_id=app_id, name=name,
        providers=MappingProxyType(providers),
        collections=MappingProxyType(collections),
        default_roles=default_roles,
        sync=load_sync(sync_raw, sync_file, collections),
        custom_user_data=_load_custom_user_data(root / "auth" / "custom_user_data.json",
                                                collections),
        unused=tuple(sorted(set(unused))),
    )
    if app.unused or unserved:
        logger.info("app %s: accepted but not used by realm_jupyter: %s", app_id,
                    ", ".join([*app.unused, *(f"auth provider {p}" for p in unserved)]))
    return app


# --------------------------------------------------------------------------- data sources


def _load_data_sources(root: Path, sync_service: Any, unused: list[str]
                       ) -> tuple[dict[str, CollectionConfig], tuple[Role, ...]]:
    base = root / "data_sources"
    services = sorted(d for d in base.iterdir() if d.is_dir()) if base.is_dir() else []
    if isinstance(sync_service, str) and any(s.name == sync_service for s in services):
        # Sync serves the one linked cluster that sync/config.json names.
        unused.extend(f"{_relative(s, root)}/" for s in services if s.name != sync_service)
        services = [s for s in services if s.name == sync_service]
    collections: dict[str, CollectionConfig] = {}
    default_roles: tuple[Role, ...] = ()
    default_file: Path | None = None
    for service in services:
        rule_file = service / "default_rule.json"
        if rule_file.is_file():
            if default_file is not None:
                raise ConfigError(f"default roles are also defined in {default_file}; "
                                  "only one data source can be synced", path=str(rule_file))
            default_file = rule_file
            default_roles = parse_roles(_read_object(rule_file).get("roles"), rule_file)
        for collection_dir in sorted(p for p in service.glob("*/*") if p.is_dir()):
            config = _load_collection(collection_dir, service.name, root, unused)
            if config is None:
                continue
            other = collections.get(config.object_type)
            if other is not None:
                raise ConfigError(
                    f"object type {config.object_type!r} is already defined by "
                    f"{other.service}/{other.database}/{other.collection}/schema.json",
                    path=str(collection_dir / "schema.json"))
            collections[config.object_type] = config
    return collections, default_roles


def _load_collection(directory: Path, service: str, root: Path, unused: list[str]
                     ) -> CollectionConfig | None:
    schema_file, rules_file = directory / "schema.json", directory / "rules.json"
    document = _read_object(schema_file) if schema_file.is_file() else {}
    if not document:  # exports write "{}" for a collection that has rules but no schema
        if rules_file.is_file() or schema_file.is_file():
            unused.append(f"{_relative(directory, root)}/")
        return None
    title = document.get("title")
    try:
        schema = ObjectSchema.from_json_schema(
            document, name=title if isinstance(title, str) and title else directory.name)
    except SchemaError as error:
        raise ConfigError(error.message, path=str(schema_file)) from error
    roles = (parse_roles(_read_object(rules_file).get("roles"), rules_file)
             if rules_file.is_file() else ())
    return CollectionConfig(object_type=schema.name, service=service,
                            database=directory.parent.name, collection=directory.name,
                            schema=schema, roles=roles, seed_path=None)


def _apply_legacy_permissions(
    sync_raw: Mapping[str, Any], sync_file: Path, collections: dict[str, CollectionConfig],
    default_roles: tuple[Role, ...],
) -> tuple[dict[str, CollectionConfig], tuple[Role, ...]]:
    """Older exports keep roles in ``sync/config.json``; fold them into the collections."""
    permissions = expect(sync_raw, "permissions", dict, {}, sync_file)
    out = dict(collections)
    for key, raw_roles in expect(permissions, "rules", dict, {}, sync_file, "permissions").items():
        object_type = resolve_type(key, collections, sync_file, "permissions.rules")
        if out[object_type].roles:
            raise ConfigError(f"permissions.rules: {object_type} also has a rules.json; "
                              "keep one of the two", path=str(sync_file))
        out[object_type] = replace(out[object_type],
                                   roles=parse_legacy_roles(raw_roles, sync_file))
    if "defaultRoles" in permissions:
        if default_roles:
            raise ConfigError("permissions.defaultRoles: default_rule.json also defines default "
                              "roles; keep one of the two", path=str(sync_file))
        default_roles = parse_legacy_roles(permissions["defaultRoles"], sync_file)
    return out, default_roles


def _attach_seeds(data_dir: Path, collections: dict[str, CollectionConfig]
                  ) -> dict[str, CollectionConfig]:
    """``data/<ObjectType or collection>.json``; a seed file that fits nothing is a typo."""
    if not data_dir.is_dir():
        return collections
    out = dict(collections)
    for seed in sorted(data_dir.glob("*.json")):
        object_type = seed.stem if seed.stem in collections else next(
            (c.object_type for c in collections.values() if c.collection == seed.stem), None)
        if object_type is None:
            known = ", ".join(sorted(collections)) or "none"
            raise ConfigError(f"seed file names no object type or collection (known: {known})",
                              path=str(seed))
        if out[object_type].seed_path is not None:
            raise ConfigError(f"{object_type} is already seeded from {out[object_type].seed_path}",
                              path=str(seed))
        out[object_type] = replace(out[object_type], seed_path=seed)
    return out


# --------------------------------------------------------------------------- auth


def _load_providers(path: Path, unserved: list[str]) -> dict[str, AuthProvider]:
    if not path.is_file():
        return {}
    raw = read_json(path)
    if isinstance(raw, dict):
        entries: list[tuple[str | None, Any]] = list(raw.items())
    elif isinstance(raw, list):
        entries = [(None, entry) for entry in raw]
    else:
        raise ConfigError(f"expected an object or a list of providers, not {json_kind(raw)}",
                          path=str(path))
    providers: dict[str, AuthProvider] = {}
    for index, (key, entry) in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"provider {key or f'#{index + 1}'} must be an object, "
                              f"not {json_kind(entry)}", path=str(path))
        name = expect(entry, "name", str, key or "", path, "provider")
        kind = expect(entry, "type", str, key or "", path, f"provider {name!r}")
        if not name or not kind:
            raise ConfigError(f"provider #{index + 1} needs a 'name' and a 'type'", path=str(path))
        if kind in UNSERVED_PROVIDER_TYPES:
            unserved.append(name)
            continue
        if kind not in PROVIDER_TYPES:
            raise ConfigError(f"provider {name!r} has unknown type {kind!r} (served: "
                              f"{', '.join(sorted(PROVIDER_TYPES))})", path=str(path))
        providers[name] = AuthProvider(
            name=name, type=kind,
            disabled=expect(entry, "disabled", bool, False, path, f"provider {name!r}"),
            config=dict(expect(entry, "config", dict, {}, path, f"provider {name!r}")))
    return providers


def _load_custom_user_data(path: Path, collections: Mapping[str, CollectionConfig]
                           ) -> CustomUserData | None:
    """None when the file is missing or ``enabled`` is false (the feature is then off)."""
    if not path.is_file():
        return None
    raw = _read_object(path)
    if not expect(raw, "enabled", bool, False, path):
        return None
    database = expect(raw, "database_name", str, "", path)
    collection_name = expect(raw, "collection_name", str, "", path)
    user_id_field = expect(raw, "user_id_field", str, "", path)
    service = expect(raw, "mongo_service_name", str, "", path)
    match = next((c for c in collections.values()
                  if c.database == database and c.collection == collection_name
                  and (not service or c.service == service)), None)
    if match is None:
        raise ConfigError(f"custom user data collection {database}.{collection_name} has no "
                          "schema.json under data_sources", path=str(path))
    if user_id_field not in match.schema:
        raise ConfigError(f"user_id_field {user_id_field!r} is not a field of "
                          f"{match.object_type}", path=str(path))
    return CustomUserData(enabled=True, database_name=database, collection_name=collection_name,
                          user_id_field=user_id_field, object_type=match.object_type)


# --------------------------------------------------------------------------- helpers


def _unused_paths(root: Path) -> list[str]:
    """Folders and files of an export that we accept but do not serve."""
    found = [f"{name}/" for name in sorted(UNUSED_DIRS) if (root / name).is_dir()]
    found += [_relative(p, root) for p in (root / "data_sources").glob("*/config.json")]
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        subdirs[:] = [d for d in subdirs if not d.startswith(".")
                      and not (here == root and d in UNUSED_DIRS)]
        if "relationships.json" in files:
            found.append(_relative(here / "relationships.json", root))
    return found


def _read_object(path: Path) -> dict[str, Any]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a JSON object, not {json_kind(data)}", path=str(path))
    return data


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
