"""Snapshots over real HTTP: save from a synced realm, open with no server, compare."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from realm_jupyter import ReadOnlySnapshotError, Realm, SnapshotError
from realm_jupyter.widgets.sources import RealmExplorerSource
from tests.client.conftest import Clients
from tests.client.support import ALICE, CAROL
from tests.support.servers import PASSWORDS


async def synced(clients: Clients, email: str = CAROL.email) -> Realm:
    """A realm subscribed to every type of the demo schema, with one local change applied."""
    realm = await clients.open(email)
    for object_type in realm.schema.names:
        await realm.subscribe(object_type, name=f"all-{object_type}")
    return realm


async def test_every_type_round_trips_with_its_dtypes(clients: Clients, tmp_path: Path) -> None:
    live = await synced(clients)
    manifest = live.save_snapshot(tmp_path / "snap")
    with Realm.open_snapshot(tmp_path / "snap") as snapshot:
        assert snapshot.schema.names == live.schema.names
        for object_type in live.schema.names:
            expected = live.df(object_type)
            assert len(expected) > 0, object_type
            pd.testing.assert_frame_equal(snapshot.df(object_type), expected)
            pd.testing.assert_frame_equal(snapshot.df(object_type, index=True),
                                          live.df(object_type, index=True))
        pd.testing.assert_frame_equal(snapshot.query("Item", "priority >= 3 SORT(priority DESC)"),
                                      live.query("Item", "priority >= 3 SORT(priority DESC)"))
        sql = 'SELECT status, count(*) AS n FROM "Item" GROUP BY status ORDER BY status'
        pd.testing.assert_frame_equal(snapshot.sql(sql), live.sql(sql))
        pd.testing.assert_frame_equal(snapshot.changes(), live.changes())
        assert snapshot.row_counts() == live.row_counts()
        assert snapshot.server_version == live.cache.cursor_version == manifest["server_version"]
        names = sorted(s.name or "" for s in snapshot.subscriptions)
        assert names == sorted(s.name or "" for s in live.subscriptions)
        assert snapshot.subscriptions.version == live.subscriptions.version


async def test_the_manifest_says_where_from_and_holds_no_secret(clients: Clients,
                                                               tmp_path: Path) -> None:
    live = await synced(clients)
    live.save_snapshot(tmp_path / "snap")
    text = (tmp_path / "snap" / "manifest.json").read_text()
    manifest = json.loads(text)
    assert manifest["app_id"] == live.app.app_id
    assert manifest["server_url"] == live.app.base_url
    assert manifest["user_id"] == live.user.id
    assert manifest["server_version"] == live.cache.cursor_version
    assert manifest["pending_uploads"] == 0
    assert manifest["schema"] == live.schema.to_json()
    assert {q["name"] for q in manifest["subscriptions"]["queries"]} == {
        f"all-{t}" for t in live.schema.names}
    assert set(manifest["files"]) == {f"{t}.parquet" for t in live.schema.names} | {
        "_realm/changes.parquet", "_realm/rejected_writes.parquet"}
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    for secret in (await live.user.access_token(), live.user._refresh_token,
                   PASSWORDS[CAROL.email]):
        assert secret and secret not in text
    assert "token" not in text.lower() and "password" not in text.lower()


async def test_a_snapshot_refuses_writes_subscriptions_and_session_controls(
        clients: Clients, tmp_path: Path) -> None:
    live = await synced(clients)
    live.save_snapshot(tmp_path / "snap")
    with Realm.open_snapshot(tmp_path / "snap") as snapshot:
        before = snapshot.df("Item")
        with pytest.raises(ReadOnlySnapshotError, match="read-only snapshot"):
            snapshot.write()
        with pytest.raises(ReadOnlySnapshotError, match="read-only snapshot"):
            await snapshot.subscribe("Item", "priority > 1")
        with pytest.raises(ReadOnlySnapshotError, match="read-only snapshot"):
            snapshot.unsubscribe(all=True)
        with pytest.raises(ReadOnlySnapshotError, match="read-only snapshot"):
            async with snapshot.subscriptions.update() as mutable:
                mutable.clear()
        with pytest.raises(ReadOnlySnapshotError, match="read-only snapshot"):
            snapshot.session.pause()
        with pytest.raises(ReadOnlySnapshotError, match="read-only snapshot"):
            await snapshot.session.wait_for_download()
        with pytest.raises(ReadOnlySnapshotError, match="read-only snapshot"):
            snapshot.sql('DELETE FROM "Item"')
        pd.testing.assert_frame_equal(snapshot.df("Item"), before)


async def test_an_altered_or_missing_file_is_refused_naming_it(clients: Clients,
                                                               tmp_path: Path) -> None:
    live = await synced(clients)
    live.save_snapshot(tmp_path / "snap")
    item = tmp_path / "snap" / "Item.parquet"
    original = item.read_bytes()
    item.write_bytes(original[:-9] + bytes([original[-9] ^ 1]) + original[-8:])
    with pytest.raises(SnapshotError, match=r"Item\.parquet was altered"):
        Realm.open_snapshot(tmp_path / "snap")
    item.unlink()
    with pytest.raises(SnapshotError, match=r"Item\.parquet is missing"):
        Realm.open_snapshot(tmp_path / "snap")
    (tmp_path / "snap" / "manifest.json").unlink()
    with pytest.raises(SnapshotError, match=r"manifest\.json is missing"):
        Realm.open_snapshot(tmp_path / "snap")


async def test_saving_again_replaces_a_snapshot_but_never_other_files(clients: Clients,
                                                                      tmp_path: Path) -> None:
    live = await synced(clients, ALICE.email)
    live.save_snapshot(tmp_path / "snap")
    with live.write() as tx:
        tx.create("Item", {"owner_id": live.user.id, "summary": "after the first snapshot"})
    live.save_snapshot(tmp_path / "snap")
    with Realm.open_snapshot(tmp_path / "snap") as snapshot:
        pd.testing.assert_frame_equal(snapshot.df("Item"), live.df("Item"))
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(SnapshotError, match="not a snapshot"):
        live.save_snapshot(other)
    assert (other / "keep.txt").read_text() == "mine"


async def test_the_explorer_source_reads_a_snapshot_as_it_reads_the_cache(
        clients: Clients, tmp_path: Path) -> None:
    live = await synced(clients)
    live.save_snapshot(tmp_path / "snap")
    with Realm.open_snapshot(tmp_path / "snap") as snapshot:
        sources = RealmExplorerSource(live), RealmExplorerSource(snapshot)
        for object_type in live.schema.names:
            a, b = (s.columns(object_type) for s in sources)
            assert a == b
        view = ("Order", "region == 'north'", [("amount", False)])
        assert sources[0].count("Order", "region == 'north'") == sources[1].count(
            "Order", "region == 'north'") > 0
        assert sources[0].page(*view, 0, 20).equals(sources[1].page(*view, 0, 20))
        assert sources[0].summaries("Order", "") == sources[1].summaries("Order", "")
        assert sources[0].export(*view, "csv") == sources[1].export(*view, "csv")
        removed = sources[1].add_change_listener(lambda types: None)
        removed()  # a snapshot never changes: listening is allowed and silent


async def test_a_snapshot_stays_pinned_while_the_live_cache_moves_on(clients: Clients,
                                                                    tmp_path: Path) -> None:
    carol = await synced(clients)
    before, version = carol.df("Item"), carol.cache.cursor_version
    carol.save_snapshot(tmp_path / "snap")
    alice = await clients.open(ALICE.email)
    await alice.subscribe("Item")
    with alice.write() as tx:
        tx.create("Item", {"owner_id": alice.user.id, "summary": "after the snapshot"})
    await alice.session.wait_for_upload()
    await carol.session.wait_for_download()
    assert carol.cache.cursor_version > version
    assert "after the snapshot" in set(carol.df("Item")["summary"])
    with Realm.open_snapshot(tmp_path / "snap") as snapshot:
        assert snapshot.server_version == version
        pd.testing.assert_frame_equal(snapshot.df("Item"), before)
        assert (snapshot.changes()["server_version"].dropna() <= version).all()


async def test_a_manifest_that_points_outside_or_is_broken_is_refused(clients: Clients,
                                                                     tmp_path: Path) -> None:
    live = await synced(clients, ALICE.email)
    live.save_snapshot(tmp_path / "snap")
    manifest_path = tmp_path / "snap" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    (tmp_path / "outside.parquet").write_bytes((tmp_path / "snap" / "Item.parquet").read_bytes())
    escaped = dict(manifest, types={**manifest["types"], "Item": "../outside.parquet"})
    escaped["files"] = {**manifest["files"], "../outside.parquet": manifest["files"]["Item.parquet"]}
    manifest_path.write_text(json.dumps(escaped))
    with pytest.raises(SnapshotError, match=r"names a file outside the snapshot: '\.\./outside"):
        Realm.open_snapshot(tmp_path / "snap")
    manifest_path.write_text(json.dumps({k: v for k, v in manifest.items() if k != "user_id"}))
    with pytest.raises(SnapshotError, match="not a valid snapshot manifest: KeyError"):
        Realm.open_snapshot(tmp_path / "snap")
    manifest_path.write_text("{not json")
    with pytest.raises(SnapshotError, match="not a valid snapshot manifest"):
        Realm.open_snapshot(tmp_path / "snap")


async def test_a_snapshot_of_a_snapshot_is_the_same_checkpoint(clients: Clients,
                                                               tmp_path: Path) -> None:
    live = await synced(clients, ALICE.email)
    first = live.save_snapshot(tmp_path / "first")
    with Realm.open_snapshot(tmp_path / "first") as snapshot:
        second = snapshot.save_snapshot(tmp_path / "second")
    for key in ("app_id", "server_url", "user_id", "server_version", "schema", "types"):
        assert second[key] == first[key], key
    assert second["subscriptions"]["queries"] == first["subscriptions"]["queries"]
    with Realm.open_snapshot(tmp_path / "second") as again:
        for object_type in live.schema.names:
            pd.testing.assert_frame_equal(again.df(object_type), live.df(object_type))
        pd.testing.assert_frame_equal(again.changes(), live.changes())
