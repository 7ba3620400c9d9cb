"""``make snapshot``: the demo snapshot notebook 05 opens where no server can run."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from realm_jupyter import Realm
from realm_jupyter.demo.snapshot import SUBSCRIPTIONS, write_demo_snapshot
from tests.notebooks.support import NOTEBOOKS

pytestmark = pytest.mark.slow


def test_the_demo_snapshot_opens_offline_with_the_notebooks_subscriptions(tmp_path: Path) -> None:
    manifest = write_demo_snapshot(tmp_path / "demo-alice")
    assert manifest["app_id"] == "realm-jupyter-demo"
    with Realm.open_snapshot(tmp_path / "demo-alice") as snapshot:
        assert len(snapshot.df("Item")) > 0 and len(snapshot.df("Order")) > 0
        pinned = sorted((s.object_type, s.query, s.name) for s in snapshot.subscriptions)
    assert pinned == sorted(SUBSCRIPTIONS)
    size = sum(f.stat().st_size for f in (tmp_path / "demo-alice").rglob("*") if f.is_file())
    assert size < 1_000_000  # small enough to build into a Binder image
    nb = nbformat.read(NOTEBOOKS / "05-reproducible-snapshots.ipynb", as_version=4)
    subscribed = sorted(
        (m.group(1), m.group(2), m.group(3)) for c in nb.cells
        if (m := re.fullmatch(r'%realm_subscribe (\w+) "([^"]*)" --name (\w+)', c.source)))
    assert subscribed == sorted(SUBSCRIPTIONS)  # the notebook saves the same snapshot
