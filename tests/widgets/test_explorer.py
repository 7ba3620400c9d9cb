"""DataExplorer against a real DuckDB table, driven through its comm message handler."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import traitlets

from realm_jupyter.widgets import DataExplorer
from realm_jupyter.widgets.explorer import for_browser
from realm_jupyter.widgets.explorer_export import export_relation
from realm_jupyter.widgets.summaries import column_summaries


class FilterError(ValueError):
    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class DuckSource:
    """An ExplorerSource over an in-memory DuckDB database; a filter is a SQL WHERE fragment."""

    def __init__(self, rows: int = 1000) -> None:
        self.con = duckdb.connect()
        self.con.execute(
            f"""
            CREATE TABLE Task AS
            SELECT i AS _id,
                   'task ' || i AS title,
                   i % 5 AS priority,
                   CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.5 END::DOUBLE AS score,
                   (i / 100)::DECIMAL(10, 2) AS price,
                   TIMESTAMP '2024-01-01 00:00:00' + to_minutes(i) AS created,
                   {{'n': i, 'tag': 'x'}} AS meta,
                   [i, i + 1] AS tags
            FROM range({rows}) t(i)
            """
        )
        self.con.execute("CREATE TABLE Other AS SELECT 1 AS _id, 'a' AS label")
        self.listeners: list[Callable[[set[str]], None]] = []
        self.lock = threading.Lock()

    def _quote(self, object_type: str, column: str | None = None) -> str:
        names = {name for name, _ in self.columns(object_type)} if column else set()
        if column is not None and column not in names:
            raise FilterError(f"unknown column {column!r}", None)
        name = column if column is not None else object_type
        return '"' + name.replace('"', '""') + '"'

    def _where(self, filter: str) -> str:
        return filter if filter.strip() else "TRUE"

    def _error(self, error: duckdb.Error, filter: str) -> FilterError:
        match = re.search(r'"([^"]+)"', str(error))
        position = filter.find(match.group(1)) if match else -1
        message = str(error).splitlines()[0]
        return FilterError(message, position if position >= 0 else None)

    def columns(self, object_type: str) -> list[tuple[str, str]]:
        cursor = self.con.cursor()
        rows = cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [object_type],
        ).fetchall()
        if not rows:
            raise ValueError(f"no such object type {object_type!r}")
        return [(name, kind) for name, kind in rows]

    def count(self, object_type: str, filter: str) -> int:
        cursor = self.con.cursor()
        table = self._quote(object_type)
        try:
            row = cursor.execute(f"SELECT count(*) FROM {table} WHERE {self._where(filter)}").fetchone()
        except duckdb.Error as error:
            raise self._error(error, filter) from error
        assert row is not None
        return int(row[0])

    def page(
        self,
        object_type: str,
        filter: str,
        sort: list[tuple[str, bool]],
        offset: int,
        limit: int,
    ) -> pa.Table:
        keys = [f"{self._quote(object_type, c)} {'ASC' if asc else 'DESC'}" for c, asc in sort]
        order = ", ".join([*keys, '"_id" ASC'])
        sql = (
            f"SELECT * FROM {self._quote(object_type)} WHERE {self._where(filter)} "
            f"ORDER BY {order} LIMIT $1 OFFSET $2"
        )
        try:
            return self.con.cursor().sql(sql, params=[limit, offset]).to_arrow_table()
        except duckdb.Error as error:
            raise self._error(error, filter) from error

    def summaries(self, object_type: str, filter: str) -> list[dict[str, Any]]:
        return column_summaries(self.con.cursor(), object_type, self.columns(object_type),
                                self._where(filter), [])

    def export(self, object_type: str, filter: str, sort: list[tuple[str, bool]],
               format: str) -> bytes:
        keys = [f"{self._quote(object_type, c)} {'ASC' if asc else 'DESC'}" for c, asc in sort]
        sql = (f"SELECT * FROM {self._quote(object_type)} WHERE {self._where(filter)} "
               f"ORDER BY {', '.join([*keys, '_id'])}")
        return export_relation(self.con.cursor().sql(sql), format)

    def add_change_listener(self, callback: Callable[[set[str]], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def notify(self, object_types: set[str]) -> None:
        for listener in list(self.listeners):
            listener(object_types)


class Explorer(DataExplorer):
    """Records what the widget sends instead of needing a frontend."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[tuple[dict[str, Any], list[Any]]] = []
        super().__init__(*args, **kwargs)

    def send(self, content: dict[str, Any], buffers: list[Any] | None = None) -> None:
        self.sent.append((content, list(buffers or [])))


def request_page(
    widget: Explorer, offset: int, limit: int, request_id: str = "v:1"
) -> tuple[dict[str, Any], pa.Table | None]:
    """Send a page request as the browser does; return the reply and its decoded rows."""
    before = len(widget.sent)
    widget._handle_custom_msg(
        {"kind": "page", "request_id": request_id, "offset": offset, "limit": limit}, []
    )
    assert len(widget.sent) == before + 1
    reply, buffers = widget.sent[-1]
    if not buffers:
        return reply, None
    assert len(buffers) == 1
    return reply, pa.ipc.open_stream(buffers[0]).read_all()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The kernel loop stand-in: the explorer only reads, so it never has to run."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def source() -> DuckSource:
    return DuckSource()


@pytest.fixture
def explorer(source: DuckSource, loop: asyncio.AbstractEventLoop) -> Iterator[Explorer]:
    widget = Explorer(source, "Task", loop=loop)
    yield widget
    widget.close()


def test_starts_with_columns_and_count(explorer: Explorer) -> None:
    assert [c["name"] for c in explorer.columns] == [
        "_id",
        "title",
        "priority",
        "score",
        "price",
        "created",
        "meta",
        "tags",
    ]
    assert explorer.columns[5] == {"name": "created", "type": "TIMESTAMP"}
    assert explorer.columns[7]["type"] == "BIGINT[]"
    assert explorer.total_rows == 1000
    assert explorer.filter_error == {}
    assert explorer.page_size == 200


def test_page_reply_holds_the_requested_rows(explorer: Explorer) -> None:
    reply, table = request_page(explorer, 10, 5, "abc:7")
    assert reply == {
        "kind": "page",
        "request_id": "abc:7",
        "offset": 10,
        "rows": 5,
        "revision": explorer.revision,
    }
    assert table is not None
    assert table.column("_id").to_pylist() == [10, 11, 12, 13, 14]


def test_last_page_is_short_and_past_the_end_is_empty(explorer: Explorer) -> None:
    reply, table = request_page(explorer, 990, 200)
    assert reply["rows"] == 10 and table is not None and table.num_rows == 10
    reply, table = request_page(explorer, 5000, 200)
    assert reply["rows"] == 0 and table is not None and table.num_rows == 0


def test_sort_orders_pages_and_bumps_revision(explorer: Explorer, source: DuckSource) -> None:
    revision = explorer.revision
    explorer.set_state({"sort": [{"column": "priority", "ascending": False}]})  # as the browser does
    assert explorer.revision == revision + 1
    reply, table = request_page(explorer, 0, 300)
    assert table is not None and reply["revision"] == explorer.revision
    expected = source.con.sql("SELECT _id FROM Task ORDER BY priority DESC, _id LIMIT 300").fetchall()
    assert table.column("_id").to_pylist() == [row[0] for row in expected]
    explorer.sort = [{"column": "score", "ascending": True}, {"column": "title"}]
    assert explorer.sort[1] == {"column": "title", "ascending": True}
    _, table = request_page(explorer, 0, 3)
    assert table is not None
    assert table.column("score").to_pylist() == [1.5, 3.0, 4.5]


def test_sort_by_an_unknown_column_is_refused(explorer: Explorer) -> None:
    with pytest.raises(traitlets.TraitError, match="unknown column"):
        explorer.sort = [{"column": "nope", "ascending": True}]
    with pytest.raises(traitlets.TraitError, match="twice"):
        explorer.sort = [{"column": "title"}, {"column": "title", "ascending": False}]


def test_filter_recounts_and_pages_follow_it(explorer: Explorer) -> None:
    revision = explorer.revision
    explorer.set_state({"filter": "priority = 2"})
    assert explorer.total_rows == 200
    assert explorer.filter_error == {}
    assert explorer.revision == revision + 1
    _, table = request_page(explorer, 0, 4)
    assert table is not None
    assert table.column("_id").to_pylist() == [2, 7, 12, 17]


def test_bad_filter_sets_filter_error_and_keeps_rows(explorer: Explorer) -> None:
    explorer.filter = "priority = 2"
    revision, total = explorer.revision, explorer.total_rows
    explorer.set_state({"filter": "priorty = 2"})
    assert explorer.filter_error == {
        "message": explorer.filter_error["message"],
        "position": 0,
    }
    assert "priorty" in explorer.filter_error["message"]
    assert explorer.total_rows == total
    assert explorer.revision == revision
    _, table = request_page(explorer, 0, 2)  # still the rows of the last good filter
    assert table is not None and table.column("priority").to_pylist() == [2, 2]
    explorer.filter = "priority = 2 AND _id ?? 3"
    assert explorer.filter_error["position"] == len("priority = 2 AND _id ")
    explorer.filter = "priority = 2"  # back to the applied filter: error gone, nothing recounted
    assert explorer.filter_error == {}
    assert explorer.revision == revision


def test_bad_initial_filter_raises(source: DuckSource, loop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(ValueError, match="priorty"):
        Explorer(source, "Task", filter="priorty = 1", loop=loop)
    assert source.listeners == []


def test_change_listener_bumps_revision_and_recounts(explorer: Explorer, source: DuckSource) -> None:
    revision = explorer.revision
    source.notify({"Other"})
    assert explorer.revision == revision
    source.con.execute("INSERT INTO Task (_id, title, priority) VALUES (1000, 'new', 1)")
    source.notify({"Task", "Other"})
    assert explorer.revision == revision + 1
    assert explorer.total_rows == 1001
    reply, table = request_page(explorer, 1000, 10)
    assert reply["revision"] == explorer.revision
    assert table is not None and table.column("title").to_pylist() == ["new"]


def test_schema_change_drops_sort_on_vanished_columns(explorer: Explorer, source: DuckSource) -> None:
    explorer.sort = [{"column": "tags", "ascending": True}, {"column": "title", "ascending": False}]
    source.con.execute("ALTER TABLE Task DROP COLUMN tags")
    source.notify({"Task"})
    assert "tags" not in [c["name"] for c in explorer.columns]
    assert explorer.sort == [{"column": "title", "ascending": False}]


def test_cells_survive_the_trip(explorer: Explorer) -> None:
    _, table = request_page(explorer, 0, 2)
    assert table is not None
    first = table.to_pylist()[0]
    assert first["score"] is None  # 0 % 7 == 0
    assert first["price"] == "0.00"  # decimals travel as text: JS would show the unscaled int
    assert first["created"] == datetime(2024, 1, 1)
    assert first["meta"] == {"n": 0, "tag": "x"}
    assert first["tags"] == [0, 1]


def test_bad_page_requests_get_an_error_reply(explorer: Explorer) -> None:
    reply, table = request_page(explorer, -1, 10)
    assert table is None
    assert reply["rows"] == 0 and "offset" in reply["error"]
    reply, table = request_page(explorer, 0, 50_000)  # capped, not refused
    assert table is not None and table.num_rows == 1000


def test_page_size_is_validated(explorer: Explorer) -> None:
    with pytest.raises(traitlets.TraitError):
        explorer.page_size = 0
    explorer.page_size = 50
    assert explorer.page_size == 50


def test_object_type_change_reloads(explorer: Explorer) -> None:
    explorer.filter = "priority = 1"
    explorer.sort = [{"column": "title", "ascending": True}]
    revision = explorer.revision
    explorer.object_type = "Other"
    assert [c["name"] for c in explorer.columns] == ["_id", "label"]
    assert explorer.filter == "" and explorer.sort == [] and explorer.total_rows == 1
    assert explorer.revision > revision
    with pytest.raises(traitlets.TraitError, match="no such object type"):
        explorer.object_type = "Nope"
    assert explorer.object_type == "Other"


def test_page_requests_from_threads(explorer: Explorer) -> None:
    """Subshell threads serve pages concurrently with the source's own (thread-safe) reads."""
    errors: list[BaseException] = []

    def ask(n: int) -> None:
        try:
            explorer._handle_custom_msg(
                {"kind": "page", "request_id": f"t:{n}", "offset": n * 10, "limit": 10}, []
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    replies = {content["request_id"]: buffers for content, buffers in explorer.sent}
    for n in range(8):
        table = pa.ipc.open_stream(replies[f"t:{n}"][0]).read_all()
        assert table.column("_id").to_pylist() == list(range(n * 10, n * 10 + 10))


def test_close_removes_the_listener(source: DuckSource, loop: asyncio.AbstractEventLoop) -> None:
    widget = Explorer(source, "Task", loop=loop)
    assert len(source.listeners) == 1
    widget.close()
    assert source.listeners == []
    widget.close()  # twice is fine


def test_repr(explorer: Explorer) -> None:
    assert repr(explorer) == "DataExplorer(Task, 1,000 rows)"
    explorer.filter = "priority = 1"
    explorer.sort = [{"column": "title", "ascending": False}]
    explorer.filter = "nonsense ??"
    assert repr(explorer).startswith(
        "DataExplorer(Task, 200 rows, filter 'nonsense ??', sorted by title desc, filter error: "
    )


def test_for_browser_turns_awkward_types_into_text() -> None:
    table = duckdb.sql(
        "SELECT 12.345::DECIMAL(18,3) AS dec, TIME '12:00:01.5' AS tm, "
        "INTERVAL 3 DAY + INTERVAL 2 HOUR AS iv, 'ab'::BLOB AS bl, "
        "'lo'::ENUM('lo', 'hi') AS e, 42 AS n, NULL::DECIMAL(4,1) AS nd"
    ).to_arrow_table()
    converted = for_browser(table)
    assert converted.to_pylist() == [
        {
            "dec": "12.345",
            "tm": "12:00:01.500000",
            "iv": "3 days 02:00:00",
            "bl": "\\x6162",
            "e": "lo",
            "n": 42,
            "nd": None,
        }
    ]
    assert converted.schema.field("n").type == pa.int32()


def request_copy(widget: Explorer, **fields: Any) -> dict[str, Any]:
    widget._handle_custom_msg({"kind": "copy", "request_id": "c:1", **fields}, [])
    reply, buffers = widget.sent[-1]
    assert buffers == [] and reply["kind"] == "copy" and reply["request_id"] == "c:1"
    return reply


def test_a_large_copy_is_the_views_rows_as_tsv(explorer: Explorer, source: DuckSource) -> None:
    explorer.sort = [{"column": "priority", "ascending": False}]
    explorer.filter = "priority >= 3"
    reply = request_copy(explorer, offset=1, limit=3, columns=["_id", "title", "created", "tags"],
                         header=True)
    expected = source.con.execute(
        "SELECT _id, title, created, tags FROM Task WHERE priority >= 3 "
        "ORDER BY priority DESC, _id LIMIT 3 OFFSET 1").fetchall()
    lines = reply["text"].split("\n")
    assert lines[0] == "_id\ttitle\tcreated\ttags"
    assert [line.split("\t") for line in lines[1:]] == [
        [str(pk), title, created.isoformat(), str(tags)] for pk, title, created, tags in expected]


def test_copy_text_keeps_one_line_per_row_and_nulls_empty(explorer: Explorer) -> None:
    reply = request_copy(explorer, offset=0, limit=8, columns=["score", "meta"], header=False)
    rows = [line.split("\t") for line in reply["text"].split("\n")]
    assert len(rows) == 8 and rows[0][0] == "" and rows[7][0] == ""  # rows 0 and 7 have no score
    assert rows[1] == ["1.5", '{"n": 1, "tag": "x"}']


def test_bad_or_oversized_copies_are_refused_in_one_line(explorer: Explorer) -> None:
    assert "known columns" in request_copy(explorer, offset=0, limit=3, columns=["nope"])["error"]
    assert "offset must be" in request_copy(explorer, offset=-1, limit=3, columns=["_id"])["error"]
    refused = request_copy(explorer, offset=0, limit=10**6, columns=["_id"])["error"]
    assert "explorer.df" in refused and "\n" not in refused


def request(widget: Explorer, kind: str, **fields: Any) -> tuple[dict[str, Any], list[Any]]:
    widget._handle_custom_msg({"kind": kind, "request_id": "r:1", **fields}, [])
    reply, buffers = widget.sent[-1]
    assert reply["kind"] == kind and reply["request_id"] == "r:1"
    return reply, buffers


def test_all_rows_counts_the_type_and_total_rows_the_filter(explorer: Explorer,
                                                            source: DuckSource) -> None:
    assert explorer.all_rows == explorer.total_rows == 1000
    explorer.filter = "priority = 2"
    assert (explorer.total_rows, explorer.all_rows) == (200, 1000)
    source.con.execute("INSERT INTO Task SELECT * REPLACE (_id + 5000 AS _id) FROM Task LIMIT 10")
    source.notify({"Task"})
    assert (explorer.total_rows, explorer.all_rows) == (202, 1010)


def test_summaries_are_duckdbs_over_the_filtered_rows(explorer: Explorer, source: DuckSource) -> None:
    explorer.filter = "priority >= 3"
    reply, buffers = request(explorer, "summaries")
    assert buffers == [] and reply["revision"] == explorer.revision
    by_column = {summary["column"]: summary for summary in reply["summaries"]}
    score = by_column["score"]
    nulls, low, high, count = source.con.execute(
        "SELECT count(*) FILTER (WHERE score IS NULL), min(score), max(score), count(score) "
        "FROM Task WHERE priority >= 3").fetchone()
    assert score["kind"] == "histogram" and score["nulls"] == nulls
    assert score["bins"][0]["low"] == low and score["bins"][-1]["high"] == high
    assert sum(b["count"] for b in score["bins"]) == count
    for chosen in (0, 7, len(score["bins"]) - 1):  # a bar's filter keeps exactly its rows
        where = chosen_bin = score["bins"][chosen]
        explorer.filter = f"priority >= 3 AND {where['filter']}".replace("==", "=")
        assert explorer.total_rows == chosen_bin["count"], chosen_bin
    explorer.filter = "priority >= 3"
    title = by_column["title"]
    assert title["kind"] == "top" and title["distinct"] == 400 and len(title["values"]) == 6
    assert title["other"] == 400 - 6
    assert by_column["meta"]["kind"] == "counts" and by_column["meta"]["nulls"] == 0
    created = by_column["created"]
    assert sum(b["count"] for b in created["bins"]) == 400
    assert created["bins"][0]["low"].startswith("2024-01-01T00:")


def test_exports_hold_the_view_in_its_order(explorer: Explorer, source: DuckSource) -> None:
    import io

    import pyarrow.parquet as pq

    explorer.filter = "priority = 1"
    explorer.sort = [{"column": "score", "ascending": False}]
    reply, (data,) = request(explorer, "export", format="parquet")
    assert reply["filename"] == "Task.parquet" and reply["bytes"] == len(data)
    table = pq.read_table(io.BytesIO(bytes(data)))
    expected = source.con.execute(
        "SELECT _id FROM Task WHERE priority = 1 ORDER BY score DESC, _id").fetchall()
    assert table.column("_id").to_pylist() == [pk for (pk,) in expected]
    assert table.schema.field("meta").type.num_fields == 2  # nested stays nested
    reply, (data,) = request(explorer, "export", format="csv")
    lines = bytes(data).decode().splitlines()
    assert lines[0].split(",")[:3] == ["_id", "title", "priority"] and len(lines) == 201
    assert request(explorer, "export", format="xlsx")[0]["error"].startswith("export format")
    frame = explorer.df
    assert list(frame["_id"]) == [pk for (pk,) in expected]


def test_summaries_for_rows_that_moved_on_are_not_computed(explorer: Explorer) -> None:
    reply, _ = request(explorer, "summaries", revision=explorer.revision - 1)
    assert reply["error"].startswith("stale") and "summaries" not in reply
    reply, _ = request(explorer, "summaries", revision=explorer.revision)
    assert len(reply["summaries"]) == len(explorer.columns)
