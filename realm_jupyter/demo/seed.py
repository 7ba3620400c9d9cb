"""Fill a fresh demo store: the three demo users and generated data, once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import DEMO_USERS

if TYPE_CHECKING:
    from ..server.appdir import AppConfig
    from ..server.auth import Auth
    from ..server.storage import Store

__all__ = ["seed_demo"]

logger = logging.getLogger(__name__)


async def seed_demo(app: AppConfig, store: Store, auth: Auth, size: str | int = "small") -> bool:
    """Create the demo users and load generated data unless already done; True if it seeded."""
    from .generate import iter_tables

    if await store.get_meta("demo_seeded") is not None:
        return False
    for user in DEMO_USERS:
        if await store.get_user(user.id) is None:
            await auth.add_user(user.email, user.password, user_id=user.id,
                                custom_data=user.custom_data)
    for object_type, table in iter_tables(size, batch_rows=250_000):
        await store.bulk_load(app.schema[object_type], table)
    await store.set_meta("demo_seeded", str(size))
    logger.info("seeded the demo app (%s)", size)
    return True
