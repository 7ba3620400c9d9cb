"""Client reset (reference §2.6, behaviours 58–60): each mode, with its callbacks.

A client goes offline and writes; meanwhile the server trims its history past the
client's cursor, so the client must reset when it comes back.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from realm_jupyter.client import Realm
from realm_jupyter.errors import ClientResetError, RealmJupyterError
from realm_jupyter.server.storage.sql import now_ms
from tests.support.servers import serving
from tests.writes.conftest import settle


async def _strand(server: Any, realm: Realm, helper: Realm) -> Any:
    """Pause ``realm``, write offline, let the server move on and trim its history."""
    realm.session.pause()
    with realm.write() as tx:
        pk = tx.create("Item", {"owner_id": realm.user.id, "summary": "written offline"})
    with helper.write() as tx:  # a change the stranded client has not seen
        tx.create("Item", {"owner_id": realm.user.id, "summary": "from the other device"})
    await settle(helper)
    await server.store.trim_history(now_ms() + 1)
    assert await server.store.trimmed_through() > realm.cache.cursor_version
    return pk


async def _reset_with(server: Any, tmp_path: Path, mode: str,
                      calls: list[str]) -> tuple[list[RealmJupyterError], Any, Realm, Realm]:
    errors: list[RealmJupyterError] = []
    callbacks = {name: (lambda realm, *args, name=name: calls.append(name))
                 for name in ("on_before", "on_after_recovery", "on_after_discard",
                              "on_manual_fallback")}
    alice = await _open(server, tmp_path / "alice.duckdb", client_reset=mode,
                        client_reset_callbacks=callbacks, on_error=lambda r, e: errors.append(e))
    helper = await _open(server, tmp_path / "alice-2.duckdb")
    for realm in (alice, helper):
        await realm.subscribe("Item", "owner_id == $0", realm.user.id)
    pk = await _strand(server, alice, helper)
    alice.session.resume()
    return errors, pk, alice, helper


async def _open(server: Any, cache: Path, **options: Any) -> Realm:
    user = await server.login("alice@example.com")
    return await Realm.open(user, cache=cache, **options)


async def _close(*realms: Realm) -> None:
    for realm in realms:
        await realm.close()
        await realm.app.aclose()


async def test_recover_replays_unsynced_writes(demo_server: Any, tmp_path: Path) -> None:
    calls: list[str] = []
    errors, pk, alice, helper = await _reset_with(demo_server, tmp_path, "recover_or_discard", calls)
    try:
        await settle(alice, helper)
        assert calls == ["on_before", "on_after_recovery"]
        server_side = await demo_server.store.get_documents("Item", [pk])
        assert server_side[pk]["summary"] == "written offline"
        summaries = set(alice.query("Item", "owner_id == $0", alice.user.id)["summary"])
        assert {"written offline", "from the other device"} <= summaries
        assert errors == []
    finally:
        await _close(alice, helper)


async def test_discard_drops_unsynced_writes(demo_server: Any, tmp_path: Path) -> None:
    calls: list[str] = []
    _errors, pk, alice, helper = await _reset_with(demo_server, tmp_path, "discard", calls)
    try:
        await settle(alice, helper)
        assert calls == ["on_before", "on_after_discard"]
        assert pk not in await demo_server.store.get_documents("Item", [pk])
        assert alice.query("Item", "_id == $0", pk).empty
        assert "from the other device" in set(alice.df("Item")["summary"])
        assert alice.subscriptions.state.value == "complete"
    finally:
        await _close(alice, helper)


async def test_manual_stops_and_reports_with_a_backup(demo_server: Any, tmp_path: Path) -> None:
    calls: list[str] = []
    errors, pk, alice, helper = await _reset_with(demo_server, tmp_path, "manual", calls)
    try:
        await alice.session.wait_for(lambda: bool(errors), 30, "the reset report")
        (error,) = errors
        assert isinstance(error, ClientResetError)
        assert error.backup_path is not None and Path(error.backup_path).exists()
        assert calls == ["on_manual_fallback"]
        assert alice.session.state.value == "inactive"
        assert len(alice.query("Item", "_id == $0", pk)) == 1  # nothing was thrown away
    finally:
        await _close(alice, helper)


async def test_recovery_disabled_discards_even_in_recover_or_discard(
        store_url: str, tmp_path: Path) -> None:
    from realm_jupyter.demo import DEMO_APP_DIR

    app_dir = tmp_path / "app"
    shutil.copytree(DEMO_APP_DIR, app_dir)
    config = app_dir / "sync" / "config.json"
    config.write_text(config.read_text().replace('"is_recovery_mode_disabled": false',
                                                 '"is_recovery_mode_disabled": true'))
    async with serving(store_url, app_dir) as server:
        calls: list[str] = []
        _errors, pk, alice, helper = await _reset_with(server, tmp_path, "recover_or_discard", calls)
        try:
            await settle(alice, helper)
            assert calls == ["on_before", "on_after_discard"]
            assert pk not in await server.store.get_documents("Item", [pk])
        finally:
            await _close(alice, helper)


async def test_a_failing_callback_falls_back_to_manual(demo_server: Any, tmp_path: Path) -> None:
    errors: list[RealmJupyterError] = []

    def explode(realm: Realm) -> None:
        raise RuntimeError("callback bug")

    alice = await _open(demo_server, tmp_path / "alice.duckdb",
                        client_reset_callbacks={"on_before": explode},
                        on_error=lambda r, e: errors.append(e))
    helper = await _open(demo_server, tmp_path / "alice-2.duckdb")
    try:
        for realm in (alice, helper):
            await realm.subscribe("Item", "owner_id == $0", realm.user.id)
        await _strand(demo_server, alice, helper)
        alice.session.resume()
        await alice.session.wait_for(lambda: bool(errors), 30, "the reset report")
        assert isinstance(errors[0], ClientResetError)
        assert "callback bug" in errors[0].message
    finally:
        await _close(alice, helper)
