"""B8 the data explorer on the synced Orders, driven in Debian's Chromium as a person would.

JupyterLab runs a notebook that connects to the benchmark's server as Carol, subscribes
to every Order and opens ``%realm_explore Order``. Playwright then clicks, scrolls and
types; every figure is measured inside the page, from the input event to the moment the
explorer's ``data-painted`` attribute says that the rows now on screen are all drawn
(``data-summaries`` for the column summaries), polled on each animation frame:

* first paint — the explore cell runs → its first screen of rows is drawn;
* scroll-to-paint — the scrollbar jumps to a random row → that screen is drawn (p50);
* sort — a click on the ``amount`` header → the re-sorted screen is drawn;
* filter — ``status CONTAINS[c] 'DELIV'`` typed, Enter → the filtered screen is drawn;
* summaries — the same filter → the column summaries of the filtered rows are drawn.

The targets are absolute (BRIEF §5). For scale, the kernel also times one page read
through the explorer's own source (DuckDB, no browser, no comm).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .processes import REPO_ROOT, BenchError, ServerProcess
from .results import Result, Section
from .stats import Series, percentile

__all__ = ["B8Outcome", "b8_results", "b8_section", "run_b8"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
FILTER = "status CONTAINS[c] 'DELIV'"
SCROLLS = 30
TARGETS = {"first paint": 500.0, "scroll-to-paint p50": 100.0, "sort": 300.0,
           "filter ([c])": 300.0, "summaries": 500.0}

# A condition on the explorer root, true once the screen is fully drawn; it records the time.
_PAINTED = """([root, since]) => {
  const [rev, , complete] = (root.dataset.painted || "-1 0 0").split(" ").map(Number);
  if (complete !== 1 || rev === since) return false;
  window.__b8_done = performance.now();
  return true;
}"""


@dataclass
class B8Outcome:
    backend: str = ""
    rows: int = 0
    first_paint: Series = field(default_factory=lambda: Series("ms"))
    scroll: Series = field(default_factory=lambda: Series("ms"))
    scroll_samples: list[float] = field(default_factory=list)
    sort: Series = field(default_factory=lambda: Series("ms"))
    filter: Series = field(default_factory=lambda: Series("ms"))
    summaries: Series = field(default_factory=lambda: Series("ms"))
    page_read: Series = field(default_factory=lambda: Series("ms"))


def _notebook(url: str, cache: Path) -> dict[str, Any]:
    def cell(source: str, cell_id: str) -> dict[str, Any]:
        return {"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": None,
                "outputs": [], "source": source}

    timing = (
        "import time, statistics\n"
        "from realm_jupyter import current_realm\n"
        "from realm_jupyter.widgets.sources import RealmExplorerSource\n"
        "source = RealmExplorerSource(current_realm())\n"
        "reads = []\n"
        "for offset in range(0, 400_000, 20_000):\n"
        "    started = time.perf_counter()\n"
        "    source.page('Order', '', [], offset, 200)\n"
        "    reads.append((time.perf_counter() - started) * 1000)\n"
        "print('B8-PAGE-READ', statistics.median(reads))")
    cells = [
        cell("%load_ext realm_jupyter", "load"),
        cell(f"%realm_connect {url} --app realm-jupyter-demo --email carol@example.com "
             f"--cache {cache}", "connect"),
        cell("orders = %realm_subscribe Order \"TRUEPREDICATE\" --timeout 900\n"
             "print('B8-ROWS', len(orders))", "subscribe"),
        cell(timing, "page-read"),
        cell("%realm_explore Order", "explore"),
    ]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _lab_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def run_b8(*, backend: str, server: ServerProcess, workdir: Path, runs: int,
                 timeout: float) -> B8Outcome:
    """Measure the explorer in JupyterLab over every Order the server holds."""
    outcome = await asyncio.to_thread(_run, server.url, workdir / "b8", runs, timeout)
    outcome.backend = backend
    return outcome


def _run(url: str, root: Path, runs: int, timeout: float) -> B8Outcome:
    from playwright.sync_api import sync_playwright

    from realm_jupyter.server.runner import free_port

    if not CHROMIUM.exists():
        raise BenchError("Debian's chromium is needed (apt-get install chromium)")
    shutil.rmtree(root, ignore_errors=True)
    (root / "notebooks").mkdir(parents=True)
    home = root / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                      ("XDG_CONFIG_HOME", "xdg-config"), ("XDG_CACHE_HOME", "xdg-cache")):
        (home / sub).mkdir(parents=True)
        env[name] = str(home / sub)
    env["REALM_PASSWORD"] = "carol-demo"  # the demo admin's password, never in a cell
    notebook = root / "notebooks" / "b8.ipynb"
    notebook.write_text(json.dumps(_notebook(url, root / "cache.duckdb")))
    port = free_port()
    lab_url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
            f"--ServerApp.root_dir={root / 'notebooks'}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    outcome = B8Outcome()
    with (root / "lab.log").open("wb") as log:
        lab = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        try:
            deadline = time.monotonic() + 90
            while not _lab_ready(lab_url):
                if lab.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("JupyterLab did not start (see its log in the work directory)")
                time.sleep(0.2)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                     args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    _drive(page, lab_url, runs, timeout, outcome)
                finally:
                    browser.close()
        finally:
            lab.terminate()
            try:
                lab.wait(20)
            except subprocess.TimeoutExpired:
                lab.kill()
    return outcome


def _run_cell(page: Any, index: int) -> None:
    page.evaluate("""(i) => { const nb = window.jupyterapp.shell.currentWidget;
                              nb.content.activeCellIndex = i;
                              return window.jupyterapp.commands.execute('notebook:run-cell'); }""",
                  index)


def _wait_idle(page: Any, index: int, timeout: float) -> None:
    page.wait_for_function(
        """(i) => { const nb = window.jupyterapp.shell.currentWidget;
                    const cell = nb.content.widgets[i];
                    return cell.model.executionCount !== null
                           && nb.sessionContext.session.kernel.status === 'idle'; }""",
        arg=index, timeout=timeout * 1000)


def _printed(page: Any, index: int, marker: str) -> str:
    """The word after ``marker`` in what cell ``index`` printed."""
    output = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output")
    for text in output.all_text_contents():
        for line in text.splitlines():
            if line.startswith(marker):
                return line.split()[1]
    raise BenchError(f"cell {index} printed no {marker} line")


def _elapsed(page: Any) -> float:
    return float(page.evaluate("window.__b8_done - window.__b8_start"))


def _mark(page: Any) -> None:
    page.evaluate("window.__b8_start = performance.now()")


def _painted(page: Any, explorer: Any, since: int | None, timeout: float = 60) -> None:
    page.wait_for_function(_PAINTED, arg=[explorer.element_handle(), since],
                           polling="raf", timeout=timeout * 1000)


def _revision(explorer: Any) -> int:
    return int(explorer.evaluate("(root) => Number((root.dataset.painted || '-1').split(' ')[0])"))


def _drive(page: Any, lab_url: str, runs: int, timeout: float, outcome: B8Outcome) -> None:
    page.goto(f"{lab_url}/lab/tree/b8.ipynb?reset")
    page.wait_for_function(
        """() => { const nb = window.jupyterapp?.shell?.currentWidget;
                   return nb?.content?.widgets?.length === 5
                          && nb.sessionContext?.session?.kernel?.status === 'idle'; }""",
        timeout=90_000)
    for index in range(4):
        _run_cell(page, index)
        _wait_idle(page, index, timeout)
    outcome.page_read.add(float(_printed(page, 3, "B8-PAGE-READ")))
    outcome.rows = int(_printed(page, 2, "B8-ROWS"))

    _mark(page)
    _run_cell(page, 4)
    explorer = page.locator(".rj-explorer").first
    explorer.wait_for(timeout=timeout * 1000)
    _painted(page, explorer, None)
    outcome.first_paint.add(_elapsed(page))

    scroller = explorer.locator(".rj-scroller")
    generator = random.Random(8)
    for _ in range(SCROLLS * runs):
        fraction = generator.random()
        page.evaluate("""([el, f]) => {
                           window.__b8_start = performance.now();
                           el.scrollTop = Math.round(f * (el.scrollHeight - el.clientHeight)); }""",
                      [scroller.element_handle(), fraction])
        page.wait_for_function(
            """(root) => { const el = root.querySelector('.rj-scroller');
                           const [, , complete, top] = (root.dataset.painted || "").split(" ")
                             .map(Number);
                           if (complete !== 1 || top !== Math.round(el.scrollTop)) return false;
                           window.__b8_done = performance.now();
                           return true; }""",
            arg=explorer.element_handle(), polling="raf", timeout=60_000)
        outcome.scroll_samples.append(_elapsed(page))
    outcome.scroll.add(percentile(outcome.scroll_samples, 0.5))
    page.evaluate("([el]) => { el.scrollTop = 0; }", [scroller.element_handle()])

    header = explorer.get_by_role("columnheader", name="amount")
    for _ in range(runs):
        for _click in range(2):  # ascending, then descending
            before = _revision(explorer)
            _mark(page)
            header.click()
            _painted(page, explorer, before)
            outcome.sort.add(_elapsed(page))

    box = explorer.get_by_label("filter")
    for _ in range(runs):
        for text_ in (FILTER, ""):
            before = _revision(explorer)
            box.fill(text_)
            _mark(page)
            box.press("Enter")
            _painted(page, explorer, before)
            if text_:
                outcome.filter.add(_elapsed(page))
                revision = _revision(explorer)
                page.wait_for_function(
                    """([root, rev]) => { if (Number(root.dataset.summaries) < rev) return false;
                                          window.__b8_done = performance.now(); return true; }""",
                    arg=[explorer.element_handle(), revision], polling="raf", timeout=60_000)
                outcome.summaries.add(_elapsed(page))


def b8_results(outcome: B8Outcome) -> list[Result]:
    read = outcome.page_read
    rows = [("first paint", outcome.first_paint), ("scroll-to-paint p50", outcome.scroll),
            ("sort", outcome.sort), ("filter ([c])", outcome.filter),
            ("summaries", outcome.summaries)]
    results = []
    for what, series in rows:
        ratio = Series("", [v / read.median for v in series.values]) if read.values else Series("")
        limit = TARGETS[what]
        results.append(Result("B8", outcome.backend, f"explorer on {outcome.rows:,} rows: {what}", series,
                              read, "one 200-row page read in the kernel", ratio,
                              f"≤ {limit:g} ms", absolute_limit=limit))
    return results


def b8_section(outcome: B8Outcome) -> Section:
    section = Section("B8: the data explorer in Chromium")
    section.add(f"JupyterLab, Debian's Chromium driven by Playwright, {outcome.rows:,} synced Orders "
                f"in the kernel's cache. Each figure runs from the input event to the frame on "
                f"which the explorer reports its screen fully drawn.")
    section.add("")
    samples = sorted(outcome.scroll_samples)
    if samples:
        section.add(f"Scroll-to-paint over {len(samples)} random jumps: p50 "
                    f"{percentile(samples, 0.5):.0f} ms, p90 {percentile(samples, 0.9):.0f} ms, "
                    f"max {samples[-1]:.0f} ms.")
    section.add("")
    return section
