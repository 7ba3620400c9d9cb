"""Seeding the demo store: once per store, with progress lines while it loads."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.demo.generate import document_counts
from realm_jupyter.demo.seed import seed_demo
from realm_jupyter.server.appdir import load_app
from realm_jupyter.server.auth import Auth
from realm_jupyter.server.storage import open_store


async def test_seeding_reports_progress_then_happens_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_app(DEMO_APP_DIR)
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    await store.open(config.schema.types,
                     {name: config.sync.queryable_fields(name) for name in config.collections})
    try:
        auth = await Auth.create(config, store)
        total = sum(document_counts(3000).values())
        with caplog.at_level(logging.INFO, logger="realm_jupyter.demo.seed"):
            assert await seed_demo(config, store, auth, 3000, batch_rows=500)
        lines = [r.getMessage() for r in caplog.records if r.name == "realm_jupyter.demo.seed"]
        assert lines[0] == f"seeding the demo data (3000: {total:,} rows); this happens once per store"
        steps = [re.fullmatch(rf"seeding the demo data: ([\d,]+) / {total:,} rows \(\d+%\)", line)
                 for line in lines[1:-1]]
        assert len(steps) >= 5 and all(steps), lines
        counts = [int(step.group(1).replace(",", "")) for step in steps if step]
        assert counts == sorted(counts) and counts[-1] < total
        assert re.fullmatch(rf"seeded the demo data \(3000: {total:,} rows in [\d.]+ s\)", lines[-1])
        caplog.clear()
        assert not await seed_demo(config, store, auth, 3000)
    finally:
        await store.close()
