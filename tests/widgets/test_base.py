"""The shared plumbing: the loop hand-off, bundles, trait help strings and the JS version."""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import threading
from typing import Any

import pytest

from realm_jupyter import _version
from realm_jupyter.widgets import DataExplorer, SubscriptionManager, SyncStatus
from realm_jupyter.widgets._base import STATIC, LoopHandoff, bundle, default_loop

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_js_version_matches_python() -> None:
    package = json.loads((ROOT / "js" / "package.json").read_text())
    assert package["version"] == _version.__version__


@pytest.mark.parametrize("widget", [SyncStatus, SubscriptionManager, DataExplorer])
def test_every_synced_trait_has_help(widget: type) -> None:
    own = {
        name: trait
        for name, trait in widget.class_traits(sync=True).items()
        if not name.startswith("_") and name not in {"layout", "tabbable", "tooltip"}
    }
    assert own, widget
    missing = [name for name, trait in own.items() if not trait.help]
    assert missing == []


@pytest.mark.parametrize("name", ["status.js", "subscriptions.js", "explorer.js"])
def test_bundles_are_used_when_built(name: str) -> None:
    found = bundle(name)
    if (STATIC / name).is_file():
        assert found == STATIC / name
    else:  # a source checkout before `npm run build`
        assert isinstance(found, str) and "npm run build" in found


def test_missing_bundle_renders_a_hint() -> None:
    found = bundle("nope.js")
    assert isinstance(found, str)
    assert "export default" in found and "nope widget bundle is not built" in found


async def test_default_loop_is_the_running_loop() -> None:
    assert default_loop(None) is asyncio.get_running_loop()
    other = asyncio.new_event_loop()
    try:
        assert default_loop(other) is other
    finally:
        other.close()


async def test_call_on_the_loop_thread_runs_now_and_elsewhere_runs_on_the_loop() -> None:
    handoff = LoopHandoff(asyncio.get_running_loop())
    assert handoff.on_loop_thread()
    ran: list[int] = []
    handoff.call("now", lambda: ran.append(threading.get_ident()))
    assert ran == [threading.get_ident()]

    errors: list[BaseException | None] = []
    thread = threading.Thread(
        target=lambda: handoff.call("later", lambda: ran.append(threading.get_ident()), errors.append)
    )
    thread.start()
    thread.join()
    assert not handoff.on_loop_thread() or len(ran) == 1  # not yet: queued for the loop
    await _loop_turns(lambda: len(ran) == 2)
    assert ran == [threading.get_ident()] * 2
    assert errors == [None]


async def test_submit_runs_a_named_task_and_reports_errors() -> None:
    handoff = LoopHandoff(asyncio.get_running_loop())
    outcome: list[BaseException | None] = []
    names: list[str] = []

    async def work() -> None:
        task = asyncio.current_task()
        assert task is not None
        names.append(task.get_name())
        raise KeyError("nope")

    thread = threading.Thread(target=lambda: handoff.submit("widget:add", work, outcome.append))
    thread.start()
    thread.join()
    await _loop_turns(lambda: bool(outcome))
    assert names == ["widget:add"]
    assert len(outcome) == 1 and isinstance(outcome[0], KeyError)


def test_a_closed_loop_reports_instead_of_raising() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    handoff = LoopHandoff(loop)
    outcome: list[BaseException | None] = []
    created: list[bool] = []

    async def work() -> None:
        created.append(True)

    handoff.submit("late", work, outcome.append)
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError)
    assert created == []  # the coroutine was never even created, so nothing leaks a warning


def test_no_loop_at_all_is_a_clear_error() -> None:
    outcome: list[BaseException] = []

    def build() -> None:
        try:
            default_loop(None)
        except RuntimeError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=build)  # a fresh thread has no event loop
    thread.start()
    thread.join()
    assert len(outcome) == 1 and "pass loop=" in str(outcome[0])


MIRRORS = [
    (SyncStatus, "status.ts", "StatusModel"),
    (SubscriptionManager, "subscriptions.ts", "SubscriptionsModel"),
    (DataExplorer, "explorer.ts", "ExplorerModel"),
]


@pytest.mark.parametrize(("widget", "module", "interface"), MIRRORS)
def test_typescript_interface_mirrors_the_traits(widget: type, module: str, interface: str) -> None:
    """Each js/src/<module>.ts declares an interface with exactly the widget's own synced traits."""
    source = (ROOT / "js" / "src" / module).read_text()
    match = re.search(rf"export interface {interface} \{{(.*?)\n\}}", source, re.S)
    assert match, f"{interface} not found in {module}"
    declared = set(re.findall(r"^\s+(\w+)\??:", match.group(1), re.M))
    synced = {
        name
        for name in widget.class_trait_names(sync=True)
        if not name.startswith("_") and name not in {"layout", "tabbable", "tooltip"}
    }
    assert declared == synced


async def _loop_turns(condition: Any, turns: int = 1000) -> None:
    """Let the loop run queued callbacks until ``condition()`` (no timed sleeps)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
