"""A session's view: the documents a client holds for one subscription set.

Per object type: (subscription 1 OR subscription 2 …) AND readable-by-this-user.
The same predicate is compiled to SQL for bootstraps and evaluated in Python for
changed documents, so both paths agree on what is in view.

The Python evaluations run on the server's event loop, for every session and
every changed document. Each is bounded (subscriptions are capped in size and
``LIKE`` is linear), and :func:`collect_changes` gives the loop back whenever it
has done :data:`YIELD_EVERY` units of work, so a burst of writes under large
subscriptions never stops the server answering other requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..documents import from_plain
from ..query import parse
from ..query.ast import Constant, Literal, Predicate
from ..query.evaluate import evaluate
from ..query.query import walk
from ..schema import Schema
from ..wire import encode_ipc, rows_to_arrow
from .rules import SessionRules, check_readable_fields, view_predicate
from .storage import HistoryEntry

__all__ = ["YIELD_EVERY", "ChangeBatch", "FeedEntry", "View", "collect_changes"]

#: Evaluation work — predicate nodes visited, summed over documents — between two
#: yields to the event loop (a few milliseconds of evaluation).
YIELD_EVERY = 20_000


@dataclass(frozen=True)
class View:
    """The view of subscription set ``version`` for one session."""

    version: int
    queries: Mapping[str, tuple[str, ...]]
    predicates: Mapping[str, Predicate]
    #: Per object type, the work of evaluating its predicate on one document (its nodes).
    costs: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, rules: SessionRules, version: int,
              queries: Mapping[str, Iterable[str]], *, strict: bool = False) -> View:
        """The view of a set of (already accepted) subscription texts.

        ``strict``: also refuse a query that filters on a field this session's role
        hides — the rules changed since the set was accepted (a stream about to
        serve the set passes it; judging uploads against the set does not).

        Raises:
            QueryError: a query no longer parses, or (strict) filters on a hidden field.
        """
        texts = {t: tuple(qs) for t, qs in queries.items() if t in rules.access and tuple(qs)}
        parsed = {t: [parse(text) for text in qs] for t, qs in texts.items()}
        for object_type, subscriptions in parsed.items():
            for query in subscriptions if strict else ():
                check_readable_fields(query, rules[object_type])
        predicates = {
            object_type: view_predicate([q.predicate for q in parsed.get(object_type, [])],
                                        rules[object_type].readable)
            for object_type in rules.access
        }
        # Literals cost nothing of their own (a long IN list is one indexed lookup).
        costs = {t: sum(1 for node in walk(p) if not isinstance(node, Literal))
                 for t, p in predicates.items()}
        return cls(version, texts, predicates, costs)

    def cost(self, object_type: str) -> int:
        return self.costs.get(object_type, 1)

    @classmethod
    def empty(cls, rules: SessionRules) -> View:
        return cls.build(rules, 0, {})

    def predicate(self, object_type: str) -> Predicate:
        return self.predicates.get(object_type, Constant(False))

    def contains(self, object_type: str, document: Mapping[str, Any] | None) -> bool:
        if document is None:
            return False
        predicate = self.predicate(object_type)
        if isinstance(predicate, Constant):
            return predicate.value
        return evaluate(predicate, document)


@dataclass
class FeedEntry:
    """A history entry with its documents decoded once for every session that reads it."""

    entry: HistoryEntry
    doc: dict[str, Any] | None
    prev: dict[str, Any] | None

    @classmethod
    def decode(cls, schema: Schema, entry: HistoryEntry) -> FeedEntry:
        object_schema = schema.types.get(entry.object_type)
        if object_schema is None:
            return cls(entry, None, None)
        doc = None if entry.doc is None else from_plain(object_schema, entry.doc)
        prev = None if entry.prev is None else from_plain(object_schema, entry.prev)
        return cls(entry, doc, prev)


@dataclass
class ChangeBatch:
    """What a range of history means for one session: final upserts and removes."""

    server_version: int
    upserts: dict[str, dict[Any, Mapping[str, Any]]] = field(default_factory=dict)
    removes: dict[str, dict[Any, None]] = field(default_factory=dict)
    uploaded: int | None = None
    compensations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.upserts and not self.removes

    def frame(self, schema: Schema) -> tuple[dict[str, Any], bytes | None]:
        """The ``changes`` frame header and its payload."""
        header: dict[str, Any] = {"t": "changes", "server_version": self.server_version,
                                  "upserts": [], "removes": {}}
        if self.uploaded is not None:
            header["uploaded"] = self.uploaded
        if self.compensations:
            header["compensating"] = self.compensations
        chunks: list[bytes] = []
        for object_type, rows in sorted(self.upserts.items()):
            if not rows:
                continue
            chunk = encode_ipc(rows_to_arrow(schema[object_type], list(rows.values())))
            header["upserts"].append({"type": object_type, "rows": len(rows), "bytes": len(chunk)})
            chunks.append(chunk)
        for object_type, pks in sorted(self.removes.items()):
            if pks:
                header["removes"][object_type] = list(pks)
        return header, (b"".join(chunks) if chunks else None)


async def collect_changes(entries: Iterable[FeedEntry], view: View, rules: SessionRules,
                          server_version: int, client_id: str | None = None) -> ChangeBatch:
    """Apply Realm's view logic to history: in view after → upsert; was in view → remove.

    A *revert* entry (a compensating write) concerns only the client that wrote: it
    gets the object's real state if in view, else its removal. ``uploaded`` reports
    the highest of this client's changesets the range contains. Yields to the event
    loop every :data:`YIELD_EVERY` units of evaluation work.
    """
    batch = ChangeBatch(server_version)
    work = 0
    for item in entries:
        work += 2 * view.cost(item.entry.object_type)
        if work >= YIELD_EVERY:
            work = 0
            await asyncio.sleep(0)
        entry = item.entry
        object_type = entry.object_type
        mine = client_id is not None and entry.client_id == client_id
        if mine and entry.client_version is not None:
            batch.uploaded = max(batch.uploaded or 0, entry.client_version)
        if object_type not in rules.access:
            continue
        after = view.contains(object_type, item.doc)
        before = view.contains(object_type, item.prev)
        if entry.revert:
            if not mine:
                continue
            before = True
            if entry.reason is not None:
                batch.compensations.append({
                    "object_type": object_type, "primary_key": entry.pk, "reason": entry.reason,
                    "client_version": entry.client_version, "server_version": entry.version})
        upserts = batch.upserts.setdefault(object_type, {})
        removes = batch.removes.setdefault(object_type, {})
        if after:
            assert entry.doc is not None
            hidden = rules[object_type].hidden_fields
            document = {k: (None if k in hidden else v) for k, v in entry.doc.items()}
            removes.pop(entry.pk, None)
            upserts[entry.pk] = document
        elif before:
            upserts.pop(entry.pk, None)
            removes[entry.pk] = None
    batch.upserts = {t: rows for t, rows in batch.upserts.items() if rows}
    batch.removes = {t: pks for t, pks in batch.removes.items() if pks}
    return batch
