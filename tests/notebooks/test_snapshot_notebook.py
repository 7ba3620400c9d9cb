"""Notebook 05 re-runs from its snapshot: the analysis cells run live (connected to the demo,
which then saves the snapshot) and again in a fresh kernel that has only the snapshot's
files — no demo store, no server — and their outputs are byte-identical."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.notebooks.support import (
    DEMO_STORE,
    NOTEBOOKS,
    execute_notebook,
    install_demo_store,
    texts,
)

pytestmark = pytest.mark.notebook

NAME = "05-reproducible-snapshots.ipynb"
SNAPSHOT = Path("snapshots") / "demo-alice"


def _without(tag: str, destination: Path) -> Path:
    """The notebook without the cells tagged ``tag`` (``live``: the server part)."""
    nb = nbformat.read(NOTEBOOKS / NAME, as_version=4)
    nb.cells = [c for c in nb.cells if tag not in c.metadata.get("tags", [])]
    nbformat.write(nb, destination)
    return destination


def _analysis(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Each analysis cell's outputs as JSON text (what a diff of the .ipynb would compare)."""
    def plain(output: Any) -> Any:
        data = dict(output)
        data.pop("execution_count", None)
        return data

    return {c.id: json.dumps([plain(o) for o in c.outputs], sort_keys=True)
            for c in nb.cells if "analysis" in c.metadata.get("tags", [])}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory,
         demo_store: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, Path]:
    live_home = tmp_path_factory.mktemp("05-live")
    install_demo_store(demo_store, live_home)
    live = execute_notebook(_without("offline", live_home / NAME), live_home)
    offline_home = tmp_path_factory.mktemp("05-offline")
    shutil.copytree(live_home / "cwd" / SNAPSHOT, offline_home / "cwd" / SNAPSHOT)
    offline = execute_notebook(_without("live", offline_home / NAME), offline_home)
    return live, offline, offline_home


def test_the_analysis_is_byte_identical_from_the_snapshot(
        runs: tuple[nbformat.NotebookNode, nbformat.NotebookNode, Path]) -> None:
    live, offline, _ = runs
    expected, actual = _analysis(live), _analysis(offline)
    assert set(expected) == {"urgent", "by-team", "revenue", "dtypes", "subscriptions"}
    assert all(json.loads(text) for text in expected.values()), expected  # every cell showed
    assert actual == expected


def test_the_offline_run_never_had_a_server_and_refuses_writes(
        runs: tuple[nbformat.NotebookNode, nbformat.NotebookNode, Path]) -> None:
    live, offline, offline_home = runs
    (saved,) = texts(live, "save")
    assert saved.startswith(f"Snapshot saved to {SNAPSHOT}: ")
    (opened,) = texts(offline, "open")
    assert opened.startswith(f"Opened the read-only snapshot {SNAPSHOT} of realm-jupyter-demo")
    (status,) = texts(offline, "status")
    assert "pinned at server version" in status
    assert not list((offline_home / "cache").rglob(DEMO_STORE + "*"))  # no demo server ran
    refused = "".join(texts(offline, "read-only"))
    assert refused.startswith("UsageError: ") and "read-only snapshot" in refused, refused
    assert "Traceback" not in refused
