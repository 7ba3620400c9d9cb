"""``SubscriptionManager``: list, add and remove subscriptions (TypeScript twin:
``js/src/subscriptions.ts``).

Messages from the browser, and the replies:

* ``{"kind": "validate", "request_id", "object_type", "query"}`` → ``{"kind": "validation",
  "request_id", "ok", "message", "position"}``, served at once on the calling thread.
* ``{"kind": "add", "request_id", "object_type", "query", "name"}`` and ``{"kind": "remove",
  "request_id", "id"}`` → handed to the kernel loop; when done, ``{"kind": "result",
  "request_id", "op", "ok", "message"}`` and the ``error`` trait (``""`` on success).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import anywidget
import traitlets

from ._base import LoopHandoff, bundle, default_loop, error_text, guarded
from .protocols import SubscriptionSource

__all__ = ["SubscriptionManager"]

MAX_QUERY_CHARS = 10_000


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """A subscription row as the browser gets it: JSON types only."""
    missing = [key for key in ("id", "object_type", "query", "state") if key not in row]
    if missing:
        raise traitlets.TraitError(f"subscription row lacks {', '.join(missing)}: {row!r}")
    created = row.get("created_at")
    if isinstance(created, datetime | date):
        created = created.isoformat()
    name = row.get("name")
    return {
        "id": str(row["id"]),
        "name": None if name is None or name == "" else str(name),
        "object_type": str(row["object_type"]),
        "query": str(row["query"]),
        "state": str(row["state"]),
        "rows": int(row.get("rows") or 0),
        "created_at": "" if created is None else str(created),
    }


class SubscriptionManager(anywidget.AnyWidget):
    """The subscriptions with their states and row counts, a form to add one (with a query box
    that validates as you type) and a remove button per row.

    ``source`` is anything with the
    :class:`~realm_jupyter.widgets.protocols.SubscriptionSource` methods; ``loop`` is the kernel
    loop that ``source.add``/``source.remove`` must run on.
    """

    _esm = bundle("subscriptions.js")

    object_types = traitlets.List(
        traitlets.Unicode(), help="Object types a subscription may name (the type picker)."
    ).tag(sync=True)
    subscriptions = traitlets.List(
        traitlets.Dict(),
        help="One dict per subscription: id, name (or None), object_type, query, state, rows "
        "and created_at (ISO-8601).",
    ).tag(sync=True)
    set_version = traitlets.Int(0, help="Version of the latest subscription set.").tag(sync=True)
    set_state = traitlets.Unicode(
        "", help="State of the latest subscription set (pending … complete, or error)."
    ).tag(sync=True)
    set_error = traitlets.Unicode(
        "", help="Why the server rejected the latest set; empty if it did not."
    ).tag(sync=True)
    error = traitlets.Unicode(
        "", help="Why the last add or remove from this widget failed; empty after a success."
    ).tag(sync=True)

    _remove_listener: Callable[[], None] | None = None

    def __init__(
        self,
        source: SubscriptionSource,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        self._source = source
        self._handoff = LoopHandoff(default_loop(loop))
        super().__init__(**self._read_source(), **kwargs)
        self._remove_listener = source.add_listener(self._on_change)
        self.on_msg(self._on_msg)

    # ------------------------------------------------------------------ validation

    @traitlets.validate("subscriptions")
    def _valid_subscriptions(self, proposal: dict[str, Any]) -> list[dict[str, Any]]:
        return [_row(row) for row in proposal["value"]]

    @traitlets.validate("set_version")
    def _valid_version(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 0:
            raise traitlets.TraitError(f"set_version cannot be negative: {value}")
        return value

    # ------------------------------------------------------------------ source → traits

    def _read_source(self) -> dict[str, Any]:
        info = self._source.subscription_set_info()
        return {
            "object_types": [str(t) for t in self._source.object_types()],
            "subscriptions": self._source.subscription_rows(),
            "set_version": info.get("version") or 0,
            "set_state": str(info.get("state") or ""),
            "set_error": str(info.get("error") or ""),
        }

    def refresh(self) -> None:
        """Read the source again (the listener does this on every change)."""
        state = self._read_source()
        with self.hold_sync():
            for key, value in state.items():
                setattr(self, key, value)

    def _on_change(self) -> None:
        """Subscription listener: runs on the kernel loop thread."""
        guarded("SubscriptionManager refresh", self.refresh)

    # ------------------------------------------------------------------ browser → source

    def _on_msg(self, _widget: object, content: object, _buffers: list[bytes]) -> None:
        """A custom message from the browser (possibly on a subshell thread)."""
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        if kind == "validate":
            self._validate(content)
        elif kind == "add":
            self._add(content)
        elif kind == "remove":
            self._remove(content)

    def _validate(self, content: dict[str, Any]) -> None:
        object_type, query = content.get("object_type"), content.get("query")
        problem: dict[str, Any] | None
        if not isinstance(object_type, str) or not isinstance(query, str):
            problem = {"message": "object_type and query must be text", "position": None}
        else:
            problem = self._check(object_type, query)
        self.send(
            {
                "kind": "validation",
                "request_id": content.get("request_id"),
                "ok": problem is None,
                "message": "" if problem is None else str(problem.get("message", "")),
                "position": None if problem is None else problem.get("position"),
            }
        )

    def _check(self, object_type: str, query: str) -> dict[str, Any] | None:
        if object_type not in self.object_types:
            return {"message": f"unknown object type {object_type!r}", "position": None}
        if len(query) > MAX_QUERY_CHARS:
            message = f"query longer than {MAX_QUERY_CHARS:,} characters"
            return {"message": message, "position": None}
        try:
            return self._source.validate(object_type, query)
        except Exception as exc:  # a source bug must still produce a reply
            return {"message": error_text(exc), "position": getattr(exc, "position", None)}

    def _add(self, content: dict[str, Any]) -> None:
        request_id = content.get("request_id")
        object_type, query = content.get("object_type"), content.get("query")
        name = content.get("name")
        if not isinstance(object_type, str) or not isinstance(query, str):
            self._send_result("add", request_id, "object_type and query must be text")
            return
        clean_name = (name.strip() or None) if isinstance(name, str) else None
        source = self._source
        self._handoff.submit(
            "SubscriptionManager.add",
            lambda: source.add(object_type, query, clean_name),
            lambda error: self._finish("add", request_id, error),
        )

    def _remove(self, content: dict[str, Any]) -> None:
        request_id, subscription_id = content.get("request_id"), content.get("id")
        if not isinstance(subscription_id, str) or not subscription_id:
            self._send_result("remove", request_id, "remove needs the subscription id")
            return
        source = self._source
        self._handoff.submit(
            "SubscriptionManager.remove",
            lambda: source.remove(subscription_id),
            lambda error: self._finish("remove", request_id, error),
        )

    def _finish(self, op: str, request_id: object, error: BaseException | None) -> None:
        """On the kernel loop thread, after ``source.add``/``remove`` returned or raised."""
        self.refresh()
        self._send_result(op, request_id, "" if error is None else error_text(error))

    def _send_result(self, op: str, request_id: object, message: str) -> None:
        self.error = message
        self.send(
            {
                "kind": "result",
                "request_id": request_id,
                "op": op,
                "ok": not message,
                "message": message,
            }
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop following the source and close the widget."""
        remove, self._remove_listener = self._remove_listener, None
        if remove is not None:
            remove()
        super().close()

    def __repr__(self) -> str:
        count = len(self.subscriptions)
        head = f"{count} subscription{'' if count == 1 else 's'}, set version {self.set_version}"
        if self.set_state:
            head += f" {self.set_state}"
        if self.set_error:
            head += f", error: {self.set_error}"
        lines = [f"SubscriptionManager({head})"]
        for row in self.subscriptions[:20]:
            label = row["name"] or "(unnamed)"
            lines.append(
                f"  {label}: {row['object_type']} {row['query']!r} [{row['state']}] {row['rows']:,} rows"
            )
        if count > 20:
            lines.append(f"  … {count - 20:,} more")
        return "\n".join(lines)
