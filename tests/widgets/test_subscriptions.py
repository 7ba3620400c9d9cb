"""SubscriptionManager: validation replies, add/remove handed to the kernel loop, refresh."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from realm_jupyter.widgets import SubscriptionManager
from tests.support.waiting import eventually


class SubscriptionSource:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = [
            {
                "id": "s1",
                "name": "open",
                "object_type": "Task",
                "query": "status == 'open'",
                "state": "complete",
                "rows": 1234,
                "created_at": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
            },
        ]
        self.info: dict[str, Any] = {"version": 2, "state": "complete", "error": ""}
        self.listeners: list[Callable[[], None]] = []
        self.ran_on: list[tuple[str, int]] = []  # (operation, thread id)
        self.done = asyncio.Event()

    def object_types(self) -> list[str]:
        return ["Task", "User"]

    def subscription_rows(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.rows]

    def subscription_set_info(self) -> dict[str, Any]:
        return dict(self.info)

    def validate(self, object_type: str, query: str) -> dict[str, Any] | None:
        if "priorty" in query:
            return {"message": "unknown field 'priorty'", "position": query.index("priorty")}
        if query.endswith("=="):
            return {"message": "expected a value", "position": None}
        return None

    async def add(self, object_type: str, query: str, name: str | None) -> None:
        self.ran_on.append(("add", threading.get_ident()))
        await asyncio.sleep(0)
        if query == "boom":
            self.done.set()
            raise ValueError("the server refused the set")
        self.rows.append(
            {
                "id": f"s{len(self.rows) + 1}",
                "name": name,
                "object_type": object_type,
                "query": query,
                "state": "pending",
                "rows": 0,
                "created_at": "",
            }
        )
        self.info = {"version": self.info["version"] + 1, "state": "pending", "error": ""}
        self._notify()
        self.done.set()

    async def remove(self, subscription_id: str) -> None:
        self.ran_on.append(("remove", threading.get_ident()))
        self.rows = [row for row in self.rows if row["id"] != subscription_id]
        self._notify()
        self.done.set()

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()


class Manager(SubscriptionManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def send(self, content: dict[str, Any], buffers: list[Any] | None = None) -> None:
        self.sent.append(content)


def from_thread(fn: Callable[[], None]) -> None:
    thread = threading.Thread(target=fn, name="subshell-test")
    thread.start()
    thread.join()


def replied(widget: Manager) -> bool:
    """The widget has answered the request (its reply goes out after the source's work)."""
    return bool(widget.sent) and widget.sent[-1]["kind"] == "result"


async def test_traits_mirror_the_source() -> None:
    widget = Manager(SubscriptionSource())
    assert widget.object_types == ["Task", "User"]
    assert widget.subscriptions == [
        {
            "id": "s1",
            "name": "open",
            "object_type": "Task",
            "query": "status == 'open'",
            "state": "complete",
            "rows": 1234,
            "created_at": "2026-11-29T12:00:00+00:00",
        }
    ]
    assert (widget.set_version, widget.set_state, widget.set_error) == (2, "complete", "")
    assert repr(widget) == (
        "SubscriptionManager(1 subscription, set version 2 complete)\n"
        "  open: Task \"status == 'open'\" [complete] 1,234 rows"
    )
    widget.close()


async def test_validation_replies_echo_the_request() -> None:
    widget = Manager(SubscriptionSource())

    def ask(request_id: str, object_type: str, query: str) -> dict[str, Any]:
        from_thread(
            lambda: widget._handle_custom_msg(
                {
                    "kind": "validate",
                    "request_id": request_id,
                    "object_type": object_type,
                    "query": query,
                },
                [],
            )
        )
        return widget.sent[-1]

    assert ask("v:1", "Task", "priority > 2") == {
        "kind": "validation",
        "request_id": "v:1",
        "ok": True,
        "message": "",
        "position": None,
    }
    assert ask("v:2", "Task", "a == 1 AND priorty > 2") == {
        "kind": "validation",
        "request_id": "v:2",
        "ok": False,
        "message": "unknown field 'priorty'",
        "position": 11,
    }
    assert ask("v:3", "Task", "a ==") == {
        "kind": "validation",
        "request_id": "v:3",
        "ok": False,
        "message": "expected a value",
        "position": None,
    }
    reply = ask("v:4", "Nope", "a == 1")
    assert reply["ok"] is False and "unknown object type" in reply["message"]
    widget.close()


async def test_add_from_another_thread_runs_on_the_loop_thread() -> None:
    source = SubscriptionSource()
    widget = Manager(source)
    from_thread(
        lambda: widget._handle_custom_msg(
            {
                "kind": "add",
                "request_id": "a:1",
                "object_type": "Task",
                "query": "priority > 2",
                "name": "  high  ",
            },
            [],
        )
    )
    await asyncio.wait_for(source.done.wait(), 5)
    assert source.ran_on == [("add", threading.get_ident())]  # the test's loop runs here
    await eventually(lambda: replied(widget), 5, "the widget's reply")
    assert widget.sent[-1] == {
        "kind": "result",
        "request_id": "a:1",
        "op": "add",
        "ok": True,
        "message": "",
    }
    assert widget.subscriptions[-1]["name"] == "high"
    assert widget.subscriptions[-1]["state"] == "pending"
    assert widget.set_version == 3
    assert widget.error == ""
    widget.close()


async def test_add_failure_goes_to_error() -> None:
    source = SubscriptionSource()
    widget = Manager(source)
    from_thread(
        lambda: widget._handle_custom_msg(
            {
                "kind": "add",
                "request_id": "a:2",
                "object_type": "Task",
                "query": "boom",
                "name": "",
            },
            [],
        )
    )
    await asyncio.wait_for(source.done.wait(), 5)
    await eventually(lambda: replied(widget), 5, "the widget's reply")
    assert widget.error == "the server refused the set"
    assert widget.sent[-1] == {
        "kind": "result",
        "request_id": "a:2",
        "op": "add",
        "ok": False,
        "message": "the server refused the set",
    }
    widget._handle_custom_msg({"kind": "add", "request_id": "a:3", "object_type": 3}, [])
    assert widget.sent[-1]["ok"] is False and widget.error == "object_type and query must be text"
    widget.close()


async def test_remove_from_another_thread_runs_on_the_loop_thread() -> None:
    source = SubscriptionSource()
    widget = Manager(source)
    from_thread(lambda: widget._handle_custom_msg({"kind": "remove", "request_id": "r:1", "id": "s1"}, []))
    await asyncio.wait_for(source.done.wait(), 5)
    assert source.ran_on == [("remove", threading.get_ident())]
    await eventually(lambda: replied(widget), 5, "the widget's reply")
    assert widget.subscriptions == []
    assert widget.sent[-1]["kind"] == "result" and widget.sent[-1]["ok"] is True
    widget.close()


async def test_listener_refreshes_traits() -> None:
    source = SubscriptionSource()
    widget = Manager(source)
    source.rows[0]["rows"] = 99
    source.rows[0]["state"] = "error"
    source.info = {"version": 5, "state": "error", "error": "field 'x' is not queryable"}
    source._notify()
    assert widget.subscriptions[0]["rows"] == 99
    assert widget.set_error == "field 'x' is not queryable"
    assert "error: field 'x' is not queryable" in repr(widget)
    widget.close()
    assert source.listeners == []
