"""realm_jupyter: Flexible Sync for notebooks.

Subscribe to queries on a sync server, get the matching documents — only those
the user may read — in a local DuckDB cache, and work with them as pandas
DataFrames. ``%load_ext realm_jupyter`` adds the ``%realm_*`` magics.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .errors import (
    AuthError,
    CacheError,
    CacheLockedError,
    ClientResetError,
    CompensatingWrite,
    CompensatingWriteError,
    ConfigError,
    NoSubscriptionForWriteError,
    NotQueryableError,
    ProtocolError,
    QueryError,
    QuerySyntaxError,
    QueryTypeError,
    RealmJupyterError,
    SchemaError,
    ServerUnavailableError,
    StorageError,
    SubscriptionError,
    SyncError,
    SyncTimeoutError,
    UnsupportedQueryError,
    WriteError,
)
from .query import Query, parse
from .schema import ObjectSchema, Property, PropertyType, Schema

__all__ = [
    "AuthError",
    "CacheError",
    "CacheLockedError",
    "ClientResetError",
    "CompensatingWrite",
    "CompensatingWriteError",
    "ConfigError",
    "NoSubscriptionForWriteError",
    "NotQueryableError",
    "ObjectSchema",
    "Property",
    "PropertyType",
    "ProtocolError",
    "Query",
    "QueryError",
    "QuerySyntaxError",
    "QueryTypeError",
    "RealmJupyterError",
    "Schema",
    "SchemaError",
    "ServerUnavailableError",
    "StorageError",
    "SubscriptionError",
    "SyncError",
    "SyncTimeoutError",
    "UnsupportedQueryError",
    "WriteError",
    "__version__",
    "current_realm",
    "load_ipython_extension",
    "parse",
]


def current_realm() -> Any:
    """The :class:`~realm_jupyter.client.Realm` that ``%realm_connect`` opened in this kernel."""
    from .magics import current_realm as current

    return current()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext realm_jupyter``: register the magics (imported only now)."""
    from .magics import load_ipython_extension as load

    load(ipython)
