"""Permissions of one session: which role applies, and what it lets the user read and write.

As in App Services with Sync, roles are chosen once per session and per
collection: the first role whose ``apply_when`` holds wins (collection roles,
when a collection has any, else the default roles); expansions such as
``%%user.id`` and ``%%user.custom_data.teams`` are frozen at that moment, so a
change to custom data takes effect at the next session. A role whose filters
use a non-queryable field is not Sync-compatible, and when it is the first
match, access to the collection is denied.

The result is plain query-language ASTs (``readable``, ``writable``) that the
server compiles to SQL for bootstraps and evaluates in Python for single
changed documents — one definition, two engines, tested to agree.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import QueryError, UnsupportedQueryError
from ..query.ast import And, Constant, Or, Path, Predicate
from ..query.evaluate import evaluate
from ..query.mongo import parse_filter
from ..query.query import Query, walk
from ..query.render import render
from .appdir import AppConfig, FieldPermission, Role
from .storage import UserRecord

__all__ = ["CollectionAccess", "SessionRules", "check_readable_fields"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionAccess:
    """What a session may do with one object type."""

    object_type: str
    role: str | None
    readable: Predicate
    writable: Predicate
    hidden_fields: frozenset[str]
    writable_fields: frozenset[str]
    can_insert: bool
    can_delete: bool

    @property
    def denied(self) -> bool:
        return isinstance(self.readable, Constant) and not self.readable.value

    def fingerprint(self) -> str:
        return "|".join([self.object_type, str(self.role), render(self.readable),
                         render(self.writable), ",".join(sorted(self.hidden_fields))])


def _deny(object_type: str, role: str | None = None) -> CollectionAccess:
    nothing = Constant(False)
    return CollectionAccess(object_type, role, nothing, nothing, frozenset(), frozenset(),
                            False, False)


class Expansions:
    """Resolves ``%%…`` names for one user at session start."""

    def __init__(self, user: UserRecord, custom_data: Mapping[str, Any]) -> None:
        self.values: dict[str, Any] = {
            "%%user.id": user.id,
            "%%user.type": "normal" if user.provider != "api-key" else "server",
            "%%true": True,
            "%%false": False,
        }
        self.custom_data = custom_data
        self.data = {"email": user.email} if user.email else {}

    def __call__(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        for prefix, source in (("%%user.custom_data", self.custom_data),
                               ("%%user.data", self.data)):
            if name == prefix:
                return dict(source)
            if name.startswith(prefix + "."):
                value: Any = source
                for part in name[len(prefix) + 1:].split("."):
                    value = value.get(part) if isinstance(value, Mapping) else None
                return list(value) if isinstance(value, tuple) else value
        raise QueryError(f"expansion {name!r} is not supported by Sync rules")


class SessionRules:
    """The resolved permissions of one user for every object type of the app."""

    def __init__(self, app: AppConfig, user: UserRecord, custom_data: Mapping[str, Any]) -> None:
        self.app = app
        self.user = user
        self.expand = Expansions(user, custom_data)
        self.access: dict[str, CollectionAccess] = {
            name: self._resolve(name) for name in app.collections
        }

    def __getitem__(self, object_type: str) -> CollectionAccess:
        return self.access[object_type]

    def fingerprint(self) -> str:
        """Changes whenever what this user may read changes (role, expansions, rules)."""
        text = "\n".join(self.access[name].fingerprint() for name in sorted(self.access))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _resolve(self, object_type: str) -> CollectionAccess:
        for role in self.app.roles_for(object_type):
            try:
                applies = evaluate(parse_filter(role.apply_when, self.expand), {})
            except QueryError as error:
                logger.warning("role %r of %s: apply_when cannot be evaluated (%s)",
                               role.name, object_type, error)
                continue
            if applies:
                return self._access(object_type, role)
        return _deny(object_type)

    def _filter(self, raw: Mapping[str, Any] | None, object_type: str) -> Predicate | None:
        """A document filter; fields the collection lacks are null (App Services' rule)."""
        if raw is None:
            return None
        fields = self.app.collections[object_type].schema.properties
        return parse_filter(raw, self.expand, fields)

    def _access(self, object_type: str, role: Role) -> CollectionAccess:
        if role.read_filter is None or role.write_filter is None:
            logger.warning("role %r of %s is not Sync-compatible (document_filters.read and .write "
                           "must both be defined): access denied", role.name, object_type)
            return _deny(object_type, role.name)
        try:
            read_filter = self._filter(role.read_filter, object_type)
            write_filter = self._filter(role.write_filter, object_type)
        except QueryError as error:
            logger.warning("role %r of %s denies access: %s", role.name, object_type, error)
            return _deny(object_type, role.name)
        queryable = self.app.sync.queryable_fields(object_type)
        for predicate in (read_filter, write_filter):
            fields = {node.parts[0] for node in walk(predicate)
                      if isinstance(node, Path)} if predicate is not None else set()
            if fields - queryable:
                logger.warning("role %r of %s is not Sync-compatible (filters use %s, which is not "
                               "queryable): access denied", role.name, object_type,
                               ", ".join(sorted(fields - queryable)))
                return _deny(object_type, role.name)
        schema = self.app.collections[object_type].schema
        pk = schema.primary_key

        def permission(name: str) -> FieldPermission:
            return role.fields.get(name, role.additional_fields)

        names = [p.name for p in schema if p.name != pk]
        if role.read or role.write:
            hidden: frozenset[str] = frozenset()
        else:
            hidden = frozenset(n for n in names if not (permission(n).read or permission(n).write))
        writable_fields = frozenset(names) if role.write else frozenset(
            n for n in names if permission(n).write)
        can_read = role.read or role.write or len(hidden) < len(names)
        can_write = role.write or bool(writable_fields)
        branches: list[Predicate] = []
        if write_filter is not None and can_write:
            branches.append(write_filter)
        if read_filter is not None and can_read:
            branches.append(read_filter)
        readable = _any(branches)
        writable = write_filter if (write_filter is not None and can_write) else Constant(False)
        return CollectionAccess(object_type, role.name, readable, writable, hidden,
                                writable_fields, role.insert and can_write,
                                role.delete and can_write)


def _any(branches: list[Predicate]) -> Predicate:
    if not branches:
        return Constant(False)
    if any(isinstance(b, Constant) and b.value for b in branches):
        return Constant(True)
    return branches[0] if len(branches) == 1 else Or(tuple(branches))


def view_predicate(queries: list[Predicate], readable: Predicate) -> Predicate:
    """The documents a session holds for one type: any subscription AND readable."""
    if not queries:
        return Constant(False)
    subscribed: Predicate = queries[0] if len(queries) == 1 else Or(tuple(queries))
    if isinstance(readable, Constant):
        return subscribed if readable.value else Constant(False)
    return And((subscribed, readable))


def check_readable_fields(query: Query, access: CollectionAccess) -> None:
    """Refuse a subscription that filters on a field this session's role may not read.

    The field's value never reaches the client, but which documents match a filter
    on it would: ``city == 'Köln'`` on a hidden ``city`` returns exactly the
    documents with that value. App Services refuses such a subscription too.

    Raises:
        UnsupportedQueryError: the query names a hidden field (pointed at).
    """
    if not access.hidden_fields:
        return
    for node in walk(query.predicate):
        if isinstance(node, Path) and node.parts[0] in access.hidden_fields:
            raise UnsupportedQueryError(
                f"the role {access.role!r} may not read {node.parts[0]!r} of "
                f"{access.object_type}, so a subscription may not filter on it",
                construct="unreadable field", query=query.text, position=node.position)
