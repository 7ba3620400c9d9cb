"""``%realm_snapshot save`` and ``%realm_connect --snapshot`` in real kernels: one connected to
the demo saves a snapshot, a second one that never sees a server opens it and re-runs the
same cells."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.magics.kernel import Kernel, demo_kernel
from tests.magics.test_kernel import _usage_error

pytestmark = pytest.mark.slow

ANALYSIS = [
    '%realm_query Item "priority >= 3 SORT(priority DESC, _id ASC)"',
    '%realm_sql SELECT status, count(*) AS n FROM "Item" GROUP BY status ORDER BY status',
    "%realm_subscriptions --table",
    "realm_jupyter.current_realm().changes()[['object_type', 'operation', 'rows']]",
    "realm_jupyter.current_realm().df('Order').dtypes",
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory,
          demo_store: Path) -> Iterator[tuple[Path, list[str], Kernel]]:
    """A snapshot of Alice's demo cache, the analysis outputs of the live kernel, and it."""
    home = tmp_path_factory.mktemp("snapshot-live")
    with demo_kernel(home, demo_store, "%realm_subscribe Item",
                     '%realm_subscribe Order "TRUEPREDICATE"') as kernel:
        outputs = [kernel.value(code) for code in ANALYSIS]
        yield home / "alice-snapshot", outputs, kernel


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """A kernel with no demo store and no server: only the snapshot's files."""
    kernel = Kernel(tmp_path_factory.mktemp("snapshot-offline"))
    try:
        assert kernel.run("%load_ext realm_jupyter").ok
        assert kernel.run("import realm_jupyter").ok
        yield kernel
    finally:
        kernel.shutdown()


def _saved_snapshot(saved: tuple[Path, list[str], Kernel]) -> Path:
    path, _, kernel = saved
    execution = kernel.run(f"%realm_snapshot save {path}")
    assert execution.ok, (execution.reply, execution.stderr)
    (line,) = execution.displays
    assert line.startswith(f"Snapshot saved to {path}: ") and "pinned at server version" in line
    return path


def test_snapshot_has_help(offline: Kernel) -> None:
    execution = offline.run("%realm_snapshot?")
    assert execution.ok
    (page,) = [p for p in execution.reply["payload"] if p["source"] == "page"]
    text = re.sub(r"\x1b\[[0-9;]*m", "", page["data"]["text/plain"])
    for phrase in ("checkpoint-pinned", "save", "%realm_connect --snapshot PATH"):
        assert phrase in text, (phrase, text)
    connect = offline.run("%realm_connect?")
    assert "--snapshot PATH" in str(connect.reply["payload"])


def test_the_same_cells_give_the_same_outputs_from_the_snapshot(
        saved: tuple[Path, list[str], Kernel], offline: Kernel) -> None:
    path = _saved_snapshot(saved)
    opened = offline.run(f"%realm_connect --snapshot {path}")
    assert opened.ok, (opened.reply, opened.stderr)
    assert opened.displays[0].startswith(f"Opened the read-only snapshot {path} of ")
    assert [offline.value(code) for code in ANALYSIS] == saved[1]
    status = offline.run("%realm_status")
    assert status.ok
    (line,) = status.displays
    assert "read-only snapshot" in line and "pinned at server version" in line
    assert re.search(r"created \d{4}-\d\d-\d\dT", line)
    explore = offline.run('%realm_explore Item "priority >= 3"')
    assert explore.ok, (explore.reply, explore.stderr)


@pytest.mark.parametrize("code", [
    "%realm_write create Item '{\"summary\": \"offline\"}'",
    '%realm_subscribe Item "priority > 1"',
    "%realm_unsubscribe --all",
    "%realm_pause",
    '%realm_sql DELETE FROM "Item"',
])
def test_changes_are_one_red_line_on_a_snapshot(saved: tuple[Path, list[str], Kernel],
                                                 offline: Kernel, code: str) -> None:
    path = _saved_snapshot(saved)
    assert offline.run(f"%realm_connect --snapshot {path}").ok
    lines = _usage_error(offline.run(code))
    assert "read-only snapshot" in lines[0], lines


def test_an_altered_snapshot_is_one_red_line_naming_the_file(
        saved: tuple[Path, list[str], Kernel], offline: Kernel, tmp_path: Path) -> None:
    path = _saved_snapshot(saved)
    altered = tmp_path / "altered"
    altered.mkdir()
    for file in path.rglob("*"):
        if file.is_file():
            target = altered / file.relative_to(path)
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(file.read_bytes())
    changes = altered / "_realm" / "changes.parquet"
    changes.write_bytes(changes.read_bytes() + b"\0")
    lines = _usage_error(offline.run(f"%realm_connect --snapshot {altered}"))
    assert "_realm/changes.parquet was altered" in lines[0], lines
    lines = _usage_error(offline.run(f"%realm_connect --snapshot {tmp_path / 'nothing'}"))
    assert "manifest.json is missing" in lines[0], lines


