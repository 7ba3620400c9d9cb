"""The sync session's listeners and signals: who hears about a change, and how.

Listeners are plain callbacks run on the kernel loop; a listener that raises is logged
and never stops sync. A ``Signal`` wakes every coroutine waiting for "something
changed"; each re-checks its own condition, so no wake-up is lost or misread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["Signal", "call_safely", "remove_listener"]

logger = logging.getLogger("realm_jupyter.client.session")


class Signal:
    """Wake everyone waiting for "something changed"; waiters re-check their condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


def remove_listener(items: list[Any], item: Any) -> None:
    """Forget ``item`` if it is still listed (removing twice is harmless)."""
    with contextlib.suppress(ValueError):
        items.remove(item)


def call_safely(callback: Callable[..., Any], *args: Any) -> None:
    """Run one listener; its bug is logged, and sync goes on."""
    try:
        callback(*args)
    except Exception:  # a listener's bug must not stop sync
        logger.exception("a sync listener failed")
