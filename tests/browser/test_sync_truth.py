"""What a user sees about sync, in JupyterLab and Notebook 7 (Debian's Chromium).

One notebook, its cells run one at a time: the status widget's "last sync" advances when
another client changes a document; a write the server reverts is reported under the cell
that made it (not the next one); a Jupyter URL given to ``%realm_connect`` is one sentence;
a failed connect keeps the session, and the next ``%realm_sql`` works.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.frontends import FRONTENDS, cell, notebook_session, run_cell
from tests.notebooks import expected

pytestmark = pytest.mark.browser

ALICE = expected.USERS["Alice"]
BOB = expected.USERS["Bob"]
CAROL = expected.USERS["Carol"]
NOTEBOOK = "sync-truth.ipynb"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def _north_item(owner: str) -> str:
    readable = expected.readable_items(ALICE)
    mine = readable[(readable["owner_id"] == owner) & (readable["team"] == "north")]
    return str(mine.sort_values("_id")["_id"].iloc[0])


def _cells(lab_url: str) -> list[tuple[str, str]]:
    bobs, alices = _north_item(BOB.id), _north_item(ALICE.id)
    return [
        ("load", "%load_ext realm_jupyter"),
        ("connect", "%realm_connect --demo"),
        ("subscribe", "north = %realm_subscribe Item \"team == 'north'\""),
        ("status", "%realm_status"),
        ("carol", "import tempfile\nfrom pathlib import Path\n"
                  "from bson import ObjectId\n"
                  "from realm_jupyter import App, Credentials, Realm, current_realm\n"
                  "alice = current_realm()\n"
                  "app = App(alice.app.base_url, alice.app.app_id)\n"
                  "carol = await Realm.open(await app.log_in(Credentials.email_password("
                  f"{CAROL.email!r}, {CAROL.password!r})), "
                  "cache=Path(tempfile.mkdtemp()) / 'carol.duckdb')\n"
                  "await carol.subscribe('Item', \"team == 'north'\")\n"
                  "None"),
        ("remote-change", "with carol.write() as tx:\n"
                          f"    tx.update('Item', ObjectId('{alices}'), {{'priority': 1}})\n"
                          "await carol.session.wait_for_upload(30)"),
        ("bad-write", f"%realm_write update Item {bobs} '{{\"priority\": 5}}'"),
        ("after-write", "1 + 1"),
        ("jupyter-url", f"%realm_connect {lab_url} --app realm-jupyter-demo --anonymous"),
        ("failed-connect", f"%realm_connect --demo --email {ALICE.email} --password wrong"),
        ("sql-after", "%realm_sql SELECT count(*) AS n FROM Item WHERE team = 'north'"),
    ]


@pytest.fixture(scope="module", params=FRONTENDS)
def frontend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def notebook(frontend: str, tmp_path_factory: pytest.TempPathFactory, demo_store: Path
             ) -> Iterator[tuple[Any, str]]:
    """The frontend with the notebook open in Chromium: (page, the frontend's URL)."""
    base = tmp_path_factory.mktemp(f"truth-{frontend}")
    with notebook_session(frontend, base, demo_store, NOTEBOOK, _cells) as (page, url):
        for cell_id in ("load", "connect", "subscribe", "status", "carol"):
            run_cell(page, cell_id, timeout=90_000)
            assert cell(page, cell_id).locator(STDERR).count() == 0, cell_id
        yield page, url


def _output_text(page: Any, cell_id: str) -> str:
    return str(cell(page, cell_id).locator(".jp-OutputArea").inner_text())


def test_last_sync_advances_on_a_remote_change(notebook: tuple[Any, str]) -> None:
    page, _ = notebook
    status = cell(page, "status").locator(".rj-status")
    status.wait_for()
    last = status.locator(".rj-item.rj-muted")
    before = last.get_attribute("title")
    assert before and before[:4].isdigit(), before  # an ISO time: it synced already
    run_cell(page, "remote-change")
    page.wait_for_function(
        """([el, before]) => el.getAttribute("title") > before""",
        arg=[last.element_handle(), before], timeout=20_000)
    assert "last sync just now" in last.inner_text()


def test_a_reverted_write_is_reported_under_its_cell(notebook: tuple[Any, str]) -> None:
    page, _ = notebook
    run_cell(page, "bad-write")
    run_cell(page, "after-write")
    text = _output_text(page, "bad-write")
    assert "⚠ update Item: the server reverted it (below)" in text
    assert f"⚠ write reverted by the server: Item {_north_item(BOB.id)}: " in text
    assert "reverted" not in _output_text(page, "after-write")
    status = cell(page, "status").locator(".rj-status .rj-error")
    assert "write reverted by the server" in status.inner_text()


def test_a_jupyter_url_is_one_sentence(notebook: tuple[Any, str]) -> None:
    page, url = notebook
    run_cell(page, "jupyter-url")
    errors = cell(page, "jupyter-url").locator(STDERR)
    errors.wait_for()
    lines = [line for line in errors.inner_text().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"UsageError: {url} is not a realm-jupyter sync server (it answered "
                               "HTTP "), lines
    assert "<" not in lines[0]


def test_a_failed_connect_keeps_the_session(notebook: tuple[Any, str]) -> None:
    page, _ = notebook
    run_cell(page, "failed-connect")
    errors = cell(page, "failed-connect").locator(STDERR)
    errors.wait_for()
    assert errors.inner_text().startswith("UsageError: login failed: ")
    run_cell(page, "sql-after")
    output = cell(page, "sql-after")
    assert output.locator(STDERR).count() == 0
    table = output.locator("table.dataframe")
    table.wait_for()
    readable = expected.readable_items(ALICE)
    assert str(int((readable["team"] == "north").sum())) in table.inner_text()
    status = cell(page, "status").locator(".rj-status")
    assert "connected" in status.locator(".rj-bar").inner_text()
