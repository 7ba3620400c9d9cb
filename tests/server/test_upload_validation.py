"""Uploaded values are checked against their type and range before anything is written.

A value some replica cannot hold must never be acknowledged: a decimal with 40
digits, once stored, makes every client holding its document fail to load it
into DuckDB (DECIMAL(38, 9)), other users' and fresh bootstraps included. A
malformed value (a string for a list, an unparsable key or date, an integer past
64 bits) is refused too, with the field named — never a 500, never a silent
coercion — and the connection stays usable for the next request.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from realm_jupyter.cache.ddl import DECIMAL_TYPE
from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.documents import (
    DECIMAL_FRACTION_DIGITS,
    DECIMAL_INTEGER_DIGITS,
    from_plain,
    validate_value,
)
from realm_jupyter.schema import Property, PropertyType
from realm_jupyter.server import uploads
from realm_jupyter.server.appdir import load_app
from realm_jupyter.server.importer import InvalidDocumentsError, read_documents
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import ServerUnderTest

from .conftest import SyncClient, demo_rows, new_client

NEW = "66aa00000000000000000c01"
OTHER = "66aa00000000000000000c02"
GOOD_ORDER: dict[str, Any] = {
    "_id": NEW, "region": "north", "store_id": 3, "status": "placed", "channel": "web",
    "amount": "12.50", "quantity": 1, "discount": 0.25, "is_gift": False,
    "ordered_at": "2026-01-02T03:04:05.000Z",
    "customer": {"name": "Ada", "city": "Köln", "country": "DE"}, "skus": ["a-1"],
}


def order(**fields: Any) -> dict[str, Any]:
    return {**GOOD_ORDER, **fields}


def create(doc: dict[str, Any], pk: Any = NEW) -> dict[str, Any]:
    return {"op": "create", "type": "Order", "pk": pk, "doc": doc}


def changeset(version: int, ops: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"client_version": version, "last_server_version": 0, "timestamp": 1_700_000_000_000,
            "ops": ops, **fields}


def existing_order() -> str:
    return str(demo_rows()["Order"][0]["_id"])


def on_existing(op: str, field: str, **fields: Any) -> dict[str, Any]:
    return {"op": op, "type": "Order", "pk": existing_order(), "field": field, **fields}


# (what is wrong, the bad changeset, a word the error must contain)
BAD: list[tuple[str, dict[str, Any], str]] = [
    # point 13: malformed values
    ("an unparsable ObjectId key", changeset(2, [create(order(_id="zz"), pk="zz")]), "Order._id"),
    ("a number for an ObjectId key", changeset(2, [create(order(), pk=5)]), "Order._id"),
    ("no key", changeset(2, [{"op": "delete", "type": "Order"}]), "Order._id"),
    ("a year-0 date", changeset(2, [create(order(ordered_at="0000-01-01T00:00:00.000Z"))]),
     "Order.ordered_at"),
    ("a number for a date", changeset(2, [create(order(ordered_at=5))]), "Order.ordered_at"),
    ("text that is no date", changeset(2, [create(order(ordered_at="yesterday"))]),
     "Order.ordered_at"),
    ("1e300 for an int", changeset(2, [create(order(store_id=1e300))]), "Order.store_id"),
    ("2^63 for an int", changeset(2, [create(order(store_id=2**63))]), "Order.store_id"),
    ("2^70 for an int", changeset(2, [create(order(store_id=2**70))]), "Order.store_id"),
    ("text for an int", changeset(2, [create(order(store_id="3"))]), "Order.store_id"),
    ("a string for an embedded object", changeset(2, [create(order(customer="Köln"))]),
     "Order.customer"),
    ("an unknown embedded field",
     changeset(2, [create(order(customer={"name": "x", "planet": "Mars"}))]), "planet"),
    ("a number for an embedded string", changeset(2, [create(order(customer={"name": 5}))]),
     "Order.customer.name"),
    ("a string for a list", changeset(2, [create(order(skus="abc"))]), "Order.skus"),
    ("a number in a list of strings", changeset(2, [create(order(skus=["a", 1]))]),
     "Order.skus[1]"),
    ("a null in a list", changeset(2, [create(order(skus=[None]))]), "Order.skus[0]"),
    ("an unknown field", changeset(2, [create(order(colour="red"))]), "colour"),
    ("a required field null", changeset(2, [create(order(region=None))]), "Order.region"),
    ("a NUL character", changeset(2, [create(order(status="pla\x00ced"))]), "Order.status"),
    ("a 2^70 timestamp", changeset(2, [create(order())], timestamp=2**70), "timestamp"),
    ("a text timestamp", changeset(2, [create(order())], timestamp="1700000000000"), "timestamp"),
    ("a 2^63 client version", changeset(2**63, [create(order())]), "client_version"),
    ("a fractional client version", changeset(2, [create(order())], client_version=2.5),
     "client_version"),
    ("a negative server version", changeset(2, [create(order())], last_server_version=-1),
     "last_server_version"),
    ("an unknown changeset key", changeset(2, [create(order())], extra=1), "extra"),
    ("an unknown operation key", changeset(2, [{**create(order()), "valeu": 1}]), "valeu"),
    ("text for a whole list on set", changeset(2, [on_existing("set", "skus", value="abc")]),
     "Order.skus"),
    ("text for an embedded object on set",
     changeset(2, [on_existing("set", "customer", value="Köln")]), "Order.customer"),
    ("a 2^63 add", changeset(2, [on_existing("add_integer", "quantity", value=2**63)]),
     "Order.quantity"),
    ("a 2^40 list position",
     changeset(2, [on_existing("list_insert", "skus", index=2**40, value="x")]), "index"),
    ("a boolean list position",
     changeset(2, [on_existing("list_insert", "skus", index=True, value="x")]), "index"),
    ("a number inserted into a list of strings",
     changeset(2, [on_existing("list_insert", "skus", index=0, value=5)]), "Order.skus[]"),
    ("a set of an unknown field", changeset(2, [on_existing("set", "nosuch", value=1)]), "nosuch"),
    # point 3: values a replica cannot hold
    ("a 40-digit decimal", changeset(2, [create(order(amount="1" + "0" * 39))]), "Order.amount"),
    ("1e6145", changeset(2, [create(order(amount="1e6145"))]), "Order.amount"),
    ("a decimal with 30 integer digits", changeset(2, [create(order(amount="1" * 30))]),
     "Order.amount"),
    ("a decimal with 10 fraction digits", changeset(2, [create(order(amount="0.1234567891"))]),
     "Order.amount"),
    ("a 35-digit decimal", changeset(2, [create(order(amount="1" * 26 + "." + "1" * 9))]),
     "Order.amount"),
    ("a NaN decimal", changeset(2, [create(order(amount="NaN"))]), "Order.amount"),
    ("an infinite decimal", changeset(2, [create(order(amount="-Infinity"))]), "Order.amount"),
    ("a NaN double", changeset(2, [create(order(discount="NaN"))]), "Order.discount"),
    ("an infinite double", changeset(2, [create(order(discount="Infinity"))]), "Order.discount"),
    ("1e6145 on set", changeset(2, [on_existing("set", "amount", value="1e6145")]),
     "Order.amount"),
]


async def stored(server: ServerUnderTest, pk: str) -> dict[str, Any] | None:
    key = from_plain(server.service.app.schema["Order"], {"_id": pk})["_id"]
    found = (await server.store.get_documents("Order", [key])).get(key)
    return None if found is None else dict(found)


async def upload(writer: SyncClient, changesets: list[dict[str, Any]]) -> httpx.Response:
    return await writer.post("sync/upload", {"protocol": PROTOCOL_VERSION,
                                             "client_id": writer.client_id,
                                             "changesets": changesets})


def local_port(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("client_addr")


async def test_bad_values_are_refused_naming_the_field_and_nothing_is_written(
        demo_server: ServerUnderTest, tmp_path: Path) -> None:
    # One connection, so "the next request still works" means on the same socket.
    async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=1)) as http:
        carol = await new_client(demo_server, http, "carol")  # admin: may insert Orders
        assert (await carol.submit(1, {"Order": ["TRUEPREDICATE"]})).status_code == 200
        before = await demo_server.store.latest_version()
        existing = await stored(demo_server, existing_order())
        good_first = changeset(1, [create(order(_id=OTHER), pk=OTHER)])
        wrong = []
        for what, bad, field in BAD:
            answer = await upload(carol, [good_first, bad])
            error = answer.json().get("error", "") if answer.status_code < 500 else answer.text
            if answer.status_code != 400 or field not in error:
                wrong.append(f"{what}: {answer.status_code} {error[:160]}")
            elif answer.headers.get("connection", "").lower() == "close":
                wrong.append(f"{what}: the server closed the connection")
            probe = await carol.post("sync/mark", {"client_id": carol.client_id})
            if probe.status_code != 200 or local_port(probe) != local_port(answer):
                wrong.append(f"{what}: the next request on the connection failed")
        assert not wrong, "\n".join(wrong)
        # nothing was written, not even the good changeset sent with each bad one
        assert await demo_server.store.latest_version() == before
        assert await stored(demo_server, OTHER) is None and await stored(demo_server, NEW) is None
        assert await stored(demo_server, existing_order()) == existing
        # the same good changeset on its own is acknowledged
        answer = await upload(carol, [good_first])
        assert answer.status_code == 200 and answer.json()["acked"] == 1, answer.text

    # everyone still syncs: a second user's raw client and a fresh DuckDB cache
    async with httpx.AsyncClient(timeout=20) as http:
        alice = await new_client(demo_server, http, "alice")
        await alice.submit(1, {"Order": ["TRUEPREDICATE"]})
        async with alice.stream() as frames:
            await alice.sync(frames)
        assert alice.replica.pks("Order")
    async with demo_server.realm("carol@example.com", tmp_path / "fresh.duckdb") as realm:
        frame = await realm.subscribe("Order", timeout=30)
        assert OTHER in {str(pk) for pk in frame["_id"]}
        assert len(frame) == len(demo_rows()["Order"]) + 1


@pytest.mark.parametrize("amount", ["99999999999999999999999999999.999", "-0.000000001",
                                    "0E-20", "1E+28", "12.500000000000"])
async def test_decimals_the_cache_holds_are_acknowledged_and_load(
        demo_server: ServerUnderTest, http: httpx.AsyncClient, tmp_path: Path,
        amount: str) -> None:
    carol = await new_client(demo_server, http, "carol")
    await carol.submit(1, {"Order": ["TRUEPREDICATE"]})
    answer = await upload(carol, [changeset(1, [create(order(amount=amount))])])
    assert answer.status_code == 200 and answer.json()["compensating"] == [], answer.text
    async with demo_server.realm("alice@example.com", tmp_path / "alice.duckdb") as realm:
        frame = await realm.subscribe("Order", "region == 'north'", timeout=30)
        row = frame[frame["_id"].astype(str) == NEW]
        assert len(row) == 1
        assert row["amount"].iloc[0] == (await stored(demo_server, NEW) or {})["amount"]


def test_the_decimal_limits_are_the_caches() -> None:
    total = DECIMAL_INTEGER_DIGITS + DECIMAL_FRACTION_DIGITS
    assert f"DECIMAL({total}, {DECIMAL_FRACTION_DIGITS})" == DECIMAL_TYPE


@pytest.mark.parametrize(("value", "why"), [
    ({"$numberDecimal": "1E+6144"}, "digits before the decimal point"),
    ({"$numberDecimal": "0.1234567891"}, "digits after the decimal point"),
    ({"$numberDecimal": "NaN"}, "NaN"),
    ("1" * 40, "significant digits"),
])
def test_imported_and_seed_documents_get_the_same_checks(tmp_path: Path, value: Any,
                                                         why: str) -> None:
    schema = load_app(DEMO_APP_DIR).schema["Order"]
    document = {**GOOD_ORDER, "_id": {"$oid": NEW}, "ordered_at": {"$date": "2026-01-02T03:04:05Z"},
                "amount": value}
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([document]))
    with pytest.raises(InvalidDocumentsError, match=r"Order\.amount") as caught:
        read_documents(path, schema)
    assert why in str(caught.value)


def test_a_set_keeps_the_first_of_equal_elements() -> None:
    element = Property("codes", PropertyType.STRING, required=True)
    codes = Property("codes", PropertyType.ARRAY, items=element, unique_items=True)
    values = [str(n % 1000) for n in range(100_000)]
    assert validate_value(codes, values, "T.codes") == [str(n) for n in range(1000)]


async def test_a_large_upload_is_validated_off_the_event_loop(
        demo_server: ServerUnderTest, http: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds of validation on the event loop would stall every other client meanwhile."""
    carol = await new_client(demo_server, http, "carol")
    await carol.submit(1, {"Order": ["TRUEPREDICATE"]})
    threads: list[threading.Thread] = []
    real = uploads._parse_changeset

    def observed(*args: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(uploads, "_parse_changeset", observed)
    pk = existing_order()
    small = [{"op": "set", "type": "Order", "pk": pk, "field": "status", "value": "placed"}]
    large = small * (uploads.PARSE_INLINE_OPERATIONS + 1)
    large = [*large, {"op": "set", "type": "Order", "pk": pk, "field": "amount", "value": "1e6145"}]
    for ops in (small, large):
        answer = await upload(carol, [changeset(1, ops)])
        assert answer.status_code in (200, 400), answer.text
    assert answer.status_code == 400 and "Order.amount" in answer.text
    assert threads[0] is threading.main_thread() and threads[1] is not threading.main_thread()
