"""What cells show about sync, in a real kernel: a timed-out wait is a warning, never a tick; a
reverted write is reported under the cell that made it; "all Orders" for TRUEPREDICATE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.magics.kernel import Execution, Kernel, demo_kernel
from tests.notebooks import expected

pytestmark = pytest.mark.slow

ALICE = expected.USERS["Alice"]
BOB = expected.USERS["Bob"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> Iterator[Kernel]:
    with demo_kernel(tmp_path_factory.mktemp("output-kernel"), demo_store) as kernel:
        yield kernel


def _lines(execution: Execution) -> list[tuple[str, str]]:
    """Every (text, html) the cell displayed or updated, in order."""
    return [(m["content"]["data"].get("text/plain", ""), m["content"]["data"].get("text/html", ""))
            for m in execution.of("display_data", "update_display_data")]


def _shown(execution: Execution) -> list[str]:
    """The cell's lines as a frontend shows them at the end: updates replace their display."""
    shown: list[tuple[str | None, str]] = []
    for message in execution.of("display_data", "update_display_data"):
        content = message["content"]
        display_id = content.get("transient", {}).get("display_id")
        text = content["data"].get("text/plain", "")
        if message["msg_type"] == "display_data":
            shown.append((display_id, text))
        else:
            shown = [(d, text if d == display_id else t) for d, t in shown]
    return [text for _, text in shown]


def _bobs_north_item() -> str:
    """An item Alice can read (north team) but not write (Bob owns it)."""
    readable = expected.readable_items(ALICE)
    return str(readable[readable["owner_id"] == BOB.id].sort_values("_id")["_id"].iloc[0])


def test_a_timeout_is_a_warning_line_not_a_tick(kernel: Kernel) -> None:
    execution = kernel.run('late = %realm_subscribe Order "amount > 10" --timeout 0\nlen(late)')
    assert execution.ok, execution.stderr
    text, html = _lines(execution)[-1]
    assert text == (f"⚠ Order amount > 10: still syncing after 0 s (sync continues in the "
                    f"background); showing the {execution.result} rows cached so far")
    assert "✓" not in html and "#2e7d32" not in html and "#b26b00" in html


def test_truepredicate_reads_as_all_of_a_type(kernel: Kernel) -> None:
    execution = kernel.run("profiles = %realm_subscribe UserProfile")
    assert execution.ok, execution.stderr
    first, *_, last = _lines(execution)
    assert first[0] == "all UserProfiles: waiting for the server…"
    assert last[0].startswith("all UserProfiles: ") and "rows in" in last[0]


def test_a_reverted_write_is_reported_under_its_cell(kernel: Kernel) -> None:
    assert kernel.run("%realm_subscribe Item \"team == 'north'\"").ok
    key = _bobs_north_item()
    write = kernel.run(f"%realm_write update Item {key} '{{\"priority\": 5}}'")
    assert write.ok, write.stderr
    assert _lines(write)[0][0] == "update Item applied locally; uploading…"
    line, warning = _shown(write)
    assert line == "⚠ update Item: the server reverted it (below)"
    assert warning.startswith(f"⚠ write reverted by the server: Item {key}: ")
    following = kernel.run("1 + 1")
    assert following.ok and not _lines(following) and "⚠" not in following.stdout
    status = kernel.value("realm_jupyter.current_realm().session.status()['error']")
    assert status.startswith(f"'write reverted by the server: Item {key}: ")

    allowed = kernel.run(f"%realm_write update Item {_alices_item()} '{{\"priority\": 4}}'")
    assert allowed.ok, allowed.stderr
    assert _shown(allowed) == ["update Item applied locally and accepted by the server"]


def test_a_write_reverted_after_its_cell_goes_to_the_status_not_the_next_cell(
        kernel: Kernel) -> None:
    """A Python API write that does not wait: its warning must not land under a later cell."""
    key = _bobs_north_item()
    before = kernel.value("len(realm_jupyter.current_realm().rejected_writes())")
    written = kernel.run("realm = realm_jupyter.current_realm()\n"
                         "with realm.write() as tx:\n"
                         f"    tx.update('Item', __import__('bson').ObjectId('{key}'), "
                         "{'priority': 1})")
    assert written.ok, written.stderr
    later = kernel.run("await realm.session.wait_for_upload(20)\n"
                       "await realm.session.wait_for_download(20)\n"
                       "len(realm.rejected_writes())")
    assert later.ok, later.stderr
    assert int(later.result) == int(before) + 1
    assert not [text for text, _ in _lines(later) if "reverted" in text]
    status = kernel.value("realm.session.status()['error']")
    assert status.startswith(f"'write reverted by the server: Item {key}: ")


def _alices_item() -> str:
    readable = expected.readable_items(ALICE)
    mine = readable[(readable["owner_id"] == ALICE.id) & (readable["team"] == "north")]
    return str(mine.sort_values("_id")["_id"].iloc[0])
