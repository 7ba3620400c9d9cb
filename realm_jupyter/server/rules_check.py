"""Start-up check of the roles against each collection's fields.

Default roles apply to every collection, so a filter on ``owner_id`` also meets
a collection that has no such field (the custom user data collection, in the
Permissions Guide's apps). App Services evaluates an absent field as null, and
so do we (:mod:`realm_jupyter.query.mongo`); this module only says so once, at
start-up, so that a role that can never match a collection is visible in the log
rather than a silent empty view.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .appdir import AppConfig

__all__ = ["absent_rule_fields", "log_absent_rule_fields"]

logger = logging.getLogger(__name__)


def absent_rule_fields(app: AppConfig) -> dict[tuple[str, str], list[str]]:
    """``(object type, role) → fields`` its filters or field rules name that the type lacks."""
    found: dict[tuple[str, str], list[str]] = {}
    for object_type, collection in app.collections.items():
        present = collection.schema.properties
        for role in app.roles_for(object_type):
            names = [*_fields(role.read_filter), *_fields(role.write_filter), *role.fields]
            missing = sorted({n for n in names if n not in present})
            if missing:
                found[(object_type, role.name)] = missing
    return found


def log_absent_rule_fields(app: AppConfig) -> None:
    for (object_type, role), fields in absent_rule_fields(app).items():
        logger.info("role %r of %s mentions %s, which %s lacks: evaluated as null", role,
                    object_type, ", ".join(fields), object_type)


def _fields(document: Any) -> Iterator[str]:
    """Top-level field names a MongoDB filter mentions (operators and expansions skipped)."""
    if isinstance(document, list):
        for item in document:
            yield from _fields(item)
    elif isinstance(document, Mapping):
        for key, value in document.items():
            if not key.startswith(("$", "%")):
                yield key.split(".")[0]
            if key.startswith("$") and isinstance(value, list | Mapping):
                yield from _fields(value)
