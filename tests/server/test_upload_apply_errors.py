"""An operation that is valid on its own but cannot apply to the stored object is compensated.

An add inside an embedded object that is null, or a set that would create an
embedded object without its required field, used to raise inside the store
transaction: the upload answered 500 (after earlier changesets had been
committed) and the client retried it forever.
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
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.support.servers import ServerUnderTest, serving

from .conftest import new_client

PK = "66aa00000000000000000e01"


@pytest.fixture
async def server(tmp_path: Path, store_url: str) -> AsyncIterator[ServerUnderTest]:
    app_dir = Path(shutil.copytree(DEMO_APP_DIR, tmp_path / "app"))
    schema_file = app_dir / "data_sources" / "mongodb-atlas" / "demo" / "Order" / "schema.json"
    schema = json.loads(schema_file.read_text())
    customer = schema["properties"]["customer"]
    customer["properties"]["visits"] = {"bsonType": "int"}
    customer["properties"]["vip_since"] = {"bsonType": "date"}
    customer["required"] = ["vip_since"]
    schema_file.write_text(json.dumps(schema))
    async with serving(store_url, app_dir) as running:
        yield running


def changeset(version: int, ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"client_version": version, "last_server_version": 0, "timestamp": 1_700_000_000_000,
            "ops": ops}


async def test_operations_that_cannot_apply_are_compensated_not_500(
        server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    writer = await new_client(server, http, "carol")  # admin: may write any Order
    await writer.submit(1, {"Order": ["TRUEPREDICATE"]})
    doc = {"_id": PK, "region": "north", "store_id": 1, "status": "placed", "amount": "1.50",
           "ordered_at": "2026-01-01T00:00:00.000Z"}
    answer = await writer.post("sync/upload", {
        "protocol": PROTOCOL_VERSION, "client_id": writer.client_id, "changesets": [
            changeset(1, [{"op": "create", "type": "Order", "pk": PK, "doc": doc}]),
            changeset(2, [{"op": "add_integer", "type": "Order", "pk": PK,
                           "field": "customer.visits", "value": 1}]),
            changeset(3, [{"op": "set", "type": "Order", "pk": PK, "field": "customer.visits",
                           "value": 3}])]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["acked"] == 3
    reasons = {item["client_version"]: item["reason"] for item in body["compensating"]}
    assert set(reasons) == {2, 3}, body
    assert "null" in reasons[2] and "vip_since" in reasons[3]
    assert (await writer.post("sync/mark", {"client_id": writer.client_id})).status_code == 200
