"""``python -m benchmarks.worker TASK JOB_JSON``: one measured client in a process of its own.

The result (or ``{"error": …}``) is the last ``@@`` line on stdout; see
``benchmarks.processes``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

from .clients import emit

__all__ = ["main"]


def _tasks() -> dict[str, Callable[[dict[str, Any]], Any]]:
    from . import b1, b2, b4

    return {
        "bootstrap": b1.bootstrap_worker,
        "read_sql": b1.read_sql_worker,
        "copy_pg": b1.copy_pg_worker,
        "overlap": b4.overlap_worker,
        "b2_writer": b2.writer_worker,
        "b2_reader": b2.reader_worker,
    }


def main() -> int:
    task, job = sys.argv[1], json.loads(sys.argv[2])
    logging.basicConfig(level=logging.WARNING, format=f"{task}: %(levelname)s %(name)s: %(message)s")
    try:
        function = _tasks()[task]
        result = function(job)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
    except BaseException as error:  # reported to the orchestrator, then re-raised as exit 1
        traceback.print_exc()
        emit({"error": f"{type(error).__name__}: {error}".splitlines()[0][:500]})
        return 1
    if result is not None:
        emit(result)
    return 0


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


if __name__ == "__main__":
    raise SystemExit(main())
