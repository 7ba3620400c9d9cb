"""Roles from an app directory: both generations of App Services permissions, one ``Role``.

In February 2023 App Services moved sync permissions out of ``sync/config.json``
(``permissions.rules`` and ``defaultRoles``, with ``applyWhen`` and filter-valued
``read``/``write``) into per-collection ``rules.json`` files and ``default_rule.json``.
Exports of both ages are still around, so both are read here into the same frozen
:class:`Role`: the rules engine never needs to know which file a role came from.

The JSON helpers at the bottom are shared with :mod:`.appdir`, so that every
"this key has the wrong type" error reads the same and names its file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from ..errors import ConfigError

__all__ = ["FieldPermission", "Role", "expect", "json_kind", "parse_legacy_roles", "parse_roles",
           "read_json"]

T = TypeVar("T")


@dataclass(frozen=True)
class FieldPermission:
    """Read/write permission on one field (``fields``), or on all others (``additional_fields``)."""

    read: bool = False
    write: bool = False


@dataclass(frozen=True)
class Role:
    """One App Services role, as the rules engine evaluates it.

    ``apply_when`` and the two document filters are kept as the raw MongoDB
    expressions (plain ``dict``/``list`` JSON, so they can still be shown or
    serialised); the rules engine parses them. A filter of ``None`` means the role
    does not define it — App Services then treats the role as Sync-incompatible.
    ``fields`` holds top-level fields only; nested ``fields`` inside an embedded
    object's entry are not read (yet), so its permission covers the whole object.
    """

    name: str
    apply_when: Mapping[str, Any]
    read_filter: Mapping[str, Any] | None
    write_filter: Mapping[str, Any] | None
    read: bool = False
    write: bool = False
    insert: bool = True
    delete: bool = True
    search: bool = True
    fields: Mapping[str, FieldPermission] = field(default_factory=lambda: MappingProxyType({}))
    additional_fields: FieldPermission = FieldPermission()


def parse_roles(raw: Any, path: Path) -> tuple[Role, ...]:
    """The ``roles`` list of a ``rules.json`` or ``default_rule.json`` file.

    Raises:
        ConfigError: the list or one of its roles is malformed (names ``path``).
    """
    return tuple(_modern_role(item, index, path)
                 for index, item in enumerate(_role_list(raw, path)))


def parse_legacy_roles(raw: Any, path: Path) -> tuple[Role, ...]:
    """Roles of the older generation (``sync/config.json`` → ``permissions``).

    Their ``read``/``write`` are document filters: an object is a filter, ``true``
    means every document and ``false`` or missing means none. The modern role's
    ``read``/``write`` (and ``insert``/``delete``, which the old format tied to
    write access) follow from whether a filter exists.

    Raises:
        ConfigError: a role is malformed (names ``path``).
    """
    roles = []
    for index, item in enumerate(_role_list(raw, path)):
        data, name = _role_object(item, index, path)
        where = f"role {name!r}"
        # Older exports grant with a filter and deny with false or by leaving it out.
        read_filter = _filter(data.get("read"), path, f"{where}: 'read'")
        write_filter = _filter(data.get("write"), path, f"{where}: 'write'")
        can_read = read_filter not in (None, MATCH_NOTHING)
        can_write = write_filter not in (None, MATCH_NOTHING)
        roles.append(Role(
            name=name,
            apply_when=dict(expect(data, "applyWhen", dict, {}, path, where)),
            read_filter=read_filter if can_read else dict(MATCH_NOTHING),
            write_filter=write_filter if can_write else dict(MATCH_NOTHING),
            read=can_read,
            write=can_write,
            insert=can_write,
            delete=can_write,
        ))
    return tuple(roles)


def _modern_role(item: Any, index: int, path: Path) -> Role:
    data, name = _role_object(item, index, path)
    where = f"role {name!r}"
    filters = expect(data, "document_filters", dict, {}, path, where)
    fields = expect(data, "fields", dict, {}, path, where)
    return Role(
        name=name,
        apply_when=dict(expect(data, "apply_when", dict, {}, path, where)),
        read_filter=_filter(filters.get("read"), path, f"{where}: document_filters.read"),
        write_filter=_filter(filters.get("write"), path, f"{where}: document_filters.write"),
        read=expect(data, "read", bool, False, path, where),
        write=expect(data, "write", bool, False, path, where),
        insert=expect(data, "insert", bool, True, path, where),
        delete=expect(data, "delete", bool, True, path, where),
        search=expect(data, "search", bool, True, path, where),
        fields=MappingProxyType({
            field_name: _field_permission(spec, path, f"{where}: fields.{field_name}")
            for field_name, spec in fields.items()
        }),
        additional_fields=_field_permission(data.get("additional_fields", {}), path,
                                            f"{where}: additional_fields"),
    )


def _role_list(raw: Any, path: Path) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"roles must be a list, not {json_kind(raw)}", path=str(path))
    return raw


def _role_object(item: Any, index: int, path: Path) -> tuple[dict[str, Any], str]:
    if not isinstance(item, dict):
        raise ConfigError(f"role #{index + 1} must be an object, not {json_kind(item)}",
                          path=str(path))
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"role #{index + 1} needs a 'name'", path=str(path))
    return item, name


#: A filter no document matches (``false`` in a role).
MATCH_NOTHING: dict[str, Any] = {"%%true": False}


def _filter(value: Any, path: Path, where: str) -> dict[str, Any] | None:
    """A document filter: an object as is, ``true`` → every document, ``false`` → none,
    missing → ``None`` (for a modern role: not Sync-compatible)."""
    if value is None:
        return None
    if value is False:
        return dict(MATCH_NOTHING)
    if value is True:
        return {}
    if isinstance(value, dict):
        return value
    raise ConfigError(f"{where} must be a filter object or true/false, not {json_kind(value)}",
                      path=str(path))


def _field_permission(spec: Any, path: Path, where: str) -> FieldPermission:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be an object, not {json_kind(spec)}", path=str(path))
    return FieldPermission(read=expect(spec, "read", bool, False, path, where),
                           write=expect(spec, "write", bool, False, path, where))


# --------------------------------------------------------------------------- JSON helpers

_KIND_NAMES: dict[type, str] = {dict: "an object", list: "a list", str: "a string",
                                bool: "true or false", int: "an integer"}


def json_kind(value: Any) -> str:
    """How a JSON value is called in error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def expect(data: Mapping[str, Any], key: str, kind: type[T], default: T, path: Path,
           where: str = "") -> T:
    """``data[key]`` if it has the JSON type ``kind`` (``default`` when missing).

    Raises:
        ConfigError: the value has another type; the message names ``path`` and the key.
    """
    value = data.get(key, default)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    prefix = f"{where}: " if where else ""
    raise ConfigError(f"{prefix}{key!r} must be {_KIND_NAMES.get(kind, kind.__name__)}, "
                      f"not {json_kind(value)}", path=str(path))


def read_json(path: Path) -> Any:
    """Parse one config file with the standard ``json`` module (it keeps error positions).

    Raises:
        ConfigError: unreadable file or invalid JSON (with line and column).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError("not UTF-8 text", path=str(path)) from error
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", path=str(path)) from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}",
                          path=str(path)) from error
