"""The data explorer as a person drives it, in JupyterLab and Notebook 7 (Debian's Chromium).

A notebook connects to the demo as Alice, subscribes to her Orders and opens
``%realm_explore Order``. The tests then type and click in the grid: keys never reach the
notebook (its cell count and active cell stay), the cursor moves as the keys say, Ctrl+C
puts exactly the selected cells on the clipboard, a dragged header edge resizes its
column, the column summaries are the counts pandas computes from the same demo data and a
click on one narrows the filter ("N of M rows", with the busy state shown meanwhile), an
export downloads the rows shown, and a fast scroll over every row asks only for the pages
where the view stops. Outgoing comm messages are counted by wrapping the page's WebSocket.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.frontends import FRONTENDS, cell, notebook_session, run_cell
from tests.notebooks import expected

pytestmark = pytest.mark.browser

ALICE = expected.USERS["Alice"]
NOTEBOOK = "explore.ipynb"
CELLS = [
    ("load", "%load_ext realm_jupyter"),
    ("connect", "%realm_connect --demo"),
    ("subscribe", "orders = %realm_subscribe Order"),
    ("explore", "explorer = %realm_explore Order\nexplorer"),
    ("small-pages", "explorer.page_size = 20"),
    ("large-pages", "explorer.page_size = 200"),
]
# Counts the explorer's page requests leaving the page and its page replies arriving (text or
# binary frames), and the most ever on their way at once.
COUNT_PAGES = """
(() => {
  const decoder = new TextDecoder();
  const pages = (data) => {
    let text = typeof data === "string" ? data : "";
    if (data instanceof ArrayBuffer) text = decoder.decode(new Uint8Array(data));
    else if (ArrayBuffer.isView(data)) text = decoder.decode(data);
    return (text.match(/"kind":\\s*"page"/g) || []).length;
  };
  const count = window.__pages = { sent: 0, received: 0, most: 0 };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    count.sent += pages(data);
    count.most = Math.max(count.most, count.sent - count.received);
    return send.call(this, data);
  };
  const property = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    configurable: true,
    get() { return property.get.call(this); },
    set(handler) {
      property.set.call(this, handler && ((event) => {
        count.received += pages(event.data);
        return handler.call(this, event);
      }));
    },
  });
})();
"""


@pytest.fixture(scope="module", params=FRONTENDS)
def frontend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def notebook(frontend: str, tmp_path_factory: pytest.TempPathFactory, demo_store: Path
             ) -> Iterator[tuple[Any, Any]]:
    """(page, the explorer's root element), the explorer cell run and drawn."""
    def setup(page: Any, url: str) -> None:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        page.add_init_script(COUNT_PAGES)

    base = tmp_path_factory.mktemp(f"explore-{frontend}")
    with notebook_session(frontend, base, demo_store, NOTEBOOK, CELLS, setup=setup) as (page, _):
        for cell_id, _source in CELLS[:4]:
            run_cell(page, cell_id, timeout=90_000)
        explorer = cell(page, "explore").locator(".rj-explorer")
        explorer.scroll_into_view_if_needed()
        _wait_painted(page, explorer)
        yield page, explorer


def _orders() -> Any:
    return expected.readable_orders(ALICE)


def _painted(explorer: Any) -> tuple[int, int, int]:
    revision, start, complete, _ = (int(x) for x in explorer.get_attribute("data-painted").split())
    return revision, start, complete


def _wait_painted(page: Any, explorer: Any, since: int | None = None) -> None:
    """Until every row on screen is drawn (for a revision after ``since``)."""
    page.wait_for_function(
        """([root, since]) => {
             const [rev, , complete] = (root.dataset.painted || "-1 0 0").split(" ").map(Number);
             return complete === 1 && (since === null || rev > since);
           }""", arg=[explorer.element_handle(), since], timeout=30_000)


def _notebook_state(page: Any) -> tuple[int, int]:
    return tuple(page.evaluate(  # type: ignore[return-value]
        """() => { const nb = window.jupyterapp.shell.currentWidget.content;
                   return [nb.widgets.length, nb.activeCellIndex]; }"""))


def _cursor(explorer: Any) -> str:
    return str(explorer.evaluate(
        "(root) => { const c = root.querySelector('.rj-cursor'); "
        "return c ? c.dataset.row + ':' + c.dataset.col : ''; }"))


def _wait_cursor(page: Any, explorer: Any, where: str) -> None:
    """Until the drawn cursor is at ``row:col`` (the grid redraws on the next frame)."""
    page.wait_for_function(
        """([root, where]) => { const c = root.querySelector('.rj-cursor');
                                return c !== null && c.dataset.row + ':' + c.dataset.col === where; }""",
        arg=[explorer.element_handle(), where], timeout=10_000)


def _cell_at(explorer: Any, row: int, col: int) -> Any:
    return explorer.locator(f".rj-rows [data-row='{row}'][data-col='{col}']")


def test_keys_stay_in_the_grid_and_move_its_cursor(notebook: tuple[Any, Any]) -> None:
    page, explorer = notebook
    columns = len(explorer.locator(".rj-header [role='columnheader']").all())
    total = len(_orders())
    _cell_at(explorer, 1, 1).click()
    _wait_cursor(page, explorer, "1:1")
    before = _notebook_state(page)
    for key in ("b", "a", "d", "d", "x", "m", "Shift+Enter"):  # notebook shortcuts, all
        page.keyboard.press(key)
    for key, where in (("ArrowDown", "2:1"), ("ArrowDown", "3:1"), ("ArrowRight", "3:2"),
                       ("End", f"3:{columns - 1}"), ("Home", "3:0"),
                       ("Control+End", f"{total - 1}:{columns - 1}"), ("Control+Home", "0:0")):
        page.keyboard.press(key)
        _wait_cursor(page, explorer, where)
    page.keyboard.press("PageDown")
    page.wait_for_function(
        """(root) => { const c = root.querySelector('.rj-cursor');
                       return c !== null && Number(c.dataset.row) > 5 && c.dataset.col === '0'; }""",
        arg=explorer.element_handle(), timeout=10_000)
    assert _notebook_state(page) == before  # no cell added, cut, changed or run
    page.keyboard.press("Control+Home")
    _wait_cursor(page, explorer, "0:0")


def test_ctrl_c_copies_the_selected_cells_as_tsv(notebook: tuple[Any, Any]) -> None:
    page, explorer = notebook
    _cell_at(explorer, 0, 1).click()
    _cell_at(explorer, 2, 3).click(modifiers=["Shift"])
    page.keyboard.press("Control+c")
    shown = [[_cell_at(explorer, row, col).inner_text() for col in (1, 2, 3)] for row in (0, 1, 2)]
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == "\n".join("\t".join(row) for row in shown)
    assert explorer.locator("[role='status']").inner_text() == "Copied 3 rows."


def test_a_dragged_header_edge_resizes_its_column(notebook: tuple[Any, Any]) -> None:
    page, explorer = notebook
    header = explorer.get_by_role("columnheader", name="status")
    width = header.bounding_box()["width"]
    handle = header.locator(".rj-resize").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y, steps=4)
    page.mouse.up()
    assert abs(header.bounding_box()["width"] - (width + 60)) <= 2
    assert header.get_attribute("aria-sort") == "none"  # the drag did not sort


def test_summaries_are_the_counts_of_the_rows_and_a_click_filters(notebook: tuple[Any, Any]) -> None:
    page, explorer = notebook
    orders = _orders()
    revision = _painted(explorer)[0]
    page.wait_for_function("([root, rev]) => Number(root.dataset.summaries) >= rev",
                           arg=[explorer.element_handle(), revision], timeout=30_000)
    status = explorer.locator(".rj-summary[data-column='status']")
    shown = {item.locator(".rj-top-text").inner_text():
             int(item.locator(".rj-top-count").inner_text().replace(",", ""))
             for item in status.locator(".rj-top-value").all()}
    counts = orders["status"].value_counts()
    assert shown == {value: int(counts[value]) for value in shown}
    assert len(shown) == min(3, len(counts))
    histogram = explorer.locator(".rj-summary[data-column='quantity'] .rj-bar")
    assert histogram.count() > 1
    # a click on the most frequent status narrows the view to it
    top = max(shown, key=lambda value: shown[value])
    page.evaluate("""(root) => { window.__busySeen = false;
        new MutationObserver(() => { if (root.classList.contains('rj-busy')) window.__busySeen = true; })
          .observe(root, {attributes: true, attributeFilter: ['class']}); }""",
                  explorer.element_handle())
    status.locator(".rj-top-value").filter(has_text=top).click()
    wanted = f"{shown[top]:,} of {len(orders):,} rows"
    page.wait_for_function("([root, text]) => root.querySelector('.rj-count').textContent === text",
                           arg=[explorer.element_handle(), wanted], timeout=30_000)
    assert explorer.get_by_label("filter").input_value() == f"status == '{top}'"
    assert page.evaluate("() => window.__busySeen") is True
    _wait_painted(page, explorer, revision)
    shown_status = {_cell_at(explorer, row, _column(explorer, "status")).inner_text()
                    for row in range(min(5, shown[top]))}
    assert shown_status == {top}


def _column(explorer: Any, name: str) -> int:
    names = [h.locator(".rj-header-name").inner_text()
             for h in explorer.locator(".rj-header [role='columnheader']").all()]
    return names.index(name)


def test_the_csv_export_holds_the_rows_shown(notebook: tuple[Any, Any]) -> None:
    page, explorer = notebook
    box = explorer.get_by_label("filter")
    box.fill("quantity >= 3")
    revision = _painted(explorer)[0]
    box.press("Enter")
    _wait_painted(page, explorer, revision)
    with page.expect_download() as info:
        explorer.get_by_role("button", name="CSV").click()
    download = info.value
    assert download.suggested_filename == "Order.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    orders = _orders()
    wanted = orders[orders["quantity"] >= 3]
    assert sorted(r["_id"] for r in rows) == sorted(wanted["_id"].astype(str))
    box.fill("")
    revision = _painted(explorer)[0]
    box.press("Enter")
    _wait_painted(page, explorer, revision)


def test_a_fast_scroll_keeps_at_most_two_page_requests_on_their_way(
        notebook: tuple[Any, Any]) -> None:
    page, explorer = notebook
    run_cell(page, "small-pages")  # 20-row pages: every frame of the drag needs new ones
    scroller = explorer.locator(".rj-scroller")
    total = len(_orders())
    assert total // 20 >= 60, "the demo needs enough rows for this test"
    page.evaluate("() => { window.__pages.sent = window.__pages.received = 0;"
                  " window.__pages.most = 0; }")
    # one position per animation frame, top to bottom: a fast drag of the scrollbar
    page.evaluate("""async (el) => {
        const end = el.scrollHeight - el.clientHeight;
        for (let i = 1; i <= 40; i++) {
          el.scrollTop = end * i / 40;
          await new Promise((resolve) => requestAnimationFrame(resolve));
        }
      }""", scroller.element_handle())
    page.wait_for_function(
        """(root) => { const el = root.querySelector('.rj-scroller');
                       const [, , complete, top] = root.dataset.painted.split(' ').map(Number);
                       return complete === 1 && top === Math.round(el.scrollTop); }""",
        arg=explorer.element_handle(), timeout=30_000)
    counted = page.evaluate("() => window.__pages")
    assert counted["sent"] >= 1 and counted["most"] <= 2, counted
    assert counted["sent"] < total // 20, counted  # the passed pages were not all fetched
    last = _cell_at(explorer, total - 1, 0)
    assert last.inner_text() == str(_orders().sort_values("_id")["_id"].iloc[-1])
    run_cell(page, "large-pages")
