"""Conflict resolution: Realm's merge rules for operations that crossed in flight.

Two operations are *concurrent* when neither side had seen the other: the
incoming operation was made on a client whose download cursor
(``last_server_version`` of its changeset) is older than the server version at
which the other was integrated, and they come from different clients. Between
concurrent operations, "later" means the larger ``(timestamp, client id)``.

The rules (reference §5.12):

* a field set: the later set wins; a default value (a field a create left out)
  loses to a real one; a set of an embedded object wins over concurrent edits
  inside it;
* a delete wins over every concurrent change to the object;
* integer adds all apply; an add folds into an earlier concurrent set and is
  discarded by a later one;
* list inserts at the same position are both kept, the earlier first; an erase
  of an element removes it once; an erase beats a concurrent set of the element;
  a clear beats concurrent changes inside the list;
* creates of the same primary key merge field by field.

Only concurrent operations are ordered by timestamp: a write made after its
client had seen another one is applied over it, whatever the two clocks say.
And a client's timestamp is never trusted beyond the server's own clock plus
``MAX_CLOCK_SKEW_MS`` (:func:`client_stamp`): a write stamped in the year 2200
would otherwise win every concurrent conflict on its field for two centuries.

Per object the store keeps a :class:`Clock`: per-field set stamps, recent adds
and list operations (to transform indices), set-element stamps, and the
delete tombstone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ..documents import plain_value
from ..operations import Operation

__all__ = ["MAX_CLOCK_SKEW_MS", "Clock", "Stamp", "client_stamp", "resolve"]

KEEP_LOG = 200
#: How far ahead of the server's clock a client's timestamp may be (milliseconds).
MAX_CLOCK_SKEW_MS = 60_000


@dataclass(frozen=True, order=True)
class Stamp:
    """When and by whom: orders concurrent operations (later wins)."""

    timestamp: int
    client: str


def client_stamp(timestamp: int, client: str, now_ms: int) -> Stamp:
    """The stamp of an uploaded changeset: its timestamp, clamped to ``now_ms`` plus the skew."""
    return Stamp(min(timestamp, now_ms + MAX_CLOCK_SKEW_MS), client)


@dataclass
class Clock:
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    adds: dict[str, list[list[Any]]] = field(default_factory=dict)
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    values: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    deleted: dict[str, Any] | None = None

    @classmethod
    def load(cls, text: str | None) -> Clock:
        if not text:
            return cls()
        data = orjson.loads(text)
        return cls(data.get("fields", {}), data.get("adds", {}), data.get("lists", {}),
                   data.get("values", {}), data.get("deleted"))

    def dump(self) -> str:
        return orjson.dumps({"fields": self.fields, "adds": self.adds, "lists": self.lists,
                             "values": self.values, "deleted": self.deleted}).decode()


def _stamp(raw: list[Any]) -> Stamp:
    return Stamp(int(raw[0]), str(raw[1]))


@dataclass(frozen=True)
class Context:
    """The incoming operation's origin."""

    stamp: Stamp
    seen: int  # the client's last integrated server version when it wrote
    version: int  # the server version this operation will get

    def concurrent(self, version: int, client: str) -> bool:
        return version > self.seen and client != self.stamp.client


def resolve(operation: Operation, clock: Clock, context: Context,
            current_value: Any = None) -> Operation | None:
    """The operation to apply after conflict resolution (transformed), or None to drop it.

    Updates ``clock`` for an operation that will be applied.
    """
    stamp = context.stamp
    stamp_json = [stamp.timestamp, stamp.client]
    tombstone = clock.deleted
    if operation.kind == "delete":
        clock.deleted = {"k": stamp_json, "v": context.version}
        return operation
    if tombstone is not None and context.concurrent(int(tombstone["v"]), _stamp(tombstone["k"]).client):
        return None  # delete wins
    if operation.kind == "create":
        clock.deleted = None
        return operation
    assert operation.field is not None
    name = operation.field
    outer = name.split(".")[0]
    if "." in name:
        parent = clock.fields.get(outer)
        if parent is not None and context.concurrent(int(parent["v"]), _stamp(parent["k"]).client):
            return None  # the embedded object was replaced concurrently: outer set wins
    if operation.kind == "set":
        return _set(operation, clock, context, stamp_json)
    if operation.kind == "add_integer":
        return _add(operation, clock, context, stamp_json)
    if operation.kind in ("set_add", "set_remove"):
        key = orjson.dumps(plain_value(operation.value)).decode()
        stamps = clock.values.setdefault(name, {})
        previous = stamps.get(key)
        # [timestamp, client, version]; entries written before versions were kept have two
        if previous is not None and _stamp(previous) > stamp and (
                len(previous) < 3 or context.concurrent(int(previous[2]), str(previous[1]))):
            return None
        stamps[key] = [*stamp_json, context.version]
        return operation
    return _list(operation, clock, context, stamp_json)


def _set(operation: Operation, clock: Clock, context: Context, stamp_json: list[Any],
         default: bool = False) -> Operation | None:
    name = operation.field
    assert name is not None
    previous = clock.fields.get(name)
    if (previous is not None and not previous.get("d", False) and not default
            and _stamp(previous["k"]) > context.stamp
            and context.concurrent(int(previous["v"]), _stamp(previous["k"]).client)):
        return None  # a concurrent, later set stands
    if previous is not None and default and not previous.get("d", False):
        return None  # a default never beats a real value
    clock.fields[name] = {"k": stamp_json, "v": context.version, "d": default}
    value = operation.value
    # Concurrent adds made after this set still apply on top of it.
    if isinstance(value, int) and not isinstance(value, bool):
        later_adds = [add for add in clock.adds.get(name, [])
                      if context.concurrent(int(add[3]), str(add[1]))
                      and Stamp(int(add[0]), str(add[1])) > context.stamp]
        if later_adds:
            value = value + sum(int(add[2]) for add in later_adds)
            return Operation("set", operation.object_type, operation.pk, name, value)
    if name in clock.lists:
        clock.lists[name].append({"v": context.version, "k": stamp_json, "op": "replace"})
    return operation


def _add(operation: Operation, clock: Clock, context: Context,
         stamp_json: list[Any]) -> Operation | None:
    name = operation.field
    assert name is not None
    previous = clock.fields.get(name)
    if previous is not None and not previous.get("d", False):
        concurrent = context.concurrent(int(previous["v"]), _stamp(previous["k"]).client)
        if concurrent and _stamp(previous["k"]) > context.stamp:
            return None  # a later set overrides the add
    log = clock.adds.setdefault(name, [])
    log.append([*stamp_json, operation.value, context.version])
    del log[:-KEEP_LOG]
    return operation


def _list(operation: Operation, clock: Clock, context: Context,
          stamp_json: list[Any]) -> Operation | None:
    name = operation.field
    assert name is not None
    log = clock.lists.setdefault(name, [])
    index = operation.index
    to = operation.to
    for entry in log:
        if not context.concurrent(int(entry["v"]), str(entry["k"][1])):
            continue
        kind = entry["op"]
        other = Stamp(int(entry["k"][0]), str(entry["k"][1]))
        if kind in ("list_clear", "replace"):
            if operation.kind != "list_clear":
                return None  # a clear (or replacing the list) beats changes inside it
            continue
        if index is None:
            continue
        i = int(entry["i"])
        if kind == "list_insert":
            if operation.kind == "list_insert":
                if i < index or (i == index and other < context.stamp):
                    index += 1
            elif i <= index:
                index += 1
            if to is not None and i <= to:
                to += 1
        elif kind == "list_erase":
            if i == index and operation.kind in ("list_erase", "list_set", "list_move"):
                return None  # erased once / erase beats set
            if i < index:
                index -= 1
            if to is not None and i < to:
                to -= 1
        elif kind == "list_set":
            if i == index and operation.kind == "list_set" and other > context.stamp:
                return None
        elif kind == "list_move":
            source, target = i, int(entry["to"])
            if operation.kind == "list_move" and source == index:
                if other > context.stamp:
                    return None
                index = target
                continue
            if source < index:
                index -= 1
            if target <= index:
                index += 1
    log.append({"v": context.version, "k": stamp_json, "op": operation.kind,
                "i": index, "to": to})
    del log[:-KEEP_LOG]
    return Operation(operation.kind, operation.object_type, operation.pk, name, operation.value,
                     index, to)


def default_fields(created: Operation, supplied: set[str]) -> list[str]:
    """Fields a create did not supply: their values are defaults that lose to real sets."""
    assert created.doc is not None
    return [name for name in created.doc if name not in supplied and name != "_id"]
