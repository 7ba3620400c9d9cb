"""Fill a fresh demo store: the three demo users and generated data, once."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from . import DEMO_USERS

if TYPE_CHECKING:
    from ..server.appdir import AppConfig
    from ..server.auth import Auth
    from ..server.storage import Store

__all__ = ["seed_demo"]

logger = logging.getLogger(__name__)


async def seed_demo(app: AppConfig, store: Store, auth: Auth, size: str | int = "small", *,
                    batch_rows: int = 100_000) -> bool:
    """Create the demo users and load generated data unless already done; True if it seeded.

    The large demo takes half a minute: each loaded batch logs a progress line (rows so far
    of the total), so ``realm-jupyter demo --size large`` is never silent while it seeds.
    """
    from .generate import document_counts, iter_tables

    if await store.get_meta("demo_seeded") is not None:
        return False
    total = sum(document_counts(size).values())
    logger.info("seeding the demo data (%s: %s rows); this happens once per store", size,
                f"{total:,}")
    for user in DEMO_USERS:
        if await store.get_user(user.id) is None:
            await auth.add_user(user.email, user.password, user_id=user.id,
                                custom_data=user.custom_data)
    started = time.monotonic()
    done = 0
    for object_type, table in iter_tables(size, batch_rows=batch_rows):
        await store.bulk_load(app.schema[object_type], table)
        done += table.num_rows
        if done < total:
            logger.info("seeding the demo data: %s / %s rows (%d%%)", f"{done:,}", f"{total:,}",
                        100 * done // max(total, 1))
    await store.set_meta("demo_seeded", str(size))
    logger.info("seeded the demo data (%s: %s rows in %.1f s)", size, f"{total:,}",
                time.monotonic() - started)
    return True
