"""Sessions across connections: resumed bootstraps, permission changes, trimmed history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

import realm_jupyter.server.session as session_module
from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.demo.generate import generate
from realm_jupyter.server.storage.bulk import BULK_HISTORY_LIMIT
from realm_jupyter.server.storage.sql import now_ms
from tests.support.servers import ServerUnderTest, serving

from .conftest import USERS, demo_rows, may_read, new_client, server_put, split_upserts

ALICE = USERS["alice"]


async def test_an_interrupted_bootstrap_resumes_after_its_last_batch(
        demo_server: ServerUnderTest, http: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "BATCH_ROWS", 20)
    orders = sorted(r["_id"] for r in demo_rows()["Order"])
    carol = await new_client(demo_server, http, "carol")
    await carol.submit(1, {"Order": ["TRUEPREDICATE"]})
    async with carol.stream() as frames:
        first = await frames.until(lambda h: h["t"] == "batch" and h["received"] == 60,
                                   replica=carol.replica)
    begin = next(h for h, _ in first if h["t"] == "bootstrap_begin")
    batches = [h for h, _ in first if h["t"] == "batch"]
    assert [h["rows"] for h in batches] == [20, 20, 20]
    sent = orders[:60]
    assert batches[-1]["after"] == sent[-1]
    # while carol is away, one order she already holds changes, and one she does not yet
    early, late = sent[5], orders[100]
    await server_put(demo_server, "Order", early, lambda d: d.update(quantity=500))
    await server_put(demo_server, "Order", late, lambda d: d.update(quantity=501))

    resume = {"version": 1, "kind": begin["kind"], "first_snapshot": begin["first_snapshot"],
              "step": batches[-1]["step"], "after": batches[-1]["after"]}
    async with carol.stream(bootstrap=resume) as frames:
        second = await carol.sync(frames)
    again = next(h for h, _ in second if h["t"] == "bootstrap_begin")
    assert again["first_snapshot"] == begin["first_snapshot"] < again["snapshot"]
    resent = [row["_id"] for h, p in second if h["t"] == "batch"
              for row in _rows(p)]
    assert resent == orders[60:]  # continues after the last batch, nothing sent twice
    end = next(h for h, _ in second if h["t"] == "bootstrap_end")
    assert end["replay_from"] == begin["first_snapshot"]
    held = carol.replica.docs["Order"]
    assert sorted(held) == orders
    assert (held[early]["quantity"], held[late]["quantity"]) == (500, 501)
    # only documents that changed during the cut come again (in the replay of the history
    # since the first snapshot): the early one must, to bring its finished batch up to date
    twice = {pk for (_, pk), n in carol.replica.received.items() if n > 1}
    assert early in twice and twice <= {early, late}


def _rows(payload: bytes | None) -> list[dict[str, Any]]:
    from realm_jupyter.wire import decode_ipc

    return decode_ipc(payload or b"").to_pylist()


async def test_new_custom_user_data_ends_the_stream_and_changes_permissions_at_the_next_session(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    rows = demo_rows()
    profile = next(r for r in rows["UserProfile"] if r["user_id"] == ALICE.id)
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["TRUEPREDICATE"]})
    south = next(r for r in rows["Item"] if r["team"] == "south" and r["owner_id"] != ALICE.id)
    north = next(r for r in rows["Item"] if r["team"] == "north" and r["owner_id"] != ALICE.id)
    async with alice.stream() as frames:
        await alice.sync(frames)
        assert alice.replica.pks("Item") == {r["_id"] for r in rows["Item"]
                                             if may_read("alice", "Item", r)}
        await server_put(demo_server, "UserProfile", profile["_id"],
                         lambda d: d.update(teams=["south"]))
        # the permissions this session started with no longer hold: it ends, and nothing
        # written after the change is judged by them
        await server_put(demo_server, "Item", south["_id"], lambda d: d.update(priority=1))
        await server_put(demo_server, "Item", north["_id"], lambda d: d.update(priority=2))
        seen = await frames.until(lambda h: h["t"] == "error", replica=alice.replica)
        assert {k: seen[-1][0][k] for k in ("code", "error_code", "action")} == {
            "code": 229, "error_code": "PermissionsChanged", "action": "RefreshUser"}
        arrived = [r["_id"] for h, p in seen for r in split_upserts(h, p).get("Item", [])]
        assert north["_id"] not in arrived
    async with alice.stream() as frames:
        seen = await alice.sync(frames)
    begin = next(h for h, _ in seen if h["t"] == "bootstrap_begin")
    assert (begin["kind"], begin["version"]) == ("full", 1)  # no reset, a new bootstrap
    assert alice.replica.pks("Item") == {r["_id"] for r in rows["Item"]
                                         if r["owner_id"] == ALICE.id or r["team"] == "south"}
    assert alice.replica.docs["Item"][south["_id"]]["priority"] == 1
    async with alice.stream() as frames:  # the next session: nothing to re-bootstrap
        await alice.catch_up(frames)
        await server_put(demo_server, "Item", south["_id"], lambda d: d.update(priority=3))
        seen = await alice.catch_up(frames)
    assert not any(h["t"] == "bootstrap_begin" for h, _ in seen)
    assert alice.replica.docs["Item"][south["_id"]]["priority"] == 3


async def test_a_new_set_after_missed_writes_catches_the_old_view_up(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    rows = demo_rows()["Item"]
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["status == 'open'"]})
    async with alice.stream() as frames:
        await alice.sync(frames)
    held = next(r for r in rows if r["_id"] in alice.replica.pks("Item") and r["priority"] < 4)
    await server_put(demo_server, "Item", held["_id"], lambda d: d.update(priority=5))
    await alice.submit(2, {"Item": ["priority >= 4"]})
    async with alice.stream() as frames:
        seen = await alice.sync(frames, 2)
    assert next(h for h, _ in seen if h["t"] == "bootstrap_begin")["kind"] == "diff"
    assert alice.replica.docs["Item"][held["_id"]]["priority"] == 5
    assert alice.replica.pks("Item") == {r["_id"] for r in rows if may_read("alice", "Item", r)
                                         and (r["priority"] >= 4 or r["_id"] == held["_id"])}


async def test_a_client_behind_the_trim_point_must_reset(demo_server: ServerUnderTest,
                                                         http: httpx.AsyncClient) -> None:
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Item": ["TRUEPREDICATE"]})
    async with alice.stream() as frames:
        await alice.sync(frames)
    version = await server_put(demo_server, "Item", demo_rows()["Item"][0]["_id"],
                               lambda d: d.update(priority=1))
    assert await demo_server.store.trim_history(now_ms() + 1) == version
    async with alice.stream() as frames:
        seen = await frames.until(lambda h: h["t"] == "error")
    assert (seen[-1][0]["code"], seen[-1][0]["action"]) == (222, "ClientReset")
    # a client with nothing in view has nothing to replay: it just bootstraps
    fresh = await new_client(demo_server, http, "alice")
    await fresh.submit(1, {"Item": ["TRUEPREDICATE"]})
    async with fresh.stream() as frames:
        await fresh.sync(frames)
    assert fresh.replica.pks("Item") == alice.replica.pks("Item")


async def test_a_connected_client_behind_a_compacting_load_must_reset(
        demo_server: ServerUnderTest, http: httpx.AsyncClient) -> None:
    orders = generate(BULK_HISTORY_LIMIT * 5 // 4, seed=99)["Order"]
    assert orders.num_rows > BULK_HISTORY_LIMIT
    alice = await new_client(demo_server, http, "alice")
    await alice.submit(1, {"Order": ["TRUEPREDICATE"]})
    async with alice.stream() as frames:
        await alice.sync(frames)
        version = await demo_server.store.bulk_load(demo_server.service.app.schema["Order"],
                                                    orders)
        seen = await frames.until(lambda h: h["t"] == "error" or (
            h["t"] == "changes" and h["server_version"] >= version))
    # skipping the load would leave alice without the new north orders, silently
    assert (seen[-1][0]["t"], seen[-1][0].get("code")) == ("error", 222), seen[-1][0]


async def test_recovery_disabled_apps_ask_for_a_reset_without_recovery(
        tmp_path: Path, http: httpx.AsyncClient) -> None:
    app_dir = Path(shutil.copytree(DEMO_APP_DIR, tmp_path / "app"))
    sync_file = app_dir / "sync" / "config.json"
    config = json.loads(sync_file.read_text())
    config["is_recovery_mode_disabled"] = True
    sync_file.write_text(json.dumps(config))
    async with serving(f"sqlite:///{tmp_path / 'store.sqlite3'}", app_dir) as server:
        alice = await new_client(server, http, "alice")
        await alice.submit(1, {"Item": ["TRUEPREDICATE"]})
        async with alice.stream() as frames:
            await alice.sync(frames)
        await server_put(server, "Item", demo_rows()["Item"][0]["_id"],
                         lambda d: d.update(priority=1))
        await server.store.trim_history(now_ms() + 1)
        async with alice.stream() as frames:
            (error, _), = [f for f in await frames.until(lambda h: h["t"] == "error")
                           if f[0]["t"] == "error"]
        assert (error["code"], error["action"]) == (222, "ClientResetNoRecovery")
        # an unknown client id is a reset too (a store restored from a backup)
        stranger = await new_client(server, http, "alice")
        stranger.client_id = "0" * 24
        response = await stranger.post("sync/stream", stranger.body())
        assert response.status_code == 404 and response.json()["sync_code"] == 208
