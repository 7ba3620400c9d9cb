"""Integrating uploaded changesets: idempotent, permission-checked, conflict-resolved.

Every changeset of an upload is decoded and validated first (``_parse_changeset``:
counters, operation keys, and every value against its field's type and against
what every replica can hold); one bad value refuses the whole upload with a 400
naming the field, before anything is written. Then each changeset is one store
transaction that (1) claims its client version — a
changeset already integrated is skipped, so a re-sent upload is a no-op — (2)
resolves every operation against concurrent ones (``merge``), (3) checks the
session's permissions before and after (write filter, field rules, insert and
delete, the subscription view, the indexed queryable field) and (4) writes the
resulting documents and their history. An operation the user may not make is
not applied; neither are later operations on that object in the same changeset.
The server then records a *revert* entry in the history, which sends the
writer the object's real state (or its removal), and answers with a
compensating write (object type, primary key, reason) — also kept, so a re-sent
changeset gets the same answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ..documents import plain_value
from ..errors import SchemaError, WriteError
from ..operations import Operation, apply_operation
from ..query.evaluate import evaluate
from ..schema import ObjectSchema
from .http import ApiError
from .merge import Clock, Context, Stamp, client_stamp, resolve
from .storage import Change, WriteTransaction
from .storage.sql import now_ms
from .views import View

if TYPE_CHECKING:
    from .rules import SessionRules
    from .service import SyncService
    from .storage import ClientRecord, UserRecord

__all__ = ["integrate"]

logger = logging.getLogger(__name__)
MAX_CHANGESETS = 1000
#: Uploads with more operations than this are validated on a worker thread.
PARSE_INLINE_OPERATIONS = 500


@dataclass
class _Outcome:
    applied: bool = True
    compensations: list[dict[str, Any]] = field(default_factory=list)


def _describe_pk(pk: Any) -> str:
    from bson import ObjectId

    if isinstance(pk, ObjectId):
        return f'ObjectID("{pk}")'
    if isinstance(pk, str):
        return f'"{pk}"'
    if isinstance(pk, int):
        return str(pk)
    return f"UUID({pk})"


_CHANGESET_KEYS = frozenset({"client_version", "timestamp", "last_server_version", "ops"})
_INT64_MAX = 2**63 - 1


def _whole_number(raw: Mapping[str, Any], name: str, minimum: int, default: int | None = None) -> int:
    """A changeset's counter: a JSON integer in [minimum, 2^63), never text, a fraction or a bool."""
    value = raw.get(name, default)
    if value is None:
        raise ApiError(400, "InvalidParameter", f"a changeset needs {name}")
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _INT64_MAX:
        raise ApiError(400, "InvalidParameter", f"changeset {name} must be an integer from "
                                                f"{minimum} to 2^63 - 1, not {str(value)[:40]!r}")
    return value


def _parse_changeset(raw: Any, schema: Mapping[str, ObjectSchema]) -> tuple[int, int, int, list[Operation]]:
    """Decode one changeset, refusing (400, naming the field) anything that is not exactly right.

    Everything is decoded before anything is written, so a refused upload writes nothing.
    """
    if not isinstance(raw, Mapping):
        raise ApiError(400, "InvalidParameter", "each changeset must be an object")
    unknown = sorted(str(key) for key in raw if key not in _CHANGESET_KEYS)
    if unknown:
        raise ApiError(400, "InvalidParameter", f"unknown changeset key {unknown[0][:80]!r}")
    client_version = _whole_number(raw, "client_version", 1)
    timestamp = _whole_number(raw, "timestamp", 0)
    seen = _whole_number(raw, "last_server_version", 0, default=0)
    ops = raw.get("ops")
    if not isinstance(ops, list):
        raise ApiError(400, "InvalidParameter", "a changeset needs a list of ops")
    operations = []
    for number, op in enumerate(ops):
        if not isinstance(op, Mapping) or not isinstance(op.get("type"), str) \
                or op["type"] not in schema:
            raise ApiError(400, "InvalidParameter", f"unknown object type in operation {op!r:.80}")
        try:
            operations.append(Operation.from_json(op, schema[op["type"]]))
        except SchemaError as error:
            raise ApiError(400, "InvalidParameter",
                           f"bad operation {number} of changeset {client_version}: "
                           f"{error.message}") from None
    return client_version, timestamp, seen, operations


async def integrate(service: SyncService, user: UserRecord, client: ClientRecord,
                    body: Mapping[str, Any]) -> dict[str, Any]:
    raw_changesets = body.get("changesets")
    if not isinstance(raw_changesets, list) or len(raw_changesets) > MAX_CHANGESETS:
        raise ApiError(400, "InvalidParameter", f"changesets must be a list of at most "
                                                f"{MAX_CHANGESETS}")
    schema = service.app.schema.types

    def parse() -> list[tuple[int, int, int, list[Operation]]]:
        return sorted((_parse_changeset(raw, schema) for raw in raw_changesets), key=lambda c: c[0])

    sent = sum(len(raw["ops"]) for raw in raw_changesets
               if isinstance(raw, Mapping) and isinstance(raw.get("ops"), list))
    # Validating a large upload (16 MiB holds ~200,000 operations) takes seconds of CPU:
    # off the event loop, so every other client is still served meanwhile.
    parsed = parse() if sent <= PARSE_INLINE_OPERATIONS else await asyncio.to_thread(parse)
    trimmed = await service.store.trimmed_through()
    stale = [c for c in parsed if 0 < c[2] < trimmed and c[0] > client.upload_version]
    if stale:
        raise ApiError(409, "ClientReset", "the client's history is older than the server keeps: "
                                           "it must reset before uploading", sync_code=222)
    rules = await service.rules(user)
    view = View.build(rules, client.desired_version, client.desired_queries)
    acked = client.upload_version
    compensations: list[dict[str, Any]] = []
    version = await service.store.latest_version()
    for client_version, timestamp, seen, operations in parsed:
        stamp = client_stamp(timestamp, client.id, now_ms())

        def work(tx: WriteTransaction, client_version: int = client_version,
                 operations: list[Operation] = operations, seen: int = seen,
                 stamp: Stamp = stamp) -> list[dict[str, Any]]:
            if not tx.claim_upload(client.id, client_version):
                return _stored_compensations(tx, client.id, client_version)
            found = _Integrator(tx, rules, view, client.id, client_version, seen, stamp).run(
                operations)
            if found:
                tx.set_state(f"compensations:{client.id}:{client_version}", orjson.dumps(found).decode())
            return found

        found, version = await service.store.write(work, client_id=client.id,
                                                   client_version=client_version)
        compensations.extend(found)
        acked = max(acked, client_version)
    return {"acked": acked, "server_version": version, "compensating": compensations}


def _stored_compensations(tx: WriteTransaction, client_id: str, client_version: int) -> list[dict[str, Any]]:
    stored = tx.get_state(f"compensations:{client_id}:{client_version}")
    return [] if stored is None else list(orjson.loads(stored))


class _Integrator:
    def __init__(self, tx: WriteTransaction, rules: SessionRules, view: View, client_id: str,
                 client_version: int, seen: int, stamp: Stamp) -> None:
        self.tx = tx
        self.rules = rules
        self.view = view
        self.client_id = client_id
        self.client_version = client_version
        self.seen = seen
        self.stamp = stamp
        self.schema = rules.app.schema
        self.indexed = set(rules.app.sync.indexed_queryable_fields_names)
        self.altered: set[tuple[str, Any]] = set()  # objects where resolution changed an operation

    def run(self, operations: list[Operation]) -> list[dict[str, Any]]:
        rejected: dict[tuple[str, Any], str] = {}
        documents: dict[tuple[str, Any], dict[str, Any] | None] = {}
        originals: dict[tuple[str, Any], dict[str, Any] | None] = {}
        clocks: dict[tuple[str, Any], Clock] = {}
        for operation in operations:
            key = (operation.object_type, operation.pk)
            if key in rejected:
                continue
            if key not in documents:
                found = self.tx.get(operation.object_type, [operation.pk])
                documents[key] = originals[key] = found.get(operation.pk)
                clocks[key] = Clock.load(self.tx.get_clock(operation.object_type,
                                                           plain_value(operation.pk)))
            reason = self._apply(operation, documents, clocks[key])
            if reason is not None:
                rejected[key] = reason
                documents[key] = originals[key]
        compensations = []
        for key, document in documents.items():
            object_type, pk = key
            if key in rejected:
                self.tx.put(Change(object_type, pk, document), document, revert=True,
                            reason=rejected[key])
                compensations.append({
                    "object_type": object_type, "primary_key": plain_value(pk),
                    "reason": rejected[key], "client_version": self.client_version,
                })
                continue
            if document != originals[key]:
                self.tx.put(Change(object_type, pk, document), originals[key])
            elif key in self.altered:
                # Conflict resolution dropped the client's change: tell the writer what stands.
                self.tx.put(Change(object_type, pk, document), document, revert=True)
            self.tx.set_clock(object_type, plain_value(pk), clocks[key].dump())
        for item in compensations:
            item["server_version"] = self.tx.version
        return compensations

    def _apply(self, operation: Operation, documents: dict[tuple[str, Any], dict[str, Any] | None],
               clock: Clock) -> str | None:
        object_type = operation.object_type
        key = (object_type, operation.pk)
        object_schema = self.schema[object_type]
        access = self.rules[object_type]
        before = documents[key]
        where = f'write to {_describe_pk(operation.pk)} in table "{object_type}" not allowed'
        context = Context(self.stamp, self.seen, self.tx.version + 1)
        if operation.kind == "create" and before is not None:
            resolved_ops = self._merge_create(operation, clock, context)
            self.altered.add(key)
        else:
            resolved = resolve(operation, clock, context)
            resolved_ops = [] if resolved is None else [resolved]
            if resolved != operation:
                self.altered.add(key)
            if operation.kind == "create" and resolved is not None:
                self._stamp_create(operation, clock, context)
        after = before
        try:
            for resolved in resolved_ops:
                after = apply_operation(after, resolved, object_schema)
        except (SchemaError, WriteError) as error:
            # Valid on its own but not on what the store holds (a field inside an embedded
            # object that is null, a required field of a new embedded object left out).
            return f"{where}; {error.message}"
        if after == before:
            return None
        if after is not None and after.get(object_schema.primary_key) != operation.pk:
            return f"{where}; the operation's primary key and the document's differ"
        if access.denied:
            return f"{where}; no role grants access to {object_type}"
        if after is not None and not self.view.contains(object_type, after):
            return f"{where}; object is outside of the current query view"
        if before is None:  # an insert
            if not access.can_insert or not _matches(access.writable, after):
                return f"{where}; the user may not insert it"
            assert after is not None
            given = {name for name, value in after.items()
                     if name != object_schema.primary_key and value is not None and value != []}
            forbidden = given - access.writable_fields
            if forbidden:
                return f"{where}; field {sorted(forbidden)[0]!r} is not writable"
        elif after is None:  # a delete
            if not access.can_delete or not _matches(access.writable, before):
                return f"{where}; the user may not delete it"
        else:
            if not _matches(access.writable, before):
                return f"{where}; the user may not write to it"
            changed = {name for name in object_schema.properties
                       if before.get(name) != after.get(name)}
            forbidden = changed - access.writable_fields
            if forbidden:
                return f"{where}; field {sorted(forbidden)[0]!r} is not writable"
            if changed & self.indexed:
                return f"{where}; the indexed queryable field cannot be changed"
            if not _matches(access.writable, after):
                return f"{where}; the write would remove the user's write permission"
        documents[key] = after
        return None

    def _merge_create(self, operation: Operation, clock: Clock, context: Context) -> list[Operation]:
        """A create of an existing key: its fields merge by the set rules."""
        from .merge import _set

        assert operation.doc is not None
        out = []
        stamp_json = [context.stamp.timestamp, context.stamp.client]
        for name, value in operation.doc.items():
            if name == "_id":
                continue
            as_set = Operation("set", operation.object_type, operation.pk, name, value)
            default = value is None or value == []
            resolved = _set(as_set, clock, context, stamp_json, default=default)
            if resolved is not None:
                out.append(resolved)
        return out

    def _stamp_create(self, operation: Operation, clock: Clock, context: Context) -> None:
        assert operation.doc is not None
        stamp_json = [context.stamp.timestamp, context.stamp.client]
        for name, value in operation.doc.items():
            if name != "_id":
                clock.fields[name] = {"k": stamp_json, "v": context.version,
                                      "d": value is None or value == []}


def _matches(predicate: Any, document: Mapping[str, Any] | None) -> bool:
    return document is not None and evaluate(predicate, document)
