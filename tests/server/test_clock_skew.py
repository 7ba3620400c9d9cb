"""A client's clock cannot freeze a field: timestamps are clamped, and only concurrent writes race.

A write stamped in the year 2200 used to win every later conflict on its field:
later writes were acknowledged and silently dropped, for everyone, for two
centuries. Now its stamp is clamped to the server's clock plus a small skew, and
a write made after seeing another is applied over it whatever the clocks say.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from realm_jupyter.documents import from_plain
from realm_jupyter.server.merge import MAX_CLOCK_SKEW_MS, client_stamp
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import ServerUnderTest

from .conftest import SyncClient, demo_rows, new_client

YEAR_2200_MS = 7_258_118_400_000


def now_ms() -> int:
    return int(time.time() * 1000)


async def write(client: SyncClient, version: int, timestamp: int, seen: int,
                ops: list[dict[str, Any]]) -> None:
    answer = await client.post("sync/upload", {
        "protocol": PROTOCOL_VERSION, "client_id": client.client_id,
        "changesets": [{"client_version": version, "timestamp": timestamp,
                        "last_server_version": seen, "ops": ops}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["acked"] == version and answer.json()["compensating"] == [], answer.text


def set_summary(pk: str, value: str) -> dict[str, Any]:
    return {"op": "set", "type": "Item", "pk": pk, "field": "summary", "value": value}


def tag(kind: str, pk: str, value: str) -> dict[str, Any]:
    return {"op": kind, "type": "Item", "pk": pk, "field": "tags", "value": value}


async def writer(server: ServerUnderTest, http: httpx.AsyncClient) -> SyncClient:
    client = await new_client(server, http, "carol")  # admin: writes any Item
    assert (await client.submit(1, {"Item": ["TRUEPREDICATE"]})).status_code == 200
    return client


async def document(server: ServerUnderTest, pk: str) -> dict[str, Any]:
    key = from_plain(server.service.app.schema["Item"], {"_id": pk})["_id"]
    found = await server.store.get_documents("Item", [key])
    return dict(found[key])


async def clock(server: ServerUnderTest, pk: str) -> dict[str, Any]:
    key = from_plain(server.service.app.schema["Item"], {"_id": pk})["_id"]

    def read(tx: Any) -> str | None:
        return str(tx.get_clock("Item", key))

    text, _ = await server.store.write(read)
    return dict(orjson.loads(text))


def test_a_stamp_is_clamped_to_the_server_clock_plus_the_skew() -> None:
    assert client_stamp(YEAR_2200_MS, "c", 1_000).timestamp == 1_000 + MAX_CLOCK_SKEW_MS
    assert client_stamp(900, "c", 1_000).timestamp == 900
    assert MAX_CLOCK_SKEW_MS <= 5 * 60_000


async def test_a_write_from_the_future_does_not_freeze_a_field(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    future, later = await writer(demo_server, http), await writer(demo_server, http)
    pk = str(demo_rows()["Item"][0]["_id"])

    seen = await future.latest()
    before = now_ms()
    await write(future, 1, YEAR_2200_MS, seen, [set_summary(pk, "from 2200"),
                                                 tag("set_add", pk, "frozen")])
    stamp = (await clock(demo_server, pk))["fields"]["summary"]["k"][0]
    assert before <= stamp - MAX_CLOCK_SKEW_MS <= now_ms()

    # another client that has seen that write writes the field in real time: its write stands
    seen = await later.latest()
    await write(later, 1, now_ms(), seen, [set_summary(pk, "written now"),
                                            tag("set_remove", pk, "frozen")])
    stored = await document(demo_server, pk)
    assert stored["summary"] == "written now" and "frozen" not in stored["tags"]

    # and so does the writer's own next write, even though its clock went back 174 years
    await write(future, 2, now_ms(), await future.latest(), [set_summary(pk, "back to now")])
    assert (await document(demo_server, pk))["summary"] == "back to now"


async def test_concurrent_writes_are_still_ordered_by_their_stamps(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    first, second = await writer(demo_server, http), await writer(demo_server, http)
    pk = str(demo_rows()["Item"][1]["_id"])
    seen = await first.latest()
    # both wrote having seen the same version; the later stamp wins whatever the arrival order
    await write(second, 1, now_ms(), seen, [set_summary(pk, "later")])
    await write(first, 1, now_ms() - 60_000, seen, [set_summary(pk, "earlier")])
    assert (await document(demo_server, pk))["summary"] == "later"
