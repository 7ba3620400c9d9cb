"""Field-level write rules hold for inserts too: an insert may not set a field the user may not write.

The app's ``regional`` role here may insert Orders of its regions, and write
every field but ``customer``, which it may neither read nor write. An update of
``customer`` was already compensated; an insert that set it went through.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.documents import from_plain
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import ServerUnderTest, serving

from .conftest import SyncClient, new_client


@pytest.fixture
async def server(tmp_path: Path, store_url: str) -> AsyncIterator[ServerUnderTest]:
    app_dir = Path(shutil.copytree(DEMO_APP_DIR, tmp_path / "app"))
    rules_file = app_dir / "data_sources" / "mongodb-atlas" / "demo" / "Order" / "rules.json"
    rules = json.loads(rules_file.read_text())
    regional = next(role for role in rules["roles"] if role["name"] == "regional")
    regional["document_filters"]["write"] = {"region": {"$in": "%%user.custom_data.teams"}}
    regional.update(insert=True, delete=True,
                    fields={"customer": {"read": False, "write": False}},
                    additional_fields={"read": True, "write": True})
    rules_file.write_text(json.dumps(rules))
    async with serving(store_url, app_dir) as running:
        yield running


def order(pk: str, **fields: Any) -> dict[str, Any]:
    return {"_id": pk, "region": "north", "store_id": 1, "status": "placed",
            "amount": "9.90", "ordered_at": "2026-01-02T03:04:05.000Z", "skus": [], **fields}


async def insert(alice: SyncClient, version: int, doc: dict[str, Any]) -> dict[str, Any]:
    answer = await alice.post("sync/upload", {
        "protocol": PROTOCOL_VERSION, "client_id": alice.client_id,
        "changesets": [{"client_version": version, "timestamp": 1_700_000_000_000,
                        "last_server_version": 0,
                        "ops": [{"op": "create", "type": "Order", "pk": doc["_id"], "doc": doc}]}]})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def stored(server: ServerUnderTest, pk: str) -> dict[str, Any] | None:
    key = from_plain(server.service.app.schema["Order"], {"_id": pk})["_id"]
    found = (await server.store.get_documents("Order", [key])).get(key)
    return None if found is None else dict(found)


async def test_an_insert_that_sets_a_hidden_unwritable_field_is_compensated(
        server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    alice = await new_client(server, http, "alice")  # member of the north team
    await alice.submit(1, {"Order": ["region == 'north'"]})

    planted = "66aa00000000000000000d01"
    answer = await insert(alice, 1, order(planted, customer={"name": "Mallory", "city": "Köln"}))
    (compensation,) = answer["compensating"]
    assert compensation["primary_key"] == planted
    assert "'customer' is not writable" in compensation["reason"]
    assert await stored(server, planted) is None

    allowed = "66aa00000000000000000d02"
    answer = await insert(alice, 2, order(allowed))
    assert answer["compensating"] == []
    document = await stored(server, allowed)
    assert document is not None and document["customer"] is None
