"""The sync client: log in, open a realm, subscribe, get DataFrames."""

from .app import App
from .credentials import Credentials
from .progress import Progress
from .realm import Realm
from .session import ConnectionState, SessionState, SyncSession
from .snapshot_realm import SnapshotRealm
from .subscriptions import (
    MutableSubscriptionSet,
    Subscription,
    SubscriptionSet,
    SubscriptionSetState,
)
from .user import User
from .writes import WriteTransaction

__all__ = [
    "App",
    "ConnectionState",
    "Credentials",
    "MutableSubscriptionSet",
    "Progress",
    "Realm",
    "SessionState",
    "SnapshotRealm",
    "Subscription",
    "SubscriptionSet",
    "SubscriptionSetState",
    "SyncSession",
    "User",
    "WriteTransaction",
]
