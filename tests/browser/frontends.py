"""JupyterLab and Notebook 7 for the browser tests: start one over a folder, open a notebook,
find and run cells. Both frontends build on the same JupyterLab components, so the cells
have the same DOM and commands; they differ in how they start and where a notebook opens.
"""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from realm_jupyter.server.runner import free_port
from tests.notebooks.support import kernel_env, poll, run_process

FRONTENDS = ("jupyterlab", "notebook7")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def require_chromium() -> None:
    import pytest

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed (apt-get install chromium); make test installs it "
                    "when run as root")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextlib.contextmanager
def serve_frontend(kind: str, root: Path, home: Path) -> Iterator[str]:
    """JupyterLab or Notebook 7 over ``root`` with its own config, data and runtime
    directories under ``home`` (its kernels are isolated too: ``kernel_env``); its URL."""
    env = kernel_env(home)
    for name, sub in (("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                      ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")):
        (home / sub).mkdir(exist_ok=True)
        env[name] = str(home / sub)
    # no "Would you like to get notified about official Jupyter news?" toast over the screenshots
    if kind == "jupyterlab":
        settings = (home / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab"
                    / "apputils-extension")
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            '{"fetchNews": "false", "checkForUpdates": false}')
    port = free_port()
    argv = [sys.executable, "-m", "jupyterlab" if kind == "jupyterlab" else "notebook",
            "--no-browser", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
            "--FileContentsManager.delete_to_trash=False"]
    if kind == "jupyterlab":
        argv += ["--LabApp.news_url=None",
                 "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                 "--LabApp.expose_app_in_browser=True"]
    else:  # Notebook 7 has no news or update check (an unknown trait stops it linking)
        argv += ["--JupyterNotebookApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    url = f"http://127.0.0.1:{port}"
    log = home / f"{kind}.log"
    with run_process(argv, env=env, log=log, cwd=root) as process:
        poll(lambda: process.poll() is not None or _ready(url), 60, kind)
        assert process.poll() is None, log.read_text()[-3000:]
        yield url


# Notebook 7.6 (with JupyterLab 4.6) throws this while loading its keyboard-shortcut settings,
# on any page, before a notebook's code runs: not ours to fix, and nothing else is let through.
KNOWN_FRONTEND_ERRORS = {
    "notebook7": ("page error: Cannot read properties of undefined (reading 'schema')",),
}


def problems_of(page: Any, kind: str) -> list[str]:
    """The browser's errors on ``page``, less the frontend's own known ones."""
    known = KNOWN_FRONTEND_ERRORS.get(kind, ())
    return [problem for problem in page.problems if problem not in known]


@contextlib.contextmanager
def browser_page() -> Iterator[Any]:
    """A Chromium page that collects console errors and page errors in ``page.problems``."""
    from playwright.sync_api import sync_playwright

    require_chromium()
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


def open_notebook(page: Any, url: str, kind: str, name: str) -> None:
    """Open ``name`` and wait for its kernel to be idle."""
    path = f"/lab/tree/{name}?reset" if kind == "jupyterlab" else f"/notebooks/{name}"
    page.goto(f"{url}{path}")
    page.wait_for_function(
        """() => {
             const widget = window.jupyterapp?.shell?.currentWidget;
             const kernel = widget?.sessionContext?.session?.kernel;
             return widget?.content?.widgets?.length > 0 && kernel?.status === "idle";
           }""", timeout=60_000)
    if kind == "jupyterlab":
        page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")


def run_all(page: Any, timeout: float = 90_000) -> None:
    """Run every cell (Run All stops at the first error) and wait until the kernel is idle."""
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_idle(page, timeout, all_run=True)


def run_cell(page: Any, cell_id: str, timeout: float = 60_000) -> None:
    """Run one cell (selected by id) and wait until it has run and the kernel is idle."""
    page.evaluate(
        """async (id) => {
             const panel = window.jupyterapp.shell.currentWidget;
             const index = panel.content.widgets.findIndex((cell) => cell.model.id === id);
             panel.content.activeCellIndex = index;
             panel.content.widgets[index].model.executionCount = null;
             await window.jupyterapp.commands.execute('notebook:run-cell');
           }""", cell_id)
    page.wait_for_function(
        """(id) => {
             const panel = window.jupyterapp.shell.currentWidget;
             const cell = panel.content.widgets.find((c) => c.model.id === id);
             return cell.model.executionCount !== null
                    && panel.sessionContext.session.kernel.status === "idle";
           }""", arg=cell_id, timeout=timeout)


def wait_idle(page: Any, timeout: float, all_run: bool = False) -> None:
    page.wait_for_function(
        """(allRun) => {
             const widget = window.jupyterapp.shell.currentWidget;
             const code = widget.content.widgets.filter((c) => c.model.type === "code");
             return (!allRun || code.every((c) => c.model.executionCount !== null))
                    && widget.sessionContext.session.kernel.status === "idle";
           }""", arg=all_run, timeout=timeout)


def cell(page: Any, cell_id: str) -> Any:
    """The notebook cell with this id (the frontend keeps it in the cell model)."""
    index = page.evaluate(
        """(id) => window.jupyterapp.shell.currentWidget.content.widgets
                   .findIndex((cell) => cell.model.id === id)""", cell_id)
    assert index >= 0, cell_id
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


@contextlib.contextmanager
def notebook_session(frontend: str, base: Path, demo_store: Path, name: str, cells: Any, *,
                     setup: Any = None) -> Iterator[tuple[Any, str]]:
    """``cells`` — (id, source) pairs, or a function of the frontend's URL giving them —
    written as notebook ``name`` under ``base``, served by ``frontend`` over an isolated home
    with the demo store, and open in Chromium: (page, the frontend's URL).

    ``setup(page, url)`` runs before the notebook opens (permissions, init scripts). The
    browser's errors, less the frontend's own known ones, fail the test on the way out.
    """
    import nbformat

    from tests.notebooks.support import install_demo_store

    require_chromium()
    root = base / "notebooks"
    root.mkdir()
    home = base / "home"
    install_demo_store(demo_store, home)
    with serve_frontend(frontend, root, home) as url:
        nb = nbformat.v4.new_notebook(metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        listed = cells(url) if callable(cells) else cells
        nb.cells = [nbformat.v4.new_code_cell(source, id=cell_id) for cell_id, source in listed]
        nbformat.write(nb, root / name)
        with browser_page() as page:
            if setup is not None:
                setup(page, url)
            open_notebook(page, url, frontend, name)
            yield page, url
            problems = problems_of(page, frontend)
        assert not problems, "\n".join(problems)
