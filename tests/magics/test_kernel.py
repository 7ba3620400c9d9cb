"""The magics in a real IPython kernel, as Jupyter runs them: help, errors, re-runs, waiting.

One kernel connected to the demo (as Alice) serves the module; a second, unconnected kernel
checks what happens before connecting. Cells are sent with jupyter_client and every iopub
message is kept, so the tests see exactly what a frontend would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.magics.kernel import Kernel, demo_kernel
from tests.notebooks import expected

pytestmark = pytest.mark.slow

ALICE = expected.USERS["Alice"]
OPEN_URGENT = "status == 'open' AND priority >= 3"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> Iterator[Kernel]:
    """A kernel with the extension loaded and connected to the demo as Alice."""
    with demo_kernel(tmp_path_factory.mktemp("magics-kernel"), demo_store) as kernel:
        yield kernel


@pytest.fixture(scope="module")
def bare_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """A kernel that never connects (no server is started for it)."""
    kernel = Kernel(tmp_path_factory.mktemp("bare-kernel"))
    try:
        yield kernel
    finally:
        kernel.shutdown()


def _usage_error(execution: object) -> list[str]:
    """The lines of a one-line UsageError: on stderr, no traceback, the cell failed."""
    from tests.magics.kernel import Execution

    assert isinstance(execution, Execution)
    assert not execution.ok and execution.reply["ename"] == "UsageError", execution.reply
    assert execution.errors == []  # no traceback message
    assert "Traceback" not in execution.stderr
    lines = execution.stderr.rstrip("\n").splitlines()
    assert lines[0].startswith("UsageError: ")
    return lines


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(("magic", "says"), [
    ("realm_connect", ["Log in to a sync server", "--demo", "--email", "REALM_PASSWORD"]),
    ("realm_subscribe", ["Subscribe to a query", "--no-wait", "--timeout", "--name"]),
    ("realm_unsubscribe", ["Remove subscriptions", "--all", "--type"]),
    ("realm_subscriptions", ["subscription manager", "--table"]),
    ("realm_query", ["full Realm Query Language", "--index"]),
    ("realm_sql", ["DuckDB SQL over the cache"]),
    ("realm_status", ["Connection, session"]),
    ("realm_pause", ["Pause sync"]),
    ("realm_resume", ["Resume sync"]),
    ("realm_explore", ["A live table over the cache"]),
    ("realm_write", ["Write locally", "compensating"]),
])
def test_every_magic_has_help(kernel: Kernel, magic: str, says: list[str]) -> None:
    execution = kernel.run(f"%{magic}?")
    assert execution.ok
    (page,) = [p for p in execution.reply["payload"] if p["source"] == "page"]
    text = re.sub(r"\x1b\[[0-9;]*m", "", page["data"]["text/plain"])
    for phrase in says:
        assert phrase in text, (magic, phrase, text)


# --------------------------------------------------------------------------- errors


def test_a_bad_query_is_one_line_with_a_caret(kernel: Kernel) -> None:
    message, query, caret, hint = _usage_error(
        kernel.run("%realm_subscribe Item \"status == 'open' AND summary == 'x'\""))
    assert message == "UsageError: 'summary' is not a queryable field of Item"
    assert query.strip() == "status == 'open' AND summary == 'x'"
    assert caret.index("^") == query.index("summary")
    assert hint.startswith("Hint: ")

    message, query, caret = _usage_error(kernel.run('%realm_query Item "priority >> 3"'))[:3]
    assert "priority >> 3" in query
    assert query[caret.index("^"):].startswith(">")


def test_short_errors_off_shows_the_traceback(kernel: Kernel) -> None:
    assert kernel.run("%config RealmMagics.short_errors = False").ok
    try:
        execution = kernel.run("%realm_subscribe Item \"summary == 'x'\"")
        assert not execution.ok
        (error,) = execution.errors
        assert error["ename"] == "NotQueryableError"
        assert len(error["traceback"]) > 1
        assert "'summary' is not a queryable field of Item" in error["evalue"]
    finally:
        assert kernel.run("%config RealmMagics.short_errors = True").ok
    _usage_error(kernel.run("%realm_subscribe Item \"summary == 'x'\""))


def test_sql_names_the_keyword_to_quote(kernel: Kernel) -> None:
    lines = _usage_error(kernel.run("%realm_sql SELECT count(*) FROM Order"))
    assert lines[-1] == 'Hint: Order is an SQL keyword: quote the table name, FROM "Order"'
    assert kernel.run('%realm_sql SELECT count(*) AS n FROM "Order"').ok


# --------------------------------------------------------------------------- re-running


def test_reconnecting_reuses_the_session(kernel: Kernel) -> None:
    probe = ("import asyncio, realm_jupyter; (id(realm_jupyter.current_realm()), "
             "sorted(t.get_name().split(':')[0] for t in asyncio.all_tasks() "
             "if t.get_name().startswith('realm-sync-')), "
             "_realm_magics.context.demo_server.pid)")
    before = kernel.value(probe)
    again = kernel.run("%realm_connect --demo")
    assert again.ok
    (line,) = again.displays
    assert line.startswith("Still connected to realm-jupyter-demo at http://127.0.0.1:")
    after = kernel.value(probe)
    assert after == before
    assert "['realm-sync-queries', 'realm-sync-stream', 'realm-sync-uploads']" in after


def test_rerunning_a_subscribe_cell_keeps_the_subscription_set(kernel: Kernel) -> None:
    cell = 'high = %realm_subscribe Item "priority == 5"\nlen(high)'
    first = kernel.run(cell)
    assert first.ok, first.stderr
    version = kernel.value("realm_jupyter.current_realm().subscriptions.version")
    count = kernel.value("len(realm_jupyter.current_realm().subscriptions)")
    second = kernel.run(cell)
    assert second.ok and second.result == first.result
    # nothing to wait for: the line says so at once, with the same set version
    last = second.of("display_data", "update_display_data")[-1]["content"]["data"]["text/plain"]
    assert last.endswith(f"(subscription set version {version})")
    assert kernel.value("realm_jupyter.current_realm().subscriptions.version") == version
    assert kernel.value("len(realm_jupyter.current_realm().subscriptions)") == count
    readable = expected.readable_items(ALICE)
    assert first.result == str(int((readable["priority"] == 5).sum()))


def test_assignment_from_a_magic(kernel: Kernel) -> None:
    execution = kernel.run(f'df = %realm_subscribe Item "{OPEN_URGENT}"  # a comment\n'
                           "type(df).__name__, df.shape")
    assert execution.ok, execution.stderr
    assert execution.result == f"('DataFrame', ({len(expected.open_urgent(ALICE))}, 9))"


def test_magic_arguments_are_not_expanded_by_ipython(kernel: Kernel) -> None:
    """``{…}`` is an RQL list (and JSON in %realm_write), not an IPython expansion, on both paths."""
    query = "status IN {'open', 'done'} AND priority >= 3"
    readable = expected.readable_items(ALICE)
    wanted = readable[readable["status"].isin(["open", "done"]) & (readable["priority"] >= 3)]
    assert kernel.run(f'both = %realm_subscribe Item "{query}"').ok
    assert kernel.value("len(both)") == str(len(wanted))
    # the registered line magic (what %time or get_ipython().run_line_magic reach)
    line = f'Item "{query}"'
    direct = kernel.value(f"len(get_ipython().run_line_magic('realm_query', {line!r}))")
    assert direct == str(len(wanted))


# --------------------------------------------------------------------------- waiting


def test_a_waiting_magic_inside_a_def_says_so_in_one_line(kernel: Kernel) -> None:
    defined = kernel.run('def load():\n    frame = %realm_subscribe Item "priority == 1"\n'
                         "    return frame")
    assert defined.ok
    (message,) = _usage_error(kernel.run("load()"))
    assert message == ("UsageError: %realm_subscribe waits for the server, so it must be the start "
                       "of a line at the top level of a cell (not inside a def, %time or a terminal "
                       "without an asyncio kernel)")
    (timed,) = [line for line in _usage_error(
        kernel.run('%time frame = %realm_subscribe Item "priority == 1"')) if "UsageError" in line]
    assert timed == message


def test_the_progress_line_updates_in_place(kernel: Kernel) -> None:
    north = expected.readable_orders(ALICE)
    execution = kernel.run("orders = %realm_subscribe Order \"region == 'north'\"")
    assert execution.ok, execution.stderr
    first, *updates = execution.of("display_data", "update_display_data")
    assert first["msg_type"] == "display_data"
    display_id = first["content"]["transient"]["display_id"]
    assert first["content"]["data"]["text/plain"] == "Order region == 'north': waiting for the server…"
    assert updates and all(u["msg_type"] == "update_display_data" for u in updates)
    assert {u["content"]["transient"]["display_id"] for u in updates} == {display_id}
    final = updates[-1]["content"]["data"]["text/plain"]
    assert re.fullmatch(rf"Order region == 'north': {len(north):,} rows in [\d.]+ s "
                        r"\(subscription set version \d+\)", final), final
    for update in updates[:-1]:  # live progress: rows so far of the bootstrap's total
        text = update["content"]["data"]["text/plain"]
        assert re.fullmatch(r"Order region == 'north': ([\d,]+ / [\d,]+ rows \(\d+%\), .+|"
                            r"waiting for the server…)", text), text
    # every update reached this cell: none went to the cell that started sync (%realm_connect)
    assert not [m for m in execution.others if m["msg_type"] == "update_display_data"]


def test_writes_take_keys_as_shown_in_frames(kernel: Kernel) -> None:
    mine = expected.readable_items(ALICE)
    mine = mine[mine["owner_id"] == ALICE.id].sort_values("_id")
    key = mine["_id"].iloc[0]
    assert kernel.run(f'%realm_subscribe Item "owner_id == \'{ALICE.id}\'"').ok
    execution = kernel.run(f"%realm_write update Item {key} '{{\"summary\": \"Renamed\"}}'")
    assert execution.ok, execution.stderr
    assert execution.displays[0].startswith("update Item applied locally; uploading")
    assert kernel.value(f"renamed = %realm_query Item \"_id == oid({key})\"\n"
                        "renamed['summary'].tolist()") == "['Renamed']"
    _usage_error(kernel.run(f"%realm_write add Item {key} priority=lots"))


# --------------------------------------------------------------------------- before connecting


def test_the_cell_that_loads_the_extension_cannot_wait(bare_kernel: Kernel) -> None:
    (message,) = _usage_error(bare_kernel.run("%load_ext realm_jupyter\n%realm_connect --demo"))
    assert message == ("UsageError: %realm_connect cannot wait in the cell that loads the extension "
                       "(IPython rewrites a whole cell before running it): put %load_ext "
                       "realm_jupyter in a cell of its own, above this one")


def test_not_connected_is_one_line_with_a_hint(bare_kernel: Kernel) -> None:
    assert bare_kernel.run("%load_ext realm_jupyter").ok
    message, hint = _usage_error(bare_kernel.run("%realm_status"))
    assert message == "UsageError: not connected to a sync server"
    assert hint.startswith("Hint: run %realm_connect --demo")
    (unknown,) = _usage_error(bare_kernel.run("%realm_frobnicate now"))
    assert unknown == "UsageError: %realm_frobnicate is not a realm magic (try %lsmagic)"
