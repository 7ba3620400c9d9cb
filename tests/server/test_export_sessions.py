"""Exported apps once they serve: server-side custom user data stays out of every
client's reach, and rules over fields a collection lacks evaluate them as null."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from bson import ObjectId

from realm_jupyter.client import App, Credentials, Realm
from realm_jupyter.errors import CompensatingWriteError, RealmJupyterError
from realm_jupyter.server.custom_data import get_custom_data, set_custom_data
from realm_jupyter.wire import PROTOCOL_VERSION
from tests.server.conftest import SyncClient, server_put
from tests.support.exports import guide_app, schema, write_app
from tests.support.servers import ServerUnderTest, serving
from tests.support.waiting import eventually

PASSWORD = "export-password-1"
ALICE, BOB = "66a000000000000000000a11", "66a000000000000000000b0b"
SECRET = "team-secret-north"


async def raw_client(server: ServerUnderTest, http: httpx.AsyncClient, email: str) -> SyncClient:
    base = f"{server.url}/api/client/v2.0/app/{server.app_id}"
    response = await http.post(f"{base}/auth/providers/local-userpass/login",
                               json={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    response = await http.post(f"{base}/sync/clients", json={},
                               headers={"Authorization": f"Bearer {token}"})
    return SyncClient(server, http, token, response.json()["client_id"])


async def test_server_side_custom_data_is_out_of_every_clients_reach(
        store_url: str, tmp_path: Path) -> None:
    root = guide_app(tmp_path / "app", "tiered")
    async with serving(store_url, root, demo_size=None) as server, \
            httpx.AsyncClient(timeout=10) as http:
        service = server.service
        await service.auth.add_user("alice@example.com", PASSWORD, user_id=ALICE)
        await service.auth.add_user("bob@example.com", PASSWORD, user_id=BOB)
        await set_custom_data(service.app, service.store, BOB,
                              {"team": SECRET, "isTeamAdmin": True})
        alice = await raw_client(server, http, "alice@example.com")

        schema_answer = (await http.get(f"{alice.base}/sync/schema", headers=alice.headers)).text
        assert "User" not in json.loads(schema_answer)["schema"]
        for type_name in ("User", "user"):
            refused = await alice.submit(1, {type_name: ["TRUEPREDICATE"]})
            assert refused.status_code == 400
            assert refused.json()["error_code"] == "BadQuery"
            assert SECRET not in refused.text
        upload = await alice.post("sync/upload", {
            "protocol": PROTOCOL_VERSION, "client_id": alice.client_id, "changesets": [{
                "client_version": 1, "last_server_version": 0, "timestamp": 1,
                "ops": [{"op": "create", "type": "User", "pk": BOB,
                         "doc": {"_id": BOB, "team": "mine now", "isTeamAdmin": True}}]}]})
        assert upload.status_code == 400 and "unknown object type" in upload.json()["error"]
        assert SECRET not in upload.text
        async with alice.stream(active={"version": 1, "queries": {"User": ["TRUEPREDICATE"]}}
                                ) as frames:
            header, _ = await frames.next()
        assert header["t"] == "error" and header["code"] == 226
        assert SECRET not in json.dumps(header)
        # Bob's document is unchanged, and alice's profile shows only her own (empty) data.
        assert await get_custom_data(service.app, service.store, BOB) == {
            "_id": BOB, "team": SECRET, "isTeamAdmin": True}
        profile = await http.get(f"{server.url}/api/client/v2.0/auth/profile",
                                 headers=alice.headers)
        assert profile.json()["custom_data"] == {} and SECRET not in profile.text


async def test_rules_over_absent_fields_evaluate_them_as_null(store_url: str,
                                                              tmp_path: Path) -> None:
    # One default role for both types; Note has no owner_id. A null owner is readable
    # and writable by everyone, so every Note is (bootstrap, steady state and writes).
    role = {"name": "owner-or-nobody", "apply_when": {},
            "document_filters": {"read": {"owner_id": {"$in": [None, "%%user.id"]}},
                                 "write": {"owner_id": {"$in": [None, "%%user.id"]}}},
            "read": True, "write": True}
    strict = {"name": "strict", "apply_when": {},
              "document_filters": {"read": {"owner_id": "%%user.id"},
                                   "write": {"owner_id": "%%user.id"}},
              "read": True, "write": True}
    note = schema("Note", {"_id": {"bsonType": "int"}, "text": {"bsonType": "string"}})
    item = schema("Item", {"owner_id": {"bsonType": "string"}, "text": {"bsonType": "string"}})
    root = write_app(tmp_path / "app", sync={"queryable_fields_names": ["owner_id", "text"]},
                     schemas={"Note": note, "Item": item, "Memo": note | {"title": "Memo"}},
                     default_roles=[role], rules={"Memo": [strict]},
                     seeds={"Note": [{"_id": 1, "text": "seeded"}],
                            "Memo": [{"_id": 1, "text": "never visible"}],
                            "Item": [{"_id": {"$oid": str(ObjectId())}, "owner_id": BOB,
                                      "text": "bob's"}]})
    async with serving(store_url, root, demo_size=None) as server:
        await server.service.auth.add_user("alice@example.com", PASSWORD, user_id=ALICE)
        app = App(server.url, server.app_id)
        user = await app.log_in(Credentials.email_password("alice@example.com", PASSWORD))
        errors: list[RealmJupyterError] = []
        realm = await Realm.open(user, cache=tmp_path / "alice.duckdb",
                                 on_error=lambda _r, error: errors.append(error))
        try:
            await realm.subscribe("Note", "TRUEPREDICATE", timeout=20)
            await realm.subscribe("Memo", "TRUEPREDICATE", timeout=20)
            await realm.subscribe("Item", "TRUEPREDICATE", timeout=20)
            assert list(realm.df("Note")["text"]) == ["seeded"]
            assert len(realm.df("Memo")) == 0 and len(realm.df("Item")) == 0

            await server_put(server, "Note", 2, document={"_id": 2, "text": "later"})
            await eventually(lambda: len(realm.df("Note")) == 2, what="the steady-state note")
            with realm.write() as tx:
                tx.create("Note", {"_id": 3, "text": "mine"})
                tx.create("Memo", {"_id": 2, "text": "refused"})
            await realm.session.wait_for_upload(20)
            await eventually(lambda: any(isinstance(e, CompensatingWriteError) for e in errors),
                             what="the Memo write to be compensated")
            assert set(await server.store.get_documents("Note", [3])) == {3}
            assert await server.store.get_documents("Memo", [2]) == {}
            assert not [e for e in errors if not isinstance(e, CompensatingWriteError)]
        finally:
            await realm.close()
            await app.aclose()


async def test_admin_endpoint_sets_custom_data_for_the_next_session(
        store_url: str, tmp_path: Path) -> None:
    from realm_jupyter.server.admin_routes import grant_admin

    root = guide_app(tmp_path / "app", "tiered")
    async with serving(store_url, root, demo_size=None) as server, \
            httpx.AsyncClient(timeout=10) as http:
        service = server.service
        await service.auth.add_user("alice@example.com", PASSWORD, user_id=ALICE)
        admin_key, admin_id = await service.auth.create_api_key("automation")
        await grant_admin(service.store, admin_id)
        plain_key, _ = await service.auth.create_api_key("not-admin")
        base = f"{server.url}/api/client/v2.0/app/{server.app_id}"

        async def token(body: dict[str, str]) -> str:
            answer = await http.post(f"{base}/auth/providers/local-userpass/login", json=body)
            assert answer.status_code == 200, answer.text
            return str(answer.json()["access_token"])

        url = f"{server.url}/api/admin/v1/app/{server.app_id}/users/alice@example.com/custom_data"
        alice_token = await token({"username": "alice@example.com", "password": PASSWORD})
        for credential in (plain_key, alice_token, "forged"):
            headers = {"Authorization": f"Bearer {credential}"}
            refused = await http.put(url, json={"team": "north"}, headers=headers)
            assert refused.status_code == 403
            assert refused.json()["error_code"] == "Forbidden"
        assert (await http.get(url)).status_code == 401
        headers = {"Authorization": f"Bearer {admin_key}"}
        stored = await http.put(url, json={"team": "north", "isTeamAdmin": True}, headers=headers)
        assert stored.status_code == 200, stored.text
        assert stored.json() == {"team": "north", "isTeamAdmin": True, "_id": ALICE}
        assert (await http.get(url, headers=headers)).json() == stored.json()
        missing = url.replace("alice@example.com", "nobody@example.com")
        assert (await http.put(missing, json={}, headers=headers)).status_code == 404
        bad = await http.put(url, content=b"[1, 2]", headers=headers)
        assert bad.status_code == 400
        profile = await http.get(f"{server.url}/api/client/v2.0/auth/profile",
                                 headers={"Authorization": f"Bearer {alice_token}"})
        assert profile.json()["custom_data"]["team"] == "north"


async def test_an_empty_embedded_object_does_not_reach_the_client(store_url: str,
                                                                   tmp_path: Path) -> None:
    role = {"name": "all", "apply_when": {}, "document_filters": {"read": {}, "write": {}},
            "read": True, "write": True}
    item = schema("Item", {"_id": {"bsonType": "int"}, "name": {"bsonType": "string"},
                           "extra": {"bsonType": "object", "properties": {}}})
    root = write_app(tmp_path / "app", schemas={"Item": item}, default_roles=[role],
                     seeds={"Item": [{"_id": 1, "name": "a", "extra": {}}]})
    async with serving(store_url, root, demo_size=None) as server:
        await server.service.auth.add_user("alice@example.com", PASSWORD, user_id=ALICE)
        app = App(server.url, server.app_id)
        user = await app.log_in(Credentials.email_password("alice@example.com", PASSWORD))
        realm = await Realm.open(user, cache=tmp_path / "alice.duckdb")
        try:
            await realm.subscribe("Item", "TRUEPREDICATE", timeout=20)
            frame = realm.df("Item")
            assert list(frame.columns) == ["_id", "name"] and list(frame["name"]) == ["a"]
        finally:
            await realm.close()
            await app.aclose()


async def test_custom_data_with_a_schema_is_a_synced_document(demo_server: ServerUnderTest
                                                              ) -> None:
    from realm_jupyter.demo import DEMO_USERS

    service = demo_server.service
    alice = DEMO_USERS[0]
    before = await service.store.find_documents("UserProfile", "user_id", alice.id, limit=5)
    stored = await set_custom_data(service.app, service.store, alice.id,
                                   {"role": "admin", "teams": ["north", "south"]})
    after = await service.store.find_documents("UserProfile", "user_id", alice.id, limit=5)
    assert len(before) == len(after) == 1 and after[0]["_id"] == before[0]["_id"]
    assert stored["role"] == "admin" and stored["user_id"] == alice.id
    assert (await get_custom_data(service.app, service.store, alice.id))["teams"] == [
        "north", "south"]
