"""``auth/custom_user_data.json``: where ``%%user.custom_data`` comes from.

In App Services the custom user data collection is ordinary server-side data: it
needs no schema, it is synced only when a schema and the sync config make it so,
and apps usually fill it with a trigger. So we accept it in two shapes:

* **with a schema** that lists ``user_id_field``: a synced collection like any
  other (under its rules), and ``%%user.custom_data`` is the user's document there;
* **without one** (or with a schema that does not list ``user_id_field``): kept
  server-side only, one document per user in the store's metadata, never synced,
  never readable or writable by a client; filled by ``users add --custom-data``,
  ``users set-custom-data``, ``import`` and the admin HTTP endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .appdir_roles import expect, read_json

if TYPE_CHECKING:
    from .appdir import CollectionConfig

__all__ = ["CustomUserData", "load_custom_user_data"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomUserData:
    """Where ``%%user.custom_data`` comes from: the document whose ``user_id_field`` is the user.

    ``object_type`` is the synced collection holding it, or ``None`` when the
    collection is server-side only (no schema): then the documents live in the
    store, out of every client's reach.
    """

    enabled: bool
    database_name: str
    collection_name: str
    user_id_field: str
    object_type: str | None
    service: str = ""

    @property
    def server_side(self) -> bool:
        return self.object_type is None

    def names(self, name: str) -> bool:
        """Whether ``name`` (an object type or collection name) is this collection."""
        return name in (self.collection_name, self.object_type)


def load_custom_user_data(path: Path, collections: Mapping[str, CollectionConfig]
                          ) -> CustomUserData | None:
    """None when the file is missing or ``enabled`` is false (the feature is then off).

    Raises:
        ConfigError: a malformed file, or no ``database_name``/``collection_name``/
            ``user_id_field``.
    """
    if not path.is_file():
        return None
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise ConfigError("expected a JSON object", path=str(path))
    if not expect(raw, "enabled", bool, False, path):
        return None
    database = expect(raw, "database_name", str, "", path)
    collection_name = expect(raw, "collection_name", str, "", path)
    user_id_field = expect(raw, "user_id_field", str, "", path)
    service = expect(raw, "mongo_service_name", str, "", path)
    if not database or not collection_name or not user_id_field:
        raise ConfigError("an enabled custom user data config needs database_name, "
                          "collection_name and user_id_field", path=str(path))
    match = next((c for c in collections.values()
                  if c.database == database and c.collection == collection_name
                  and (not service or c.service == service)), None)
    object_type: str | None = None
    if match is None:
        logger.info("custom user data %s.%s has no schema: kept server-side, never synced",
                    database, collection_name)
    elif user_id_field not in match.schema:
        logger.warning("custom user data: the schema of %s does not list user_id_field %r; "
                       "custom data is kept server-side (the collection still syncs as itself)",
                       match.object_type, user_id_field)
    else:
        object_type = match.object_type
    return CustomUserData(enabled=True, database_name=database, collection_name=collection_name,
                          user_id_field=user_id_field, object_type=object_type, service=service)
