"""The quickstart in JupyterLab, in Debian's Chromium: the widgets render and answer clicks.

JupyterLab runs on a free loopback port with its own config, data and runtime directories
over a temporary copy of ``notebooks/``; its kernels get their own cache and config
directories and no ``REALM_DEMO_URL``, so ``%realm_connect --demo`` starts a demo server. The
test runs every cell, checks what the three widgets show against the demo data, adds a
subscription from the manager, sorts and scrolls the explorer, and fails on any error in
the browser console. It writes the README's screenshots to ``docs/img/``.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from realm_jupyter.server.runner import free_port
from tests.notebooks import expected
from tests.notebooks.support import (
    NOTEBOOKS,
    REPO,
    install_demo_store,
    kernel_env,
    poll,
    run_process,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
IMAGES = REPO / "docs" / "img"
ALICE = expected.USERS["Alice"]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> Iterator[str]:
    """JupyterLab over a copy of notebooks/; its URL."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed (apt-get install chromium); .ci/run installs it")
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root)
    home = base / "home"
    install_demo_store(demo_store, home)
    env = kernel_env(home)  # inherited by the kernels it starts
    for name, sub in (("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                      ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")):
        (home / sub).mkdir()
        env[name] = str(home / sub)
    # no "Would you like to get notified about official Jupyter news?" toast over the screenshots
    settings = home / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    port = free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True", "--FileContentsManager.delete_to_trash=False"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    url = f"http://127.0.0.1:{port}"
    with run_process(argv, env=env, log=base / "lab.log", cwd=root) as process:
        poll(lambda: process.poll() is not None or _ready(url), 60, "JupyterLab")
        assert process.poll() is None, (base / "lab.log").read_text()[-3000:]
        yield url


@pytest.fixture(scope="module")
def page(lab: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.problems = problems
            yield page
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def _cell(page: Any, cell_id: str) -> Any:
    """The notebook cell with this id (JupyterLab puts it in the element's data attributes)."""
    index = page.evaluate(
        """(id) => window.jupyterapp.shell.currentWidget.content.widgets
                   .findIndex((cell) => cell.model.id === id)""", cell_id)
    assert index >= 0, cell_id
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


@pytest.fixture(scope="module")
def quickstart(page: Any, lab: str) -> Any:
    """The quickstart open, every cell run."""
    page.goto(f"{lab}/lab/tree/01-quickstart.ipynb?reset")
    page.wait_for_function(
        """() => {
             const widget = window.jupyterapp?.shell?.currentWidget;
             const kernel = widget?.sessionContext?.session?.kernel;
             return widget?.content?.widgets?.length > 0 && kernel?.status === "idle";
           }""", timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => {
             const widget = window.jupyterapp.shell.currentWidget;
             const code = widget.content.widgets.filter((c) => c.model.type === "code");
             return code.every((c) => c.model.executionCount !== null)
                    && widget.sessionContext.session.kernel.status === "idle";
           }""", timeout=90_000)
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


def test_subscribe_output_and_screenshot(quickstart: Any) -> None:
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
    IMAGES.mkdir(parents=True, exist_ok=True)
    quickstart.screenshot(path=str(IMAGES / "quickstart.png"))


def test_subscription_manager_adds_a_subscription(quickstart: Any) -> None:
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
    manager.screenshot(path=str(IMAGES / "subscriptions.png"))


def test_explorer_rows_sort_and_scroll(quickstart: Any) -> None:
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
    explorer.screenshot(path=str(IMAGES / "explorer.png"))
