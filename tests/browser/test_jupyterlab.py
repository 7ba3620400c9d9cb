"""The quickstart in JupyterLab and in Notebook 7, in Debian's Chromium: the widgets render and
answer clicks.

Each frontend runs on a free loopback port with its own config, data and runtime directories
over a temporary copy of ``notebooks/``; its kernels get their own cache and config
directories and no ``REALM_DEMO_URL``, so ``%realm_connect --demo`` starts a demo server. The
test runs every cell, checks what the three widgets show against the demo data, adds a
subscription from the manager, sorts and scrolls the explorer, and fails on any error in
the browser console. In JupyterLab it writes the README's screenshots to ``docs/img/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.frontends import (
    FRONTENDS,
    browser_page,
    open_notebook,
    problems_of,
    require_chromium,
    run_all,
    serve_frontend,
)
from tests.browser.frontends import cell as _cell
from tests.notebooks import expected
from tests.notebooks.support import NOTEBOOKS, REPO, install_demo_store

pytestmark = pytest.mark.browser

IMAGES = REPO / "docs" / "img"
ALICE = expected.USERS["Alice"]


@pytest.fixture(scope="module", params=FRONTENDS)
def frontend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def lab(frontend: str, tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> Iterator[str]:
    """The frontend over a copy of notebooks/; its URL."""
    require_chromium()
    base = tmp_path_factory.mktemp(frontend)
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root)
    home = base / "home"
    install_demo_store(demo_store, home)
    with serve_frontend(frontend, root, home) as url:
        yield url


@pytest.fixture(scope="module")
def page(lab: str, frontend: str) -> Iterator[Any]:
    with browser_page() as page:
        yield page
        problems = problems_of(page, frontend)
    assert not problems, "\n".join(problems)


def _screenshot(frontend: str, target: Any, name: str) -> None:
    """The README's screenshots come from JupyterLab."""
    if frontend == "jupyterlab":
        IMAGES.mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(IMAGES / name))


@pytest.fixture(scope="module")
def quickstart(page: Any, lab: str, frontend: str) -> Any:
    """The quickstart open, every cell run."""
    open_notebook(page, lab, frontend, "01-quickstart.ipynb")
    run_all(page)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_text_contents()
    return page


def test_status_widget(quickstart: Any) -> None:
    cell = _cell(quickstart, "status")
    cell.scroll_into_view_if_needed()
    status = cell.locator(".rj-status")
    status.wait_for()
    quickstart.wait_for_function(  # live: it follows the session after the cell ran
        """() => document.querySelector(".rj-status .rj-state-connected") !== null""")
    text = status.locator(".rj-bar").text_content()
    assert "connected" in text and "session active" in text, text
    assert status.locator(".rj-error").text_content() == ""


def test_subscribe_output_and_screenshot(quickstart: Any, frontend: str) -> None:
    wanted = expected.open_urgent(ALICE)
    output = _cell(quickstart, "subscribe-items").locator(".jp-OutputArea")
    line = output.get_by_text("Item status == 'open' AND priority >= 3:")
    assert f"{len(wanted)} rows in" in line.text_content()
    assert output.locator("table.dataframe").count() == 1
    _cell(quickstart, "connect-md").scroll_into_view_if_needed()
    quickstart.evaluate(
        """() => { const cell = [...document.querySelectorAll('.jp-Notebook .jp-Cell')]
                       .find((c) => c.textContent.includes('1. Connect'));
                   cell.scrollIntoView({block: 'start'}); }""")
    _screenshot(frontend, quickstart, "quickstart.png")


def test_subscription_manager_adds_a_subscription(quickstart: Any, frontend: str) -> None:
    readable = expected.readable_items(ALICE)
    done = int((readable["status"] == "done").sum())
    manager = _cell(quickstart, "subscriptions").locator(".rj-subs")
    manager.scroll_into_view_if_needed()
    rows = manager.locator("tbody tr")
    rows.first.wait_for()
    assert rows.count() == 2
    assert "north-orders" in manager.text_content()

    manager.get_by_label("object type").select_option("Item")
    query = manager.get_by_label("query")
    query.fill("summary == 'x'")  # validated as you type: not a queryable field
    manager.locator(".rj-hint").get_by_text("'summary' is not a queryable field of Item").wait_for()
    assert manager.get_by_role("button", name="Add").is_disabled()
    query.fill("status == 'done'")
    add = manager.get_by_role("button", name="Add")
    quickstart.wait_for_function("(b) => !b.disabled", arg=add.element_handle())
    manager.get_by_label("subscription name").fill("done-items")
    add.click()

    # rows are re-rendered as sync goes on: look them up in the (stable) widget root each time
    quickstart.wait_for_function(
        """([root, done]) => [...root.querySelectorAll("tbody tr")].some((row) =>
               row.textContent.includes("done-items") && row.textContent.includes("complete")
               && row.querySelector(".rj-num").textContent.replace(/,/g, "") === done)""",
        arg=[manager.element_handle(), str(done)], timeout=30_000)
    assert rows.count() == 3
    assert manager.locator(".rj-error").first.text_content() == ""
    _screenshot(frontend, manager, "subscriptions.png")


def test_explorer_rows_sort_and_scroll(quickstart: Any, frontend: str) -> None:
    north = expected.readable_orders(ALICE)
    north = north[north["region"] == "north"]
    explorer = _cell(quickstart, "explore").locator(".rj-explorer")
    explorer.scroll_into_view_if_needed()
    explorer.locator(".rj-rows .rj-row").first.wait_for()
    assert f"{len(north):,}" in explorer.locator(".rj-toolbar").text_content()
    first = """([root, id]) => root.querySelector(".rj-rows .rj-row")?.textContent.includes(id)"""
    quickstart.wait_for_function(first, arg=[explorer.element_handle(), north["_id"].min()])

    header = explorer.get_by_role("columnheader", name="amount")
    header.click()  # ascending
    header.click()  # descending
    top = north.assign(amount=north["amount"].map(float)).sort_values(
        ["amount", "_id"], ascending=[False, True]).iloc[0]
    quickstart.wait_for_function(first, arg=[explorer.element_handle(), top["_id"]], timeout=15_000)

    scroller = explorer.locator(".rj-scroller")
    scroller.evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
    last = north.assign(amount=north["amount"].map(float)).sort_values(
        ["amount", "_id"], ascending=[False, True]).iloc[-1]
    quickstart.wait_for_function(
        """([root, id]) => [...root.querySelectorAll(".rj-rows .rj-row")]
                             .some((row) => row.textContent.includes(id))""",
        arg=[explorer.element_handle(), last["_id"]], timeout=15_000)
    scroller.evaluate("(el) => { el.scrollTop = 0; }")
    quickstart.wait_for_function(first, arg=[explorer.element_handle(), top["_id"]], timeout=15_000)

    returned = north[north["status"] == "returned"]
    explorer.get_by_label("filter").fill("status == 'returned'")
    explorer.get_by_label("filter").press("Enter")
    quickstart.wait_for_function(
        """([root, label]) => root.querySelector(".rj-toolbar").textContent.includes(label)""",
        arg=[explorer.element_handle(), f"{len(returned):,} of {len(north):,} rows"], timeout=15_000)
    top_returned = returned.assign(amount=returned["amount"].map(float)).sort_values(
        ["amount", "_id"], ascending=[False, True]).iloc[0]
    quickstart.wait_for_function(first, arg=[explorer.element_handle(), top_returned["_id"]],
                                 timeout=15_000)
    explorer.get_by_label("filter").fill("")
    explorer.get_by_label("filter").press("Enter")
    quickstart.wait_for_function(first, arg=[explorer.element_handle(), top["_id"]], timeout=15_000)
    # the summaries of the rows shown (not of the filter before), and a selection, for the README
    quickstart.wait_for_function(
        """(root) => { const rev = Number((root.dataset.painted || "-1").split(" ")[0]);
                       return Number(root.dataset.summaries) === rev
                              && !root.querySelector(".rj-summaries.rj-stale"); }""",
        arg=explorer.element_handle(), timeout=15_000)
    region = explorer.locator(".rj-summary[data-column='region'] .rj-top-value")
    assert region.count() == 1 and "north" in region.inner_text()  # Alice reads the north only
    explorer.locator(".rj-rows [data-row='1'][data-col='2']").click()
    explorer.locator(".rj-rows [data-row='3'][data-col='4']").click(modifiers=["Shift"])
    _screenshot(frontend, explorer, "explorer.png")
