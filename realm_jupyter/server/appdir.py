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

Both export generations load (collections and which generation's rules govern
sync: :mod:`.appdir_collections`; roles: :mod:`.appdir_roles`; sync settings:
:mod:`.appdir_sync`; custom user data: :mod:`.appdir_custom_data`). Parts of an
app we do not serve (functions, triggers, unknown files and keys, …) are
accepted, listed in ``AppConfig.unused`` and logged once, so an export never has
to be trimmed before it runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError, SchemaError
from ..schema import Schema
from .appdir_collections import (
    CollectionConfig,
    apply_legacy_permissions,
    attach_seeds,
    load_data_sources,
    read_object,
    relative,
)
from .appdir_custom_data import CustomUserData, load_custom_user_data
from .appdir_roles import (
    FieldPermission,
    Role,
    expect,
    json_kind,
    read_json,
)
from .appdir_sync import SyncConfig, check_sync_type, load_sync, unused_sync_keys

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
    sync_raw = read_object(sync_file) if sync_file.is_file() else {}
    check_sync_type(sync_raw, sync_file)  # a partition-based app: one line, before anything else
    root_file = next((root / n for n in ROOT_CONFIG_FILES if (root / n).is_file()), None)
    if root_file is None:
        raise ConfigError("missing: an App Services app directory starts with root_config.json "
                          "(or realm_config.json in older exports)",
                          path=str(root / ROOT_CONFIG_FILES[0]))
    root_config = read_object(root_file)
    app_id, app_id_source = _app_id(root, root_file, root_config)
    name = expect(root_config, "name", str, app_id, root_file) or app_id
    development_mode = _development_mode(sync_raw, root_config)

    unused = [*_unused_paths(root), *unused_sync_keys(sync_raw)]
    custom_file = root / "auth" / "custom_user_data.json"
    custom_names = _custom_data_names(custom_file)
    collections, default_roles, pending = load_data_sources(root, sync_raw, unused,
                                                             development_mode, custom_names)
    collections, default_roles, rules_source = apply_legacy_permissions(
        sync_raw, sync_file, collections, default_roles, unused)
    collections = attach_seeds(root / "data", collections, pending, sync_raw, development_mode,
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
        older = read_object(other).get("app_id")
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
    found += [relative(p, root) for p in (root / "data_sources").glob("*/config.json")]
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        subdirs[:] = [d for d in subdirs if not d.startswith(".")
                      and not (here == root and d in UNUSED_DIRS)]
        if "relationships.json" in files:
            found.append(relative(here / "relationships.json", root))
    return found
