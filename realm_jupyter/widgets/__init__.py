"""The notebook widgets: ``SyncStatus``, ``SubscriptionManager`` and ``DataExplorer``.

Each is an anywidget whose TypeScript twin lives in ``js/src/<module>.ts`` and is bundled into
``static/<module>.js``. They display anything that has the methods of the Protocols in
:mod:`realm_jupyter.widgets.protocols`; see ``docs/widgets.md``.
"""

from .explorer import DataExplorer
from .protocols import ExplorerSource, StatusSource, SubscriptionSource
from .status import SyncStatus
from .subscriptions import SubscriptionManager

__all__ = [
    "DataExplorer",
    "ExplorerSource",
    "StatusSource",
    "SubscriptionManager",
    "SubscriptionSource",
    "SyncStatus",
]
