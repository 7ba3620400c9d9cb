"""realm_jupyter: Flexible Sync for notebooks.

Subscribe to queries on a sync server, get the matching documents — only those
the user may read — in a local DuckDB cache, and work with them as pandas
DataFrames. ``%load_ext realm_jupyter`` adds the ``%realm_*`` magics.
"""

import typing as _typing

from ._version import __version__
from .client import (
    App,
    ConnectionState,
    Credentials,
    MutableSubscriptionSet,
    Progress,
    Realm,
    SessionState,
    Subscription,
    SubscriptionSet,
    SubscriptionSetState,
    SyncSession,
    User,
    WriteTransaction,
)
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
    ReadOnlySnapshotError,
    RealmJupyterError,
    SchemaError,
    ServerUnavailableError,
    SnapshotError,
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
    "__version__",
    "App",
    "AuthError",
    "CacheError",
    "CacheLockedError",
    "ClientResetError",
    "CompensatingWrite",
    "CompensatingWriteError",
    "ConfigError",
    "ConnectionState",
    "Credentials",
    "current_realm",
    "load_ipython_extension",
    "MutableSubscriptionSet",
    "NoSubscriptionForWriteError",
    "NotQueryableError",
    "ObjectSchema",
    "parse",
    "Progress",
    "Property",
    "PropertyType",
    "ProtocolError",
    "Query",
    "QueryError",
    "QuerySyntaxError",
    "QueryTypeError",
    "ReadOnlySnapshotError",
    "Realm",
    "RealmJupyterError",
    "Schema",
    "SchemaError",
    "ServerUnavailableError",
    "SessionState",
    "SnapshotError",
    "StorageError",
    "Subscription",
    "SubscriptionError",
    "SubscriptionSet",
    "SubscriptionSetState",
    "SyncError",
    "SyncSession",
    "SyncTimeoutError",
    "UnsupportedQueryError",
    "User",
    "WriteError",
    "WriteTransaction",
]


def current_realm() -> Realm:
    """The :class:`~realm_jupyter.client.Realm` that ``%realm_connect`` opened in this kernel."""
    from .magics import current_realm as current

    realm: Realm = current()
    return realm


def load_ipython_extension(ipython: _typing.Any) -> None:
    """``%load_ext realm_jupyter``: register the magics (imported only now)."""
    from .magics import load_ipython_extension as load

    load(ipython)
