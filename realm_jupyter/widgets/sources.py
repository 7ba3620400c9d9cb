"""The widgets' data sources over a :class:`~realm_jupyter.client.Realm`.

Each class implements one Protocol of :mod:`.protocols`. Reads that widgets make
from their subshell threads (pages, counts, validation) use their own DuckDB
cursor; anything that changes sync state is handed to the kernel loop by the
widgets themselves. Also here: the factories the magics call, which wrap a widget
with a plain HTML/text fallback for frontends without widgets (nbclient, GitHub).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from ..cache.ddl import quote
from ..errors import QueryError, RealmJupyterError
from ..query import check_subscription, parse
from .explorer_export import export_relation
from .summaries import column_summaries

if TYPE_CHECKING:
    from ..client import Realm

__all__ = ["RealmExplorerSource", "RealmStatusSource", "RealmSubscriptionSource",
           "WithFallback", "data_explorer", "subscription_manager", "sync_status"]


class RealmStatusSource:
    def __init__(self, realm: Realm) -> None:
        self.realm = realm

    def status_snapshot(self) -> dict[str, Any]:
        return self.realm.session.status()

    def add_status_listener(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        session = self.realm.session

        def changed(*_: Any) -> None:
            callback(session.status())

        removers = [session.add_connection_listener(changed), session.add_progress_listener(changed),
                    session.add_change_listener(changed), session.add_error_listener(changed),
                    self.realm.subscription_store.add_listener(changed)]
        return _all(removers)

    def pause(self) -> None:
        self.realm.session.pause()

    def resume(self) -> None:
        self.realm.session.resume()


class _QueryableFields:
    """What the server said about queryable fields (``/sync/schema``), for local checks."""

    def __init__(self, realm: Realm) -> None:
        self.fields = {t: frozenset(f) for t, f in realm.queryable.items()}
        indexed = realm.cache.get_meta("indexed_queryable", [])
        self._indexed = tuple(indexed)

    @property
    def indexed_queryable_fields_names(self) -> tuple[str, ...]:
        return self._indexed

    def queryable_fields(self, object_type: str) -> frozenset[str]:
        return self.fields.get(object_type, frozenset()) | {"_id"}


def validate_subscription(realm: Realm, object_type: str, query: str) -> dict[str, Any] | None:
    """None when the server will accept the query, else ``{message, position}``."""
    if object_type not in realm.schema:
        return {"message": f"unknown object type {object_type!r}", "position": None}
    try:
        check_subscription(query or "TRUEPREDICATE", realm.schema, object_type,
                           _QueryableFields(realm))
    except QueryError as error:
        return {"message": error.message, "position": error.position}
    return None


def check_locally(realm: Realm, object_type: str, query: str, shown: str | None = None) -> None:
    """Raise the server's refusal before subscribing (same checks, with a caret).

    Raises:
        QueryError: the query is outside the Flexible Sync subset or not queryable.
        SchemaError: the object type is unknown.
    """
    realm.schema[object_type]
    try:
        check_subscription(query, realm.schema, object_type, _QueryableFields(realm))
    except QueryError as error:
        if shown is not None and shown != query:
            error.query, error.position = shown, None  # positions refer to the bound text
        raise


class RealmSubscriptionSource:
    def __init__(self, realm: Realm) -> None:
        self.realm = realm

    def object_types(self) -> list[str]:
        return list(self.realm.schema.names)

    def subscription_rows(self) -> list[dict[str, Any]]:
        realm = self.realm
        current = realm.subscriptions
        cursor = realm.cache.cursor()
        rows = []
        try:
            for sub in current:
                compiled = parse(sub.query).compile(realm.schema, sub.object_type, "duckdb")
                count = cursor.execute(f"SELECT count(*) FROM {quote(sub.object_type)} WHERE "
                                       f"{compiled.where}", list(compiled.where_params)).fetchall()
                rows.append({"id": sub.id, "name": sub.name, "object_type": sub.object_type,
                             "query": sub.query, "state": current.state.value,
                             "rows": int(count[0][0]), "created_at": sub.created_at.isoformat()})
        finally:
            cursor.close()
        return rows

    def subscription_set_info(self) -> dict[str, Any]:
        current = self.realm.subscriptions
        return {"version": current.version, "state": current.state.value,
                "error": current.error or ""}

    def validate(self, object_type: str, query: str) -> dict[str, Any] | None:
        return validate_subscription(self.realm, object_type, query)

    async def add(self, object_type: str, query: str, name: str | None) -> None:
        await self.realm.subscribe(object_type, query or "TRUEPREDICATE", name=name or None,
                                   wait="never")

    async def remove(self, subscription_id: str) -> None:
        realm = self.realm
        async with realm.subscriptions.update() as mutable:
            if not mutable.remove_by_id(subscription_id):
                raise RealmJupyterError("that subscription no longer exists")

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        removers = [self.realm.subscription_store.add_listener(callback),
                    self.realm.session.add_change_listener(lambda _types: callback())]
        return _all(removers)


class RealmExplorerSource:
    def __init__(self, realm: Realm) -> None:
        self.realm = realm

    def columns(self, object_type: str) -> list[tuple[str, str]]:
        cursor = self.realm.cache.cursor()
        try:
            rows = cursor.execute(f"DESCRIBE {quote(object_type)}").fetchall()
        finally:
            cursor.close()
        return [(str(row[0]), str(row[1])) for row in rows]

    def _where(self, object_type: str, filter: str) -> tuple[str, list[Any]]:
        if not filter.strip():
            return "TRUE", []
        compiled = parse(filter).compile(self.realm.schema, object_type, "duckdb")
        return compiled.where, list(compiled.where_params)

    def count(self, object_type: str, filter: str) -> int:
        where, params = self._where(object_type, filter)
        cursor = self.realm.cache.cursor()
        try:
            rows = cursor.execute(f"SELECT count(*) FROM {quote(object_type)} WHERE {where}",
                                  params).fetchall()
        finally:
            cursor.close()
        return int(rows[0][0])

    def _select(self, object_type: str, filter: str,
                sort: list[tuple[str, bool]]) -> tuple[str, list[Any]]:
        object_schema = self.realm.schema[object_type]
        where, params = self._where(object_type, filter)
        keys = [f"{quote(column)} {'ASC NULLS FIRST' if ascending else 'DESC NULLS LAST'}"
                for column, ascending in sort if column in object_schema]
        keys.append(quote(object_schema.primary_key))
        return (f"SELECT * FROM {quote(object_type)} WHERE {where} ORDER BY {', '.join(keys)}",
                params)

    def page(self, object_type: str, filter: str, sort: list[tuple[str, bool]], offset: int,
             limit: int) -> pa.Table:
        sql, params = self._select(object_type, filter, sort)
        cursor = self.realm.cache.cursor()
        try:
            return cursor.sql(f"{sql} LIMIT {int(limit)} OFFSET {int(offset)}",
                              params=params or None).to_arrow_table()
        finally:
            cursor.close()

    def summaries(self, object_type: str, filter: str) -> list[dict[str, Any]]:
        where, params = self._where(object_type, filter)
        cursor = self.realm.cache.cursor()
        try:
            return column_summaries(cursor, object_type, self.columns(object_type), where, params)
        finally:
            cursor.close()

    def export(self, object_type: str, filter: str, sort: list[tuple[str, bool]],
               format: str) -> bytes:
        sql, params = self._select(object_type, filter, sort)
        cursor = self.realm.cache.cursor()
        try:
            return export_relation(cursor.sql(sql, params=params or None), format)
        finally:
            cursor.close()

    def add_change_listener(self, callback: Callable[[set[str]], None]) -> Callable[[], None]:
        return self.realm.session.add_change_listener(callback)


def _all(removers: list[Callable[[], None]]) -> Callable[[], None]:
    def remove() -> None:
        for remover in removers:
            remover()

    return remove


class WithFallback:
    """A widget that also carries HTML and text for frontends that cannot show widgets."""

    _own = frozenset({"widget", "_html", "_text"})

    def __init__(self, widget: Any, html: str, text: str) -> None:
        object.__setattr__(self, "widget", widget)
        object.__setattr__(self, "_html", html)
        object.__setattr__(self, "_text", text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.widget, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._own:
            object.__setattr__(self, name, value)
        else:
            setattr(self.widget, name, value)

    def __repr__(self) -> str:
        return str(self._text)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        data["text/plain"] = self._text
        data["text/html"] = self._html
        return data, metadata


def _fallback(value: Any) -> tuple[str, str]:
    if isinstance(value, pd.DataFrame):
        return value.to_html(max_rows=50), repr(value)
    import html

    return f"<pre>{html.escape(str(value))}</pre>", str(value)


def sync_status(realm: Realm, fallback: Any) -> WithFallback:
    from .status import SyncStatus

    return WithFallback(SyncStatus(RealmStatusSource(realm)), *_fallback(fallback))


def subscription_manager(realm: Realm, fallback: Any) -> WithFallback:
    from .subscriptions import SubscriptionManager

    return WithFallback(SubscriptionManager(RealmSubscriptionSource(realm)), *_fallback(fallback))


def data_explorer(realm: Realm, object_type: str, filter: str, fallback: Any) -> WithFallback:
    from .explorer import DataExplorer

    return WithFallback(DataExplorer(RealmExplorerSource(realm), object_type, filter=filter),
                        *_fallback(fallback))
