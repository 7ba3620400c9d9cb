"""Integrating uploaded changesets (the write path)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .http import ApiError

if TYPE_CHECKING:
    from .service import SyncService
    from .storage import ClientRecord, UserRecord


async def integrate(service: SyncService, user: UserRecord, client: ClientRecord,
                    body: Mapping[str, Any]) -> dict[str, Any]:
    raise ApiError(501, "NotImplemented", "uploads are not supported yet")
