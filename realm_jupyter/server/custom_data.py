"""Custom user data: read for ``%%user.custom_data``, written by admins only.

Where the custom user data collection has a schema (and lists its
``user_id_field``), the user's document is an ordinary synced document and this
module reads and writes it in that collection's table. Without one it is
server-side only, as in App Services: one document per user in the store's
metadata (key ``custom_data:<user id>``, Extended JSON), which no sync route
reads or writes — no subscription, upload or error message can reach it.

Either way a session reads the document once, when it starts, so a change
applies at the user's next session.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bson import ObjectId

from ..documents import from_extended_json, plain_value, to_extended_json, to_plain, validate_document
from ..errors import RealmJupyterError
from .appdir import AppConfig
from .appdir_custom_data import CustomUserData
from .storage import Change, Store

__all__ = ["CustomDataError", "get_custom_data", "import_custom_data", "seed_custom_data",
           "set_custom_data"]

logger = logging.getLogger(__name__)
META_PREFIX = "custom_data:"


class CustomDataError(RealmJupyterError):
    """A custom data document that cannot be stored (no user id, not an object, …)."""


def _config(app: AppConfig) -> CustomUserData:
    config = app.custom_user_data
    if config is None:
        raise CustomDataError("this app has no custom user data (auth/custom_user_data.json is "
                              "missing or not enabled)")
    return config


async def get_custom_data(app: AppConfig, store: Store, user_id: str,
                          fallback: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The user's custom data as plain JSON (``fallback``, the user record's, when the app
    has no custom user data collection)."""
    config = app.custom_user_data
    if config is None:
        return dict(fallback or {})
    if config.object_type is None:
        text = await store.get_meta(META_PREFIX + user_id)
        return to_plain(from_extended_json(text)) if text else {}
    found = await store.find_documents(config.object_type, config.user_id_field, user_id,
                                       limit=1)
    return to_plain(found[0]) if found else {}


async def set_custom_data(app: AppConfig, store: Store, user_id: str,
                          document: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the user's custom data document; returns it as stored (plain JSON).

    Raises:
        CustomDataError: the app has no custom user data collection.
        SchemaError: the collection has a schema and the document does not fit it.
    """
    config = _config(app)
    document = {**document, config.user_id_field: user_id}
    if config.object_type is None:
        await store.set_meta(META_PREFIX + user_id, to_extended_json(document))
        return {k: plain_value(v) for k, v in document.items()}
    object_type = config.object_type
    object_schema = app.collections[object_type].schema
    existing = await store.find_documents(object_type, config.user_id_field, user_id, limit=1)
    if existing:
        document.setdefault("_id", existing[0]["_id"])
    elif object_schema.primary_key_property.type.value == "objectId":
        document.setdefault("_id", ObjectId())
    validated = validate_document(object_schema, document)

    def work(tx: Any) -> None:
        prev = tx.get(object_type, [validated["_id"]]).get(validated["_id"])
        tx.put(Change(object_type, validated["_id"], validated), prev)

    await store.write(work)
    return to_plain(validated)


async def import_custom_data(app: AppConfig, store: Store,
                             documents: Iterable[Mapping[str, Any]]) -> int:
    """Load documents into a server-side custom data collection, each keyed by its
    ``user_id_field``; all are checked before any is written.

    Raises:
        CustomDataError: a document has no ``user_id_field`` (names its position).
    """
    config = _config(app)
    items = []
    for number, document in enumerate(documents, start=1):
        user_id = document.get(config.user_id_field)
        if user_id is None:
            raise CustomDataError(f"document {number} has no {config.user_id_field!r} (the "
                                  "user_id_field): nothing was imported")
        items.append((str(user_id), document))
    for user_id, document in items:
        await store.set_meta(META_PREFIX + user_id, to_extended_json(
            {**document, config.user_id_field: user_id}))
    return len(items)


async def seed_custom_data(app: AppConfig, store: Store) -> None:
    """``data/<custom data collection>.json``, loaded once on first start when server-side."""
    config = app.custom_user_data
    if config is None or config.object_type is not None:
        return
    seed = Path(app.root) / "data" / f"{config.collection_name}.json"
    key = f"seeded:{config.collection_name}"
    if not seed.is_file() or await store.get_meta(key) is not None:
        return
    from .importer import read_raw_documents

    count = await import_custom_data(app, store, read_raw_documents(seed))
    await store.set_meta(key, str(count))
    logger.info("seeded %d custom user data documents from %s", count, seed)


def parse_custom_data(text: str) -> dict[str, Any]:
    """A JSON object given on a command line or in a request body (Extended JSON allowed).

    Raises:
        CustomDataError: not JSON, or not an object.
    """
    try:
        json.loads(text)
        value = from_extended_json(text)
    except (ValueError, TypeError) as error:
        raise CustomDataError(f"custom data is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise CustomDataError("custom data must be a JSON object")
    return value
