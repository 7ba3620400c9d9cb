"""Local writes: applied to the cache and queued for upload in one transaction.

A write shows in ``realm.df`` at once. The upload queue lives in the cache file,
so a write that returned survives a crash and is uploaded exactly once
(changesets are idempotent by client id and client version). While a write is
not yet acknowledged, downloaded changes to the same object are applied first
and the write is replayed on top, so the local view always shows "server state
+ my pending writes". Compensating writes reported by the server are stored
and handed to the error handler once the download that reverts them is in the
cache — once, even across reconnects.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import orjson
import pyarrow as pa
from bson import ObjectId

from ..cache import apply as cache_apply
from ..cache import ddl
from ..cache.store import META
from ..documents import from_plain_value, plain_value, to_plain, validate_document
from ..errors import (
    AuthError,
    CompensatingWrite,
    CompensatingWriteError,
    NoSubscriptionForWriteError,
    ServerUnavailableError,
    WriteError,
)
from ..operations import Operation, apply_operation, field_property
from ..schema import ObjectSchema, PropertyType
from ..wire import rows_to_arrow
from .transport import RequestError

if TYPE_CHECKING:
    import duckdb

    from .realm import Realm
    from .session import SyncSession

__all__ = ["ClientResetMode", "WriteQueue", "WriteTransaction"]

logger = logging.getLogger(__name__)
ClientResetMode = Literal["recover_or_discard", "recover", "discard", "manual"]
#: Operations that change the result when applied twice.
_NOT_IDEMPOTENT = frozenset({"add_integer", "list_insert", "list_erase", "list_move"})
UPLOAD_BATCH = 200


class WriteTransaction:
    """Collects operations; ``commit`` (leaving the ``with`` block) applies them all or none."""

    def __init__(self, queue: WriteQueue) -> None:
        self.queue = queue
        self.operations: list[Operation] = []
        self._done = False

    def _schema(self, object_type: str) -> ObjectSchema:
        return self.queue.realm.schema[object_type]

    def _pk(self, object_type: str, pk: Any) -> Any:
        from ..documents import validate_value

        object_schema = self._schema(object_type)
        return validate_value(object_schema.primary_key_property, pk, f"{object_type}._id")

    def create(self, object_type: str, document: Mapping[str, Any]) -> Any:
        """Create (or, for an existing primary key, replace) an object; returns its key."""
        object_schema = self._schema(object_type)
        doc = dict(document)
        if doc.get("_id") is None:
            kind = object_schema.primary_key_property.type
            if kind is PropertyType.OBJECT_ID:
                doc["_id"] = ObjectId()
            elif kind is PropertyType.UUID:
                doc["_id"] = uuid.uuid4()
            else:
                raise WriteError(f"{object_type} needs an _id ({kind})")
        validated = validate_document(object_schema, doc)
        self.operations.append(Operation("create", object_type, validated["_id"], doc=validated))
        return validated["_id"]

    def update(self, object_type: str, pk: Any, changes: Mapping[str, Any]) -> None:
        """Set fields (``{"status": "done", "address.city": "Oslo"}``)."""
        from ..documents import validate_value

        object_schema = self._schema(object_type)
        key = self._pk(object_type, pk)
        for name, value in changes.items():
            prop = field_property(object_schema, name)
            checked = validate_value(prop, value, f"{object_type}.{name}")
            self.operations.append(Operation("set", object_type, key, name, checked))

    def delete(self, object_type: str, pk: Any) -> None:
        self.operations.append(Operation("delete", object_type, self._pk(object_type, pk)))

    def add_integer(self, object_type: str, pk: Any, field: str, amount: int) -> None:
        """Add to an integer field; concurrent adds from other clients sum."""
        prop = field_property(self._schema(object_type), field)
        if not prop.type.is_integer or isinstance(amount, bool) or not isinstance(amount, int):
            raise WriteError(f"add_integer needs an int field and an int amount ({field})")
        self.operations.append(Operation("add_integer", object_type, self._pk(object_type, pk),
                                         field, amount))

    def _list(self, kind: str, object_type: str, pk: Any, field: str, value: Any = None,
              index: int | None = None, to: int | None = None) -> None:
        from ..documents import validate_value

        prop = field_property(self._schema(object_type), field)
        if prop.type is not PropertyType.ARRAY or prop.items is None:
            raise WriteError(f"{object_type}.{field} is not a list")
        if kind in ("list_insert", "list_set", "set_add", "set_remove"):
            value = validate_value(prop.items, value, f"{object_type}.{field}[]")
        self.operations.append(Operation(kind, object_type, self._pk(object_type, pk), field,
                                         value, index, to))

    def list_insert(self, object_type: str, pk: Any, field: str, index: int, value: Any) -> None:
        self._list("list_insert", object_type, pk, field, value, index)

    def list_append(self, object_type: str, pk: Any, field: str, value: Any) -> None:
        current = self.queue.read(object_type, self._pk(object_type, pk), self.operations)
        length = len((current or {}).get(field) or [])
        self._list("list_insert", object_type, pk, field, value, length)

    def list_set(self, object_type: str, pk: Any, field: str, index: int, value: Any) -> None:
        self._list("list_set", object_type, pk, field, value, index)

    def list_erase(self, object_type: str, pk: Any, field: str, index: int) -> None:
        self._list("list_erase", object_type, pk, field, None, index)

    def list_move(self, object_type: str, pk: Any, field: str, index: int, to: int) -> None:
        self._list("list_move", object_type, pk, field, None, index, to)

    def list_clear(self, object_type: str, pk: Any, field: str) -> None:
        self._list("list_clear", object_type, pk, field)

    def set_add(self, object_type: str, pk: Any, field: str, value: Any) -> None:
        self._list("set_add", object_type, pk, field, value)

    def set_remove(self, object_type: str, pk: Any, field: str, value: Any) -> None:
        self._list("set_remove", object_type, pk, field, value)

    # ------------------------------------------------------------------ committing

    def commit(self) -> int | None:
        """Apply and queue; returns the changeset's client version (None if empty)."""
        if self._done:
            raise WriteError("this write transaction is already finished")
        self._done = True
        return self.queue.commit(self.operations)

    def __enter__(self) -> WriteTransaction:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self._done = True

    async def __aenter__(self) -> WriteTransaction:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)


class WriteQueue:
    """The upload queue of one realm and everything that touches it."""

    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.cache = realm.cache
        self._in_flight: frozenset[int] = frozenset()  # client versions being uploaded now

    def transaction(self) -> WriteTransaction:
        return WriteTransaction(self)

    # ------------------------------------------------------------------ reading state

    def last_client_version(self) -> int:
        value = self.cache.connection.execute(
            f"SELECT max(client_version) FROM {META}.upload_queue").fetchall()[0][0]
        queued = int(value) if value is not None else 0
        return max(queued, self.acked_version())

    def acked_version(self) -> int:
        return int(self.cache.get_meta("upload_acked", 0))

    def pending_count(self, upto: int | None = None) -> int:
        """Changesets not yet acknowledged (only those up to client version ``upto``)."""
        condition, params = ("client_version <= ?", [upto]) if upto is not None else ("TRUE", [])
        rows = self.cache.connection.execute(
            f"SELECT count(*) FROM {META}.upload_queue WHERE {condition}", params).fetchall()
        return int(rows[0][0])

    def _pending(self, conn: duckdb.DuckDBPyConnection) -> list[tuple[int, list[Operation]]]:
        rows = conn.execute(f"SELECT client_version, ops FROM {META}.upload_queue "
                            "ORDER BY client_version").fetchall()
        out = []
        for client_version, ops in rows:
            operations = [Operation.from_json(op, self.realm.schema[op["type"]])
                          for op in orjson.loads(ops)]
            out.append((int(client_version), operations))
        return out

    def read(self, object_type: str, pk: Any, pending: Sequence[Operation] = (),
             conn: duckdb.DuckDBPyConnection | None = None) -> dict[str, Any] | None:
        """The object as the cache has it, with ``pending`` operations applied."""
        object_schema = self.realm.schema[object_type]
        connection = conn or self.cache.connection
        key = to_plain({"k": pk})["k"]
        result = connection.execute(
            f"SELECT * FROM {self.cache.table(object_type)} WHERE "
            f"{ddl.quote(object_schema.primary_key)} = ?", [key])
        rows = result.fetchall()
        document = None
        if rows:
            row = rows[0]
            names = [d[0] for d in result.description]
            document = validate_document(object_schema, dict(zip(names, row, strict=True)))
        for operation in pending:
            if operation.object_type == object_type and operation.pk == pk:
                document = apply_operation(document, operation, object_schema)
        return document

    def _write_documents(self, conn: duckdb.DuckDBPyConnection,
                         documents: Mapping[tuple[str, Any], dict[str, Any] | None]) -> None:
        by_type: dict[str, list[tuple[Any, dict[str, Any] | None]]] = {}
        for (object_type, pk), document in documents.items():
            by_type.setdefault(object_type, []).append((pk, document))
        for object_type, entries in by_type.items():
            object_schema = self.realm.schema[object_type]
            rows = [to_plain(doc) for _, doc in entries if doc is not None]
            cache_apply.replace_rows(conn, self.cache, object_schema,
                                     [plain_value(pk) for pk, _ in entries],
                                     rows_to_arrow(object_schema, rows) if rows else None)

    # ------------------------------------------------------------------ committing

    def commit(self, operations: list[Operation]) -> int | None:
        if not operations:
            return None
        subscribed = {s.object_type for s in self.realm.subscriptions}
        for operation in operations:
            if operation.object_type not in subscribed:
                raise NoSubscriptionForWriteError(operation.object_type)
        documents: dict[tuple[str, Any], dict[str, Any] | None] = {}
        with self.cache.transaction() as conn:
            for operation in operations:
                key = (operation.object_type, operation.pk)
                current = documents[key] if key in documents else self.read(
                    operation.object_type, operation.pk, conn=conn)
                documents[key] = apply_operation(current, operation,
                                                 self.realm.schema[operation.object_type])
            self._write_documents(conn, documents)
            client_version = self.last_client_version() + 1
            timestamp = self._timestamp()
            conn.execute(f"INSERT INTO {META}.upload_queue VALUES (?, ?, ?, ?)",
                         [client_version, timestamp, self.cache.cursor_version,
                          orjson.dumps([op.to_json() for op in operations]).decode()])
            for (object_type, pk), document in documents.items():
                conn.execute(f"INSERT INTO {META}.changes VALUES (NULL, now(), ?, ?, ?, 1, 'local')",
                             [object_type, orjson.dumps(to_plain({"k": pk})["k"]).decode(),
                              "remove" if document is None else "upsert"])
        self.realm.session._report_changes({t for t, _ in documents})
        self.realm.session.wake_uploads()
        return client_version

    def _timestamp(self) -> int:
        """Milliseconds, strictly increasing per client (orders this client's writes)."""
        now = int(time.time() * 1000)
        last = int(self.cache.get_meta("last_write_ms", 0))
        stamp = max(now, last + 1)
        self.cache.set_meta("last_write_ms", stamp)
        return stamp

    # ------------------------------------------------------------------ downloads over pending writes

    def apply_download(self, server_version: int, upserts: Mapping[str, pa.Table],
                       removes: Mapping[str, Sequence[Any]], uploaded: int | None = None) -> None:
        """Apply a download, then replay unacknowledged writes to the objects it touched."""
        if uploaded is not None and uploaded > self.acked_version():
            self._acknowledge(uploaded)
        pending = self._pending(self.cache.connection) if self.pending_count() else []
        if not pending:
            cache_apply.apply_changes(self.cache, server_version, upserts, removes)
            self._report_compensations()
            return
        touched: set[tuple[str, Any]] = set()
        for object_type, table in upserts.items():
            object_schema = self.realm.schema[object_type]
            for pk in table.column(object_schema.primary_key).to_pylist():
                touched.add((object_type, _python_pk(object_schema, pk)))
        for object_type, pks in removes.items():
            object_schema = self.realm.schema[object_type]
            touched.update((object_type, _python_pk(object_schema, pk)) for pk in pks)
        replay = [op for _, ops in pending for op in ops if (op.object_type, op.pk) in touched]
        cache_apply.apply_changes(self.cache, server_version, upserts, removes,
                                  after=(lambda conn: self._replay(conn, replay)) if replay
                                  else None)
        self._report_compensations()

    def _replay(self, conn: duckdb.DuckDBPyConnection, operations: Sequence[Operation]) -> None:
        """Apply ``operations`` again over what the cache now holds (inside ``conn``)."""
        documents: dict[tuple[str, Any], dict[str, Any] | None] = {}
        for operation in operations:
            key = (operation.object_type, operation.pk)
            current = documents[key] if key in documents else self.read(
                operation.object_type, operation.pk, conn=conn)
            documents[key] = apply_operation(current, operation,
                                             self.realm.schema[operation.object_type])
        if documents:
            self._write_documents(conn, documents)

    def replay_all(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Put unacknowledged writes back on top of a bootstrap (same transaction): a
        bootstrap replaces documents wholesale (a full one empties the tables), and the
        local view must stay "server state + my pending writes".

        A changeset whose upload is in flight may already be in the bootstrap (integrated
        before the server's snapshot): replaying it is harmless when its operations are
        idempotent (create, set, delete, …) but would count an ``add_integer`` or insert a
        list element twice, so such a changeset is left to the history the server
        replays after the bootstrap.
        """
        self._replay(conn, [op for version, ops in self._pending(conn)
                            if version not in self._in_flight
                            or not any(op.kind in _NOT_IDEMPOTENT for op in ops)
                            for op in ops])

    def after_bootstrap(self) -> None:
        self.realm.session.wake_uploads()
        self.realm.session.wake_queries()

    def _acknowledge(self, client_version: int) -> None:
        with self.cache.transaction() as conn:
            conn.execute(f"DELETE FROM {META}.upload_queue WHERE client_version <= ?",
                         [client_version])
            if client_version > self.acked_version():
                self.cache.set_meta("upload_acked", client_version)

    # ------------------------------------------------------------------ uploading

    async def upload_forever(self, session: SyncSession) -> None:
        from .session import ConnectionState

        while True:
            session.uploads_wakeup.clear()
            ready = (session.connection_state is ConnectionState.CONNECTED
                     and cache_apply.staged_bootstrap(self.cache) is None)
            if ready and self.pending_count() and await self._upload_once(session):
                continue
            self._report_compensations()
            await session.uploads_wakeup.wait()

    async def _upload_once(self, session: SyncSession) -> bool:
        rows = self.cache.connection.execute(
            f"SELECT client_version, timestamp, last_server_version, ops FROM {META}.upload_queue "
            f"ORDER BY client_version LIMIT {UPLOAD_BATCH}").fetchall()
        cursor = self.cache.cursor_version
        changesets = [{"client_version": int(r[0]), "timestamp": int(r[1]),
                       # a negative version marks writes recovered by a client reset: they are
                       # judged against the fresh state, as if made now
                       "last_server_version": int(r[2]) if int(r[2]) >= 0 else cursor,
                       "ops": orjson.loads(r[3])} for r in rows]
        realm = self.realm
        self._in_flight = frozenset(c["client_version"] for c in changesets)
        try:
            try:
                answer = await realm.authed("POST", "sync/upload",
                                            {"client_id": realm.client_id, "changesets": changesets})
            finally:
                self._in_flight = frozenset()
        except (ServerUnavailableError, AuthError):
            return False
        except RequestError as error:
            if error.error_code == "ClientReset":
                await realm.client_reset(222, error.message, False)
            else:
                realm.report_error(error)
            return False
        self._record_compensations(answer.get("compensating", []))
        self._acknowledge(int(answer["acked"]))
        session.wake_queries()
        session._changed.fire()
        return True

    def _record_compensations(self, writes: list[Mapping[str, Any]]) -> None:
        if not writes:
            return
        with self.cache.transaction() as conn:
            for write in writes:
                key = str(write.get("primary_key"))  # readable in rejected_writes()
                exists = conn.execute(
                    f"SELECT 1 FROM {META}.rejected_writes WHERE object_type = ? AND "
                    "primary_key = ? AND client_version = ?",
                    [write["object_type"], key, write.get("client_version")]).fetchall()
                if not exists:
                    conn.execute(f"INSERT INTO {META}.rejected_writes VALUES (?, ?, ?, ?, ?, ?)",
                                 [write["object_type"], key, write["reason"],
                                  write.get("server_version"), write.get("client_version"),
                                  dt.datetime.now(dt.UTC)])
                    pending = list(self.cache.get_meta("unreported_compensations", []))
                    pending.append(dict(write))
                    self.cache.set_meta("unreported_compensations", pending)

    def _report_compensations(self) -> None:
        pending = list(self.cache.get_meta("unreported_compensations", []))
        if not pending:
            return
        cursor = self.cache.cursor_version
        due = [w for w in pending if int(w.get("server_version") or 0) <= cursor]
        if not due:
            return
        with self.cache.transaction():
            self.cache.set_meta("unreported_compensations", [w for w in pending if w not in due])
        writes = [CompensatingWrite(w["object_type"], w.get("primary_key"), w["reason"],
                                    _optional_int(w.get("client_version")))
                  for w in due]
        self.realm.report_error(CompensatingWriteError(
            "Client attempted a write that is not allowed; it has been reverted: "
            + "; ".join(w.reason for w in writes), writes=writes))

    def on_compensating_write(self, header: Mapping[str, Any]) -> None:
        self._record_compensations(header.get("writes", []))


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _python_pk(object_schema: ObjectSchema, value: Any) -> Any:
    return from_plain_value(object_schema.primary_key_property, value)

