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
from .appdir_custom_data import CustomUserData, load_custom_user_data
from .appdir_roles import (
    FieldPermission,
    Role,
    expect,
    json_kind,
    parse_legacy_roles,
    parse_roles,
    read_json,
)
from .appdir_schemas import is_placeholder, prepare_schema
from .appdir_sync import SyncConfig, check_sync_type, load_sync, resolve_type, unused_sync_keys

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
#: What a served app directory holds at its root (anything else is reported as not used).
KNOWN_ROOT_ENTRIES = frozenset({*ROOT_CONFIG_FILES, "auth", "data_sources", "sync", "data"})
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
    #: Development mode: the schema was inferred from ``seed_path``'s documents.
    inferred: bool = False
    #: Top-level fields of schema.json we cannot serve (empty embedded objects):
    #: left out of imported and seeded documents.
    dropped_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthProvider:
    """One entry of ``auth/providers.json`` (``config`` is kept as raw JSON)."""

    name: str
    type: str
    disabled: bool = False
    config: Mapping[str, Any] = field(default_factory=dict)


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
    #: Where ``app_id`` came from: root_config.json, .mdb/meta.json, realm_config.json or name.
    app_id_source: str = "root_config.json"
    development_mode: bool = False
    #: Which generation's rules govern sync: "rules.json" or "sync/config.json permissions".
    sync_rules_source: str = "rules.json"

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
    sync_file = root / "sync" / "config.json"
    sync_raw = _read_object(sync_file) if sync_file.is_file() else {}
    check_sync_type(sync_raw, sync_file)  # a partition-based app: one line, before anything else
    root_file = next((root / n for n in ROOT_CONFIG_FILES if (root / n).is_file()), None)
    if root_file is None:
        raise ConfigError("missing: an App Services app directory starts with root_config.json "
                          "(or realm_config.json in older exports)",
                          path=str(root / ROOT_CONFIG_FILES[0]))
    root_config = _read_object(root_file)
    app_id, app_id_source = _app_id(root, root_file, root_config)
    name = expect(root_config, "name", str, app_id, root_file) or app_id
    development_mode = _development_mode(sync_raw, root_config)

    unused = [*_unused_paths(root), *unused_sync_keys(sync_raw)]
    custom_file = root / "auth" / "custom_user_data.json"
    custom_names = _custom_data_names(custom_file)
    collections, default_roles, pending = _load_data_sources(root, sync_raw, unused,
                                                             development_mode, custom_names)
    collections, default_roles, rules_source = _apply_legacy_permissions(
        sync_raw, sync_file, collections, default_roles, unused)
    collections = _attach_seeds(root / "data", collections, pending, sync_raw, development_mode,
                                custom_names)
    unserved: list[str] = []
    providers = _load_providers(root / "auth" / "providers.json", unserved)
    app = AppConfig(
        root=root, app_id=app_id, name=name,
        providers=MappingProxyType(providers),
        collections=MappingProxyType(collections),
        default_roles=default_roles,
        sync=load_sync(sync_raw, sync_file, collections),
        custom_user_data=load_custom_user_data(custom_file, collections),
        unused=tuple(sorted(set(unused))),
        app_id_source=app_id_source,
        development_mode=development_mode,
        sync_rules_source=rules_source,
    )
    if app_id_source != root_file.name:
        logger.info("app id %r taken from %s", app_id, app_id_source)
    if app.unused or unserved:
        logger.info("app %s: accepted but not used by realm_jupyter: %s", app_id,
                    ", ".join([*app.unused, *(f"auth provider {p}" for p in unserved)]))
    from .rules_check import log_absent_rule_fields

    log_absent_rule_fields(app)
    return app


def _app_id(root: Path, root_file: Path, root_config: Mapping[str, Any]) -> tuple[str, str]:
    """The app id and the file it came from.

    ``appservices pull`` writes no ``app_id`` into ``root_config.json``: the id is in
    ``.mdb/meta.json`` (``client_app_id``), or an older ``realm_config.json`` beside
    it; failing those, the app's ``name`` stands in for it.
    """
    app_id = root_config.get("app_id")
    if isinstance(app_id, str) and app_id:
        return app_id, root_file.name
    meta_file = root / ".mdb" / "meta.json"
    if meta_file.is_file():
        meta = read_json(meta_file)
        client_app_id = meta.get("client_app_id") if isinstance(meta, dict) else None
        if isinstance(client_app_id, str) and client_app_id:
            return client_app_id, ".mdb/meta.json"
    other = root / "realm_config.json"
    if other != root_file and other.is_file():
        older = _read_object(other).get("app_id")
        if isinstance(older, str) and older:
            return older, "realm_config.json"
    name = root_config.get("name")
    if isinstance(name, str) and name:
        return name, "name"
    raise ConfigError("no app id: neither 'app_id' here, nor .mdb/meta.json's client_app_id, "
                      "nor a 'name' to derive one from", path=str(root_file))


def _development_mode(sync_raw: Mapping[str, Any], root_config: Mapping[str, Any]) -> bool:
    """``development_mode_enabled`` in sync/config.json, or in the older root file's ``sync``."""
    for source in (sync_raw, root_config.get("sync")):
        if isinstance(source, Mapping):
            for key in ("development_mode_enabled", "is_development_mode_enabled"):
                if source.get(key) is True:
                    return True
    return False


def _custom_data_names(path: Path) -> frozenset[str]:
    """The custom user data collection's name, if enabled (it is never inferred or seeded)."""
    if not path.is_file():
        return frozenset()
    raw = read_json(path)
    if not isinstance(raw, dict) or raw.get("enabled") is not True:
        return frozenset()
    name = raw.get("collection_name")
    return frozenset({name}) if isinstance(name, str) and name else frozenset()


# --------------------------------------------------------------------------- data sources


@dataclass(frozen=True)
class _Unschema:
    """A collection folder with no schema.json: inferred from documents in development mode."""

    service: str
    database: str
    collection: str
    roles: tuple[Role, ...]


def _load_data_sources(root: Path, sync_raw: Mapping[str, Any], unused: list[str],
                       development_mode: bool, custom_names: frozenset[str]
                       ) -> tuple[dict[str, CollectionConfig], tuple[Role, ...],
                                  dict[str, _Unschema]]:
    base = root / "data_sources"
    services = sorted(d for d in base.iterdir() if d.is_dir()) if base.is_dir() else []
    sync_service = sync_raw.get("service_name")
    if isinstance(sync_service, str) and any(s.name == sync_service for s in services):
        # Sync serves the one linked cluster that sync/config.json names.
        unused.extend(f"{_relative(s, root)}/" for s in services if s.name != sync_service)
        services = [s for s in services if s.name == sync_service]
    collections: dict[str, CollectionConfig] = {}
    default_roles: tuple[Role, ...] = ()
    default_file: Path | None = None
    pending: dict[str, _Unschema] = {}
    for service in services:
        rule_file = service / "default_rule.json"
        if rule_file.is_file():
            if default_file is not None:
                raise ConfigError(f"default roles are also defined in {default_file}; "
                                  "only one data source can be synced", path=str(rule_file))
            default_file = rule_file
            default_roles = parse_roles(_read_object(rule_file).get("roles"), rule_file)
        for collection_dir in sorted(p for p in service.glob("*/*") if p.is_dir()):
            infer = development_mode and collection_dir.name not in custom_names
            config = _load_collection(collection_dir, service.name, root, unused,
                                      pending if infer else None)
            if config is None:
                continue
            other = collections.get(config.object_type)
            if other is not None:
                raise ConfigError(
                    f"object type {config.object_type!r} is already defined by "
                    f"{other.service}/{other.database}/{other.collection}/schema.json",
                    path=str(collection_dir / "schema.json"))
            collections[config.object_type] = config
    return collections, default_roles, pending


def _load_collection(directory: Path, service: str, root: Path, unused: list[str],
                     pending: dict[str, _Unschema] | None) -> CollectionConfig | None:
    """One collection folder; None when it has no usable schema (``pending`` collects the
    folders that development mode may still give a schema)."""
    schema_file, rules_file = directory / "schema.json", directory / "rules.json"
    document = _read_object(schema_file) if schema_file.is_file() else {}
    roles = (parse_roles(_read_object(rules_file).get("roles"), rules_file)
             if rules_file.is_file() else ())
    if not document:  # exports write "{}" for a collection that has rules but no schema
        if pending is not None:
            pending[directory.name] = _Unschema(service, directory.parent.name, directory.name,
                                                 roles)
        elif rules_file.is_file() or schema_file.is_file():
            unused.append(f"{_relative(directory, root)}/")
        return None
    if is_placeholder(document):
        logger.warning("%s: a placeholder schema (no properties or no _id): collection not synced",
                       _relative(schema_file, root))
        unused.append(f"{_relative(directory, root)}/")
        return None
    title = document.get("title")
    name = title if isinstance(title, str) and title else directory.name
    try:
        prepared = prepare_schema(document, name)
        schema = ObjectSchema.from_json_schema(prepared, name=name)
    except SchemaError as error:
        raise ConfigError(error.message, path=str(schema_file)) from error
    dropped = tuple(n for n in document.get("properties", {}) if n not in prepared["properties"])
    return CollectionConfig(object_type=schema.name, service=service,
                            database=directory.parent.name, collection=directory.name,
                            schema=schema, roles=roles, seed_path=None, dropped_fields=dropped)


def _legacy_block(sync_raw: Mapping[str, Any], sync_file: Path
                  ) -> tuple[dict[str, Any], list[Any] | None]:
    """The older generation's ``permissions`` (rules by collection, default roles).

    Every export since March 2023 still writes ``{"rules": {}, "defaultRoles": []}``:
    empty means absent.
    """
    permissions = expect(sync_raw, "permissions", dict, {}, sync_file)
    rules = expect(permissions, "rules", dict, {}, sync_file, "permissions")
    defaults = permissions.get("defaultRoles")
    if defaults is not None and not isinstance(defaults, list):
        raise ConfigError(f"permissions: 'defaultRoles' must be a list, not {json_kind(defaults)}",
                          path=str(sync_file))
    return rules, (defaults or None)


def _apply_legacy_permissions(
    sync_raw: Mapping[str, Any], sync_file: Path, collections: dict[str, CollectionConfig],
    default_roles: tuple[Role, ...], unused: list[str],
) -> tuple[dict[str, CollectionConfig], tuple[Role, ...], str]:
    """Before 2023-02-23, Sync used only ``permissions`` in ``sync/config.json``.

    ``rules.json``/``default_rule.json`` then held the *non-Sync* (Data API, GraphQL)
    rules, so when the legacy block is non-empty it alone governs sync and the
    other rules are reported as not used.
    """
    rules, defaults = _legacy_block(sync_raw, sync_file)
    if not rules and defaults is None:
        return collections, default_roles, "rules.json"
    if default_roles or any(c.roles for c in collections.values()):
        unused.append("rules.json and default_rule.json (non-Sync rules of a pre-2023 export)")
    out = {name: replace(c, roles=()) for name, c in collections.items()}
    for key, raw_roles in rules.items():
        if key not in out and not any(c.collection == key for c in out.values()):
            logger.warning("%s: permissions.rules names %r, which is not a synced collection: "
                           "ignored", sync_file, key)
            continue
        object_type = resolve_type(key, out, sync_file, "permissions.rules")
        out[object_type] = replace(out[object_type],
                                   roles=parse_legacy_roles(raw_roles, sync_file))
    legacy_defaults = parse_legacy_roles(defaults, sync_file) if defaults else ()
    return out, legacy_defaults, "sync/config.json permissions"


def _attach_seeds(data_dir: Path, collections: dict[str, CollectionConfig],
                  pending: Mapping[str, _Unschema], sync_raw: Mapping[str, Any],
                  development_mode: bool,
                  custom_names: frozenset[str]) -> dict[str, CollectionConfig]:
    """``data/<ObjectType or collection>.json``; a seed file that fits nothing is a typo.

    In development mode a seed file of a collection with no schema gives it one,
    inferred from its documents. Seeds of a server-side custom user data
    collection are loaded by the server into that store, not here.
    """
    out = dict(collections)
    seeds = sorted(data_dir.glob("*.json")) if data_dir.is_dir() else []
    for seed in seeds:
        object_type = seed.stem if seed.stem in out else next(
            (c.object_type for c in out.values() if c.collection == seed.stem), None)
        if object_type is None and seed.stem in custom_names:
            continue
        if object_type is None and development_mode:
            config = _inferred(seed, pending.get(seed.stem), sync_raw)
            out[config.object_type] = config
            continue
        if object_type is None:
            known = ", ".join(sorted(out)) or "none"
            raise ConfigError(f"seed file names no object type or collection with a schema.json "
                              f"(known: {known}); outside development mode every synced "
                              "collection needs one", path=str(seed),
                              hint="write its schema.json, or enable development mode and run "
                                   "`realm-jupyter schema infer --write`")
        if out[object_type].seed_path is not None:
            raise ConfigError(f"{object_type} is already seeded from {out[object_type].seed_path}",
                              path=str(seed))
        out[object_type] = replace(out[object_type], seed_path=seed)
    for waiting in pending.values():
        if not any(c.collection == waiting.collection for c in out.values()):
            logger.warning("development mode: %s.%s has no schema.json and no documents to infer "
                           "one from: not synced", waiting.database, waiting.collection)
    return out


def _inferred(seed: Path, pending: _Unschema | None, sync_raw: Mapping[str, Any]
              ) -> CollectionConfig:
    """A collection whose schema comes from its seed documents (development mode)."""
    from .appdir_infer import infer_schema
    from .importer import read_raw_documents

    service = pending.service if pending else str(sync_raw.get("service_name") or "mongodb-atlas")
    database = pending.database if pending else str(sync_raw.get("database_name") or "app")
    try:
        document = infer_schema(seed.stem, read_raw_documents(seed))
        schema = ObjectSchema.from_json_schema(prepare_schema(document, seed.stem))
    except SchemaError as error:
        raise ConfigError(f"development mode: cannot infer a schema: {error.message}",
                          path=str(seed)) from error
    logger.info("development mode: schema of %s inferred from %s (review it with "
                "`realm-jupyter schema infer`)", schema.name, seed.name)
    return CollectionConfig(object_type=schema.name, service=service, database=database,
                            collection=seed.stem, schema=schema,
                            roles=pending.roles if pending else (), seed_path=seed, inferred=True)


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
        if kind not in PROVIDER_TYPES:  # a provider type we have never heard of: reported
            unserved.append(f"{name} (unknown type {kind!r})")
            continue
        providers[name] = AuthProvider(
            name=name, type=kind,
            disabled=expect(entry, "disabled", bool, False, path, f"provider {name!r}"),
            config=dict(expect(entry, "config", dict, {}, path, f"provider {name!r}")))
    return providers


# --------------------------------------------------------------------------- helpers


def _unused_paths(root: Path) -> list[str]:
    """Folders and files of an export that we accept but do not serve."""
    found = [f"{name}/" for name in sorted(UNUSED_DIRS) if (root / name).is_dir()]
    found += [entry.name + ("/" if entry.is_dir() else "") for entry in sorted(root.iterdir())
              if not entry.name.startswith(".") and entry.name not in KNOWN_ROOT_ENTRIES
              and entry.name not in UNUSED_DIRS]
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
