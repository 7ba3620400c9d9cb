"""``schema.json`` files for development-mode collections: shown for review, or written.

The schemas themselves come from :mod:`.appdir_infer`; this module only knows
where App Services keeps them (``data_sources/<service>/<db>/<Coll>/schema.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError, SchemaError
from .appdir import AppConfig
from .appdir_infer import infer_schema
from .importer import read_raw_documents

__all__ = ["inferred_schema_files", "schema_path", "write_inferred_schema"]


def schema_path(app: AppConfig, service: str, database: str, collection: str) -> Path:
    return Path(app.root) / "data_sources" / service / database / collection / "schema.json"


def inferred_schema_files(app: AppConfig) -> dict[Path, dict[str, Any]]:
    """Path → inferred ``schema.json`` of every collection whose schema was inferred."""
    out: dict[Path, dict[str, Any]] = {}
    for config in app.collections.values():
        if config.inferred and config.seed_path is not None:
            path = schema_path(app, config.service, config.database, config.collection)
            out[path] = infer_schema(config.object_type, read_raw_documents(config.seed_path))
    return out


def write_inferred_schema(app: AppConfig, collection: str, files: list[Path]) -> Path:
    """Infer ``collection``'s schema from ``files`` and write its ``schema.json``.

    Raises:
        ConfigError: the documents do not give a schema (the message says why).
    """
    documents = [doc for path in files for doc in read_raw_documents(path)]
    try:
        document = infer_schema(collection, documents)
    except SchemaError as error:
        raise ConfigError(f"development mode: cannot infer a schema: {error.message}",
                          path=str(files[0])) from error
    service, database = _location(app)
    path = schema_path(app, service, database, collection)
    path.parent.mkdir(parents=True, exist_ok=True)
    import json

    path.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")
    return path


def _location(app: AppConfig) -> tuple[str, str]:
    """Where new collections go: sync/config.json's service and database, else the first
    existing collection's."""
    import json

    sync_file = Path(app.root) / "sync" / "config.json"
    raw = json.loads(sync_file.read_text()) if sync_file.is_file() else {}
    first = next(iter(app.collections.values()), None)
    service = raw.get("service_name") or (first.service if first else "mongodb-atlas")
    database = raw.get("database_name") or (first.database if first else "app")
    return str(service), str(database)
