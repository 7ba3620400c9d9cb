"""The notebooks run top to bottom in a fresh kernel, and show what the demo data says they must.

Each notebook runs once per module (module-scoped fixtures) in an isolated kernel: its own
cache and config directories, no ``REALM_DEMO_URL``, so ``%realm_connect --demo`` starts its own
demo server. Expected numbers come from the demo generator and the app's rules restated in
pandas (``expected.py``), never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from tests.notebooks import expected
from tests.notebooks.support import (
    NOTEBOOK_NAMES,
    NOTEBOOKS,
    execute_notebook,
    in_order,
    install_demo_store,
    mimetypes,
    progress_summary,
    result,
    series,
    table,
    texts,
)

pytestmark = pytest.mark.notebook

ALICE, BOB, CAROL = (expected.USERS[name] for name in ("Alice", "Bob", "Carol"))
WIDGET = "application/vnd.jupyter.widget-view+json"


def _execute(name: str, tmp_path_factory: pytest.TempPathFactory,
             demo_store: Path) -> nbformat.NotebookNode:
    home = tmp_path_factory.mktemp(name.split("-")[0] + "-home")
    install_demo_store(demo_store, home)
    return execute_notebook(NOTEBOOKS / name, home)


def _close(actual: str, wanted: float, places: int = 2) -> bool:
    return abs(float(actual) - wanted) <= 0.5 * 10 ** -places + 1e-9


def test_the_notebooks_are_clean() -> None:
    """Stored without outputs (they are executed here and on Binder), stable cell ids, valid."""
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NOTEBOOK_NAMES)
    for name in NOTEBOOK_NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
        ids = [c.id for c in nb.cells]
        assert len(ids) == len(set(ids)), name
        for c in nb.cells:
            if c.cell_type == "code":
                assert c.outputs == [] and c.execution_count is None, \
                    f"{name}: clear the outputs before committing (cell {c.id})"
        # the extension is loaded in a cell of its own: a cell's own realm magics cannot wait
        load = next(c for c in nb.cells if c.cell_type == "code" and "%load_ext" in c.source)
        assert load.source.strip() == "%load_ext realm_jupyter", name


# --------------------------------------------------------------------------- 01 quickstart


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> nbformat.NotebookNode:
    return _execute("01-quickstart.ipynb", tmp_path_factory, demo_store)


def test_quickstart_connects_as_alice_and_echoes_no_secret(quickstart: nbformat.NotebookNode) -> None:
    (line,) = texts(quickstart, "connect")
    assert re.match(r"Connected to realm-jupyter-demo at http://127\.0\.0\.1:\d+ as alice@example\.com "
                    rf"\(user {ALICE.id}\)", line), line
    everything = json.dumps(quickstart)
    for user in expected.DEMO_USERS:
        assert user.password not in everything
    assert "eyJ" not in everything  # no JSON Web Token (access or refresh) in any output
    assert "refresh_token" not in everything


def test_quickstart_status_is_a_live_widget(quickstart: nbformat.NotebookNode) -> None:
    assert WIDGET in mimetypes(quickstart, "status")
    assert re.search(r"\b(connecting|connected) \(active\)", result(quickstart, "status"))


def test_quickstart_subscription_returns_alices_open_urgent_items(
        quickstart: nbformat.NotebookNode) -> None:
    wanted = expected.open_urgent(ALICE).sort_values("_id")
    (done,) = progress_summary(quickstart, "subscribe-items")
    assert done == {"label": "Item status == 'open' AND priority >= 3", "rows": len(wanted),
                    "version": 1}
    assert in_order(result(quickstart, "subscribe-items"), list(wanted["_id"].head(5)))
    assert result(quickstart, "items-shape") == f"({len(wanted)}, 9)"
    assert series(result(quickstart, "items-by-team")) == {
        team: str(n) for team, n in wanted.groupby("team").size().items()}


def test_quickstart_shows_typed_columns(quickstart: nbformat.NotebookNode) -> None:
    dtypes = series(result(quickstart, "items-dtypes"))
    assert dtypes == {
        "_id": "str", "owner_id": "str", "summary": "str", "isComplete": "bool", "status": "str",
        "priority": "int64", "team": "str", "tags": "list<l: string>[pyarrow]",
        "created_at": "datetime64[us, UTC]"}


def test_quickstart_local_query_sorts_and_limits(quickstart: nbformat.NotebookNode) -> None:
    top = expected.open_urgent(ALICE).sort_values(["priority", "created_at"], ascending=False).head(5)
    text = result(quickstart, "query-top")
    assert in_order(text, list(top["_id"]))
    assert text.rstrip().splitlines()[-1].split()[0] == "4"  # five rows: 0…4


def test_quickstart_sql_aggregation(quickstart: nbformat.NotebookNode) -> None:
    wanted = expected.open_urgent(ALICE).groupby("team")["priority"].agg(["size", "mean"])
    wanted = wanted.reset_index().sort_values(["size", "team"], ascending=[False, True])
    rows = table(result(quickstart, "sql-by-team"))
    assert [row[:2] for row in rows] == [[t, str(n)] for t, n in zip(wanted["team"], wanted["size"],
                                                                       strict=True)]
    for row, mean in zip(rows, wanted["mean"], strict=True):
        assert _close(row[2], mean), (row, mean)


def test_quickstart_second_subscription_on_orders(quickstart: nbformat.NotebookNode) -> None:
    north = expected.readable_orders(ALICE)
    north = north[north["region"] == "north"].sort_values("_id")
    (done,) = progress_summary(quickstart, "subscribe-orders")
    assert done == {"label": "Order region == 'north'", "rows": len(north), "version": 2}
    head = result(quickstart, "subscribe-orders")
    assert in_order(head, list(north["_id"].head(5)))
    assert head.count("<NA>") == 5  # customer: hidden from members by a field-level rule

    listing = result(quickstart, "subscriptions")
    assert WIDGET in mimetypes(quickstart, "subscriptions")
    item_row = next(line for line in listing.splitlines() if " Item " in line)
    order_row = next(line for line in listing.splitlines() if "north-orders" in line)
    assert f" {len(expected.open_urgent(ALICE))} " in item_row and "complete" in item_row
    assert f" {len(north)} " in order_row and "complete" in order_row


def test_quickstart_explorer(quickstart: nbformat.NotebookNode) -> None:
    assert WIDGET in mimetypes(quickstart, "explore")
    assert "north" in result(quickstart, "explore")  # the plain-text fallback for nbclient


# --------------------------------------------------------------------------- 02 permissions


@pytest.fixture(scope="module")
def permissions(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> nbformat.NotebookNode:
    return _execute("02-subscriptions-and-permissions.ipynb", tmp_path_factory, demo_store)


def test_permissions_same_query_three_views(permissions: nbformat.NotebookNode) -> None:
    rows = {row[0]: row[1:] for row in
            (line.split() for line in result(permissions, "items-per-team").splitlines()[2:])}
    views = {user.name: expected.open_urgent(user).groupby("team").size() for user in
             (ALICE, BOB, CAROL)}
    for team in ("east", "north", "south", "west"):
        assert rows[team] == [str(int(views[name].get(team, 0))) for name in ("Alice", "Bob", "Carol")]
    assert rows["total"] == [str(len(expected.open_urgent(u))) for u in (ALICE, BOB, CAROL)]


def test_permissions_field_level_rule_hides_customers(permissions: nbformat.NotebookNode) -> None:
    north = expected.data()["Order"]
    north = north[north["region"] == "north"].sort_values("_id")
    counts = {line.rsplit(maxsplit=3)[0]: line.rsplit(maxsplit=3)[1:]
              for line in result(permissions, "subscribe-orders").splitlines()[1:]}
    assert counts == {"orders": [str(len(north)), "0", str(len(north))],
                      "with customer": ["0", "0", str(len(north))]}
    side = result(permissions, "customers-side-by-side")
    for _id, customer in zip(north["_id"].head(3), north["customer"].head(3), strict=True):
        line = next(line for line in side.splitlines() if line.startswith(_id))
        assert "<NA>" in line
        assert f"'name': '{customer['name']}'" in side


def _usage_error(nb: nbformat.NotebookNode, cell_id: str) -> list[str]:
    errors = texts(nb, cell_id, "stream", "error")
    assert len(errors) == 1, errors
    assert "Traceback" not in errors[0]
    return errors[0].rstrip("\n").splitlines()


def test_permissions_rejected_queries_are_one_line_with_a_caret(
        permissions: nbformat.NotebookNode) -> None:
    message, query, caret, hint = _usage_error(permissions, "reject-field")
    assert message == "UsageError: 'summary' is not a queryable field of Item"
    assert query.strip() == "summary CONTAINS[c] 'login'"
    assert caret.index("^") == query.index("summary")
    assert hint.startswith("Hint: add the field to queryable_fields_names")

    message, query, caret = _usage_error(permissions, "reject-sort")
    assert message == "UsageError: SORT is not allowed in subscriptions"
    assert caret.index("^") == query.index("SORT")

    listing = result(permissions, "subscriptions-after")  # the set did not change
    rows = listing.split("\n\n")[0].splitlines()[1:]
    assert [(row.split()[0], row.split()[2]) for row in rows] == [("0", "Item"), ("1", "Order")]
    assert "summary" not in listing and "SORT" not in listing


def test_permissions_local_query_takes_any_field(permissions: nbformat.NotebookNode) -> None:
    cached = expected.open_urgent(ALICE)
    login = cached[cached["summary"].str.contains("login", case=False)]
    text = result(permissions, "local-query")
    assert login["_id"].tolist() and all(_id in text for _id in login["_id"])
    assert text.rstrip().splitlines()[-1].split()[0] == str(len(login) - 1)


# --------------------------------------------------------------------------- 03 DuckDB


@pytest.fixture(scope="module")
def duckdb_notebook(tmp_path_factory: pytest.TempPathFactory,
                    demo_store: Path) -> nbformat.NotebookNode:
    return _execute("03-explore-with-duckdb.ipynb", tmp_path_factory, demo_store)


THIS_YEAR = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_duckdb_subscriptions(duckdb_notebook: nbformat.NotebookNode) -> None:
    items, orders = expected.readable_items(CAROL), expected.orders_since(THIS_YEAR)
    assert result(duckdb_notebook, "subscribe") == f"({len(items)}, {len(orders)})"
    assert "Connected to realm-jupyter-demo" in texts(duckdb_notebook, "connect")[0]
    assert "as carol@example.com" in texts(duckdb_notebook, "connect")[0]


def test_duckdb_join_and_aggregation(duckdb_notebook: nbformat.NotebookNode) -> None:
    orders = expected.orders_since(THIS_YEAR)
    items = expected.data()["Item"]
    wanted = []
    for region, group in orders.groupby("region"):
        team = items[(items["team"] == region) & (items["status"] == "open")]
        wanted.append([region, str(len(group)), expected.money(sum(group["amount"])),
                       str(len(team)), str(int((team["priority"] >= 4).sum()))])
    wanted.sort(key=lambda row: -float(row[2]))
    assert table(result(duckdb_notebook, "sql-join")) == wanted


def test_duckdb_struct_and_list_columns(duckdb_notebook: nbformat.NotebookNode) -> None:
    orders = expected.orders_since(THIS_YEAR)
    by_city: dict[tuple[str, str], list] = {}
    for customer, amount in zip(orders["customer"], orders["amount"], strict=True):
        entry = by_city.setdefault((customer["city"], customer["country"]), [0, 0])
        entry[0] += 1
        entry[1] += amount
    cities = sorted(by_city.items(), key=lambda kv: (-kv[1][1], kv[0][0]))[:5]
    wanted = [f"{city} {country} {n} {expected.money(revenue)}".split()
              for (city, country), (n, revenue) in cities]
    assert table(result(duckdb_notebook, "sql-struct")) == wanted

    skus = Counter(sku for listed in orders["skus"] for sku in listed)
    top = sorted(skus.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert table(result(duckdb_notebook, "sql-unnest")) == [[sku, str(n)] for sku, n in top]

    lengths = Counter(len(listed) for listed in orders["skus"])
    assert table(result(duckdb_notebook, "sql-list-length")) == [
        [str(k), str(lengths[k])] for k in sorted(lengths)]


def test_duckdb_pandas_summary(duckdb_notebook: nbformat.NotebookNode) -> None:
    orders = expected.orders_since(THIS_YEAR).assign(
        amount=lambda frame: frame["amount"].astype("float64"))
    wanted = orders.groupby("channel").agg(orders=("amount", "size"), revenue=("amount", "sum"),
                                           average=("amount", "mean"), gifts=("is_gift", "sum"))
    header, _, *lines = result(duckdb_notebook, "pandas-summary").splitlines()
    assert header.split() == ["orders", "revenue", "average", "gifts"]
    rows = [line.split() for line in lines]  # under the "channel" index name line
    assert [row[0] for row in rows] == wanted.sort_values("revenue", ascending=False).index.tolist()
    for channel, orders_n, revenue, average, gifts in rows:
        want = wanted.loc[channel]
        assert int(orders_n) == want["orders"] and int(gifts) == want["gifts"]
        assert _close(revenue, want["revenue"]) and _close(average, want["average"])

    crosstab = result(duckdb_notebook, "pandas-crosstab").splitlines()
    assert crosstab[-1].split() == ["All", *(str(n) for n in orders.groupby("status").size()),
                                    str(len(orders))]


def test_duckdb_changes_log(duckdb_notebook: nbformat.NotebookNode) -> None:
    items, orders = expected.readable_items(CAROL), expected.orders_since(THIS_YEAR)
    lines = [line.split() for line in result(duckdb_notebook, "changes-summary").splitlines()]
    assert ["Item", "bootstrap", str(len(items))] in lines
    assert ["Order", "bootstrap", str(len(orders))] in lines
    assert "bootstrap" in result(duckdb_notebook, "changes")


# --------------------------------------------------------------------------- 04 writes


@pytest.fixture(scope="module")
def writes(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> nbformat.NotebookNode:
    return _execute("04-writes-and-conflicts.ipynb", tmp_path_factory, demo_store)


def _rows(nb: nbformat.NotebookNode, cell_id: str) -> dict[str, str]:
    """compare()'s table: {user: the rest of the line}."""
    lines = result(nb, cell_id).splitlines()
    assert lines[0].split() == ["status", "isComplete", "summary", "priority"]
    return {line.split(maxsplit=1)[0]: " ".join(line.split()[1:]) for line in lines[1:]}


def test_writes_offline_edits_differ(writes: nbformat.NotebookNode) -> None:
    assert _rows(writes, "carol-subscribes") == {
        "Alice": "open False Prepare the Q3 report 1", "Carol": "open False Prepare the Q3 report 1"}
    assert result(writes, "pause") == "('disconnected', 'disconnected')"
    assert _rows(writes, "carol-edits") == {
        "Alice": "in_progress False Prepare the Q3 report (draft attached) 1",
        "Carol": "done True Prepare the Q3 report 1"}


def test_writes_converge_per_field_last_writer_wins(writes: nbformat.NotebookNode) -> None:
    converged = "done True Prepare the Q3 report (draft attached) 1"
    assert _rows(writes, "resume") == {"Alice": converged, "Carol": converged}


def test_writes_integer_additions_sum(writes: nbformat.NotebookNode) -> None:
    summed = "done True Prepare the Q3 report (draft attached) 4"  # 1 + 1 (Alice) + 2 (Carol)
    assert _rows(writes, "add-integer") == {"Alice": summed, "Carol": summed}


def test_writes_compensating_write(writes: nbformat.NotebookNode) -> None:
    items = expected.data()["Item"]
    bobs = items[items["summary"] == "Triage crash reports from v2.3"].iloc[0]
    assert bobs["owner_id"] == BOB.id and bobs["team"] == "north"
    stdout = "".join(texts(writes, "forbidden-write", "stream"))
    assert stdout.splitlines() == ["priority locally: 5", f"priority after sync: {bobs['priority']}"]
    (warning,) = texts(writes, "forbidden-write", "display_data")
    assert warning.startswith(f"⚠ write reverted by the server: Item {bobs['_id']}: ")
    assert "may not write" in warning
    rejected = result(writes, "rejected-writes")
    assert bobs["_id"] in rejected and "Item" in rejected and "may not write" in rejected
