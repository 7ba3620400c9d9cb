"""``sync/config.json``: the Flexible Sync settings, checked against the app's schemas.

An indexed field of a type the index cannot hold, or a queryable field that is an
embedded object, would only surface as a confusing error on some client's first
subscription; here it stops the server at start-up instead, naming the file.
A queryable name that matches no field is inert, as in App Services (it accepts
"arbitrary strings" there, and development-mode apps list fields their clients
had): it is warned about once and otherwise ignored. ``_id`` is always queryable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..schema import PropertyType
from .appdir_roles import expect

if TYPE_CHECKING:
    from .appdir import CollectionConfig

__all__ = ["INDEXABLE_TYPES", "SyncConfig", "check_sync_type", "load_sync", "resolve_type",
           "unused_sync_keys"]

logger = logging.getLogger(__name__)

#: Types an indexed queryable field may have (Realm: int64, string, ObjectId, UUID).
INDEXABLE_TYPES = frozenset({PropertyType.INT, PropertyType.LONG, PropertyType.STRING,
                             PropertyType.OBJECT_ID, PropertyType.UUID})


@dataclass(frozen=True)
class SyncConfig:
    """``sync/config.json`` of a Flexible Sync app (keys spelt exactly as App Services does)."""

    type: str = "flexible"
    queryable_fields_names: tuple[str, ...] = ()
    collection_queryable_fields_names: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    indexed_queryable_fields_names: tuple[str, ...] = ()
    client_max_offline_days: int = 30
    is_recovery_mode_disabled: bool = False

    def queryable_fields(self, object_type: str) -> frozenset[str]:
        """Fields a subscription on ``object_type`` may name: every scope, plus ``_id``."""
        return frozenset({"_id", *self.queryable_fields_names,
                          *self.collection_queryable_fields_names.get(object_type, ()),
                          *self.indexed_queryable_fields_names})


def load_sync(raw: Mapping[str, Any], path: Path,
              collections: Mapping[str, CollectionConfig]) -> SyncConfig:
    """The parsed ``sync/config.json`` (``raw`` is ``{}`` when the file is missing).

    Raises:
        ConfigError: partition-based sync, a queryable field that is an embedded
            object, an indexed field that breaks Realm's rules (§3.4 of the reference),
            or ``client_max_offline_days`` below 1.
    """
    kind = check_sync_type(raw, path)
    queryable = _names(raw, "queryable_fields_names", path)
    inert = []
    for name in queryable:
        holders = [c for c in collections.values() if name in c.schema]
        if not holders and name != "_id":
            inert.append(name)
        for collection in holders:
            _check_queryable(collection, name, path, "queryable_fields_names")
    per_type: dict[str, tuple[str, ...]] = {}
    where = "collection_queryable_fields_names"
    for key in expect(raw, where, dict, {}, path):
        if key not in collections and not any(c.collection == key for c in collections.values()):
            inert.append(f"{key}.* (no such collection)")  # e.g. a development-mode type
            continue
        object_type = resolve_type(key, collections, path, where)
        names = _names(raw[where], key, path, where)
        for name in names:
            if name in collections[object_type].schema:
                _check_queryable(collections[object_type], name, path, f"{where}.{key}")
            elif name != "_id":
                inert.append(f"{object_type}.{name}")
        per_type[object_type] = (*per_type.get(object_type, ()), *names)
    if inert:
        logger.warning("%s: queryable field names that match no field are inert: %s", path,
                       ", ".join(inert))
    indexed = _names(raw, "indexed_queryable_fields_names", path)
    _check_indexed(indexed, queryable, collections, path)
    days = expect(raw, "client_max_offline_days", int, 30, path)
    if days < 1:
        raise ConfigError(f"client_max_offline_days must be at least 1, not {days}",
                          path=str(path))
    return SyncConfig(
        type=kind, queryable_fields_names=queryable,
        collection_queryable_fields_names=MappingProxyType(per_type),
        indexed_queryable_fields_names=indexed, client_max_offline_days=days,
        is_recovery_mode_disabled=expect(raw, "is_recovery_mode_disabled", bool, False, path))


#: Keys of ``sync/config.json`` we read, or know App Services writes without meaning to us.
KNOWN_KEYS = frozenset({
    "type", "state", "development_mode_enabled", "service_name", "database_name",
    "queryable_fields_names", "collection_queryable_fields_names",
    "indexed_queryable_fields_names", "client_max_offline_days", "is_recovery_mode_disabled",
    "permissions", "last_disabled"})


def unused_sync_keys(raw: Mapping[str, Any]) -> list[str]:
    """Keys of ``sync/config.json`` that we do not serve (``asymmetric_tables``, …)."""
    return [f"sync/config.json key {key!r}" for key in raw if key not in KNOWN_KEYS]


def check_sync_type(raw: Mapping[str, Any], path: Path) -> str:
    """The sync type, ``flexible``; checked before anything else of the app is read.

    Raises:
        ConfigError: a partition-based app (one line), or another sync type.
    """
    if "partition" in raw or raw.get("type") == "partition":
        raise ConfigError("partition-based sync is not supported; realm_jupyter serves "
                          "Flexible Sync only", path=str(path),
                          hint="migrate the app to Flexible Sync (type: flexible)")
    kind = expect(raw, "type", str, "flexible", path)
    if kind != "flexible":
        raise ConfigError(f"sync type {kind!r} is not supported (expected 'flexible')",
                          path=str(path))
    return kind


def _check_queryable(collection: CollectionConfig, name: str, path: Path, where: str) -> None:
    prop = collection.schema.get(name)
    if prop is None:
        raise ConfigError(f"{where}: {collection.object_type} has no field {name!r}",
                          path=str(path))
    if prop.element.type is PropertyType.OBJECT:
        raise ConfigError(f"{where}: {collection.object_type}.{name} is {prop.describe()}; only "
                          "scalars and lists of scalars can be queryable", path=str(path))


def _check_indexed(indexed: tuple[str, ...], queryable: tuple[str, ...],
                   collections: Mapping[str, CollectionConfig], path: Path) -> None:
    where = "indexed_queryable_fields_names"
    if len(indexed) > 1:
        raise ConfigError(f"{where} may hold one field, not {len(indexed)}", path=str(path))
    for name in indexed:
        if name not in queryable:
            raise ConfigError(f"{where}: {name!r} must also be in queryable_fields_names",
                              path=str(path))
        for collection in collections.values():
            prop = collection.schema.get(name)
            if prop is not None and prop.type not in INDEXABLE_TYPES:
                raise ConfigError(f"{where}: {collection.object_type}.{name} is {prop.describe()}; "
                                  "an indexed field must be int, long, string, objectId or uuid",
                                  path=str(path))


def resolve_type(key: str, collections: Mapping[str, CollectionConfig], path: Path,
                 where: str) -> str:
    """An object type named by itself or by its collection name (App Services uses both)."""
    if key in collections:
        return key
    matches = [c.object_type for c in collections.values() if c.collection == key]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(collections)) or "none"
    raise ConfigError(f"{where}: {key!r} is not an object type or collection of this app "
                      f"(known types: {known})", path=str(path))


def _names(data: Mapping[str, Any], key: str, path: Path, where: str = "") -> tuple[str, ...]:
    names = expect(data, key, list, [], path, where)
    if not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{where + ': ' if where else ''}{key!r} must be a list of field names",
                          path=str(path))
    return tuple(names)
