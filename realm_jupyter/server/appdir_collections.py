"""The collections of an app directory: schemas, roles and seeds, as Sync sees them.

Which collections sync, with which schema and roles, is where the two export
generations differ most: before 2023-02-23 Sync used only the ``permissions``
of ``sync/config.json`` (and ``rules.json`` held the non-Sync rules); since then
the ``rules.json``/``default_rule.json`` files govern and the legacy block stays
behind, empty. Development-mode apps may have no ``schema.json`` at all: their
seed documents give them one (:mod:`.appdir_infer`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SchemaError
from ..schema import ObjectSchema
from .appdir_roles import Role, expect, json_kind, parse_legacy_roles, parse_roles, read_json
from .appdir_schemas import is_placeholder, prepare_schema
from .appdir_sync import resolve_type

__all__ = ["CollectionConfig", "apply_legacy_permissions", "attach_seeds", "load_data_sources",
           "read_object", "relative"]

logger = logging.getLogger(__name__)


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
class _Unschema:
    """A collection folder with no schema.json: inferred from documents in development mode."""

    service: str
    database: str
    collection: str
    roles: tuple[Role, ...]


def load_data_sources(root: Path, sync_raw: Mapping[str, Any], unused: list[str],
                       development_mode: bool, custom_names: frozenset[str]
                       ) -> tuple[dict[str, CollectionConfig], tuple[Role, ...],
                                  dict[str, _Unschema]]:
    base = root / "data_sources"
    services = sorted(d for d in base.iterdir() if d.is_dir()) if base.is_dir() else []
    sync_service = sync_raw.get("service_name")
    if isinstance(sync_service, str) and any(s.name == sync_service for s in services):
        # Sync serves the one linked cluster that sync/config.json names.
        unused.extend(f"{relative(s, root)}/" for s in services if s.name != sync_service)
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
            default_roles = parse_roles(read_object(rule_file).get("roles"), rule_file)
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
    document = read_object(schema_file) if schema_file.is_file() else {}
    roles = (parse_roles(read_object(rules_file).get("roles"), rules_file)
             if rules_file.is_file() else ())
    if not document:  # exports write "{}" for a collection that has rules but no schema
        if pending is not None:
            pending[directory.name] = _Unschema(service, directory.parent.name, directory.name,
                                                 roles)
        elif rules_file.is_file() or schema_file.is_file():
            unused.append(f"{relative(directory, root)}/")
        return None
    if is_placeholder(document):
        logger.warning("%s: a placeholder schema (no properties or no _id): collection not synced",
                       relative(schema_file, root))
        unused.append(f"{relative(directory, root)}/")
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


def apply_legacy_permissions(
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


def attach_seeds(data_dir: Path, collections: dict[str, CollectionConfig],
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


def read_object(path: Path) -> dict[str, Any]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a JSON object, not {json_kind(data)}", path=str(path))
    return data


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
