"""The store contract (``storage/base.py``), the same on SQLite and PostgreSQL.

Records (meta, users, keys, tokens, clients) and write transactions. Snapshots,
bulk loads and trimming are in ``test_reads.py``; events in ``test_events.py``.
"""

from __future__ import annotations

import decimal
from typing import Any

import pytest

from realm_jupyter.errors import StorageError
from realm_jupyter.server.storage import (
    ApiKeyRecord,
    Change,
    RefreshTokenRecord,
    Store,
    UserRecord,
)
from realm_jupyter.server.storage.base import TokenFamilyRecord

from .conftest import NOTE, T0, note, open_test_store, put_all, putter

# --------------------------------------------------------------------------- lifecycle and meta


async def test_a_fresh_store_starts_at_version_zero_and_reopens(store: Store) -> None:
    assert await store.latest_version() == 0
    assert await store.trimmed_through() == 0
    assert await store.history(0) == []
    version = await put_all(store, [note("a")])
    again = await open_test_store(store.url)  # CREATE … IF NOT EXISTS: a second process
    try:
        assert await again.latest_version() == version == 1
        assert (await again.get_documents("Note", ["a"]))["a"] == note("a")
    finally:
        await again.close()


async def test_meta_values_and_only_if_absent(store: Store) -> None:
    assert await store.get_meta("k") is None
    assert await store.set_meta("k", "one", only_if_absent=True) == "one"
    assert await store.set_meta("k", "two", only_if_absent=True) == "one"
    assert await store.get_meta("k") == "one"
    assert await store.set_meta("k", "three") == "three"
    assert await store.get_meta("k") == "three"


# --------------------------------------------------------------------------- users and credentials


async def test_users_round_trip_and_a_taken_email_is_refused(store: Store) -> None:
    user = UserRecord(id="u1", provider="local-userpass", email="ann@example.com",
                      password_hash="$argon2id$x", custom_data={"teams": ["north"], "n": 1},
                      created_at=123)
    await store.create_user(user)
    assert await store.get_user("u1") == user
    assert await store.find_user_by_email("ann@example.com") == user
    assert await store.find_user_by_email("bob@example.com") is None
    assert await store.get_user("nobody") is None
    with pytest.raises(StorageError):
        await store.create_user(UserRecord(id="u2", provider="local-userpass",
                                           email="ann@example.com"))
    with pytest.raises(StorageError):
        await store.create_user(UserRecord(id="u1", provider="anon-user"))
    assert await store.get_user("u2") is None
    # users without an email (anonymous, API key users) do not collide with each other
    await store.create_user(UserRecord(id="anon1", provider="anon-user"))
    await store.create_user(UserRecord(id="anon2", provider="anon-user"))
    assert (await store.get_user("anon2")) == UserRecord(id="anon2", provider="anon-user")


async def test_api_keys(store: Store) -> None:
    key = ApiKeyRecord(id="k1", user_id="u1", name="ci", key_hash="h1", created_at=5)
    await store.add_api_key(key)
    assert await store.find_api_key("h1") == key
    assert await store.find_api_key("h2") is None
    with pytest.raises(StorageError):
        await store.add_api_key(ApiKeyRecord(id="k2", user_id="u1", name="dup", key_hash="h1"))


async def test_refresh_tokens_and_revocation(store: Store) -> None:
    await store.add_refresh_token(RefreshTokenRecord("t1", "u1", 10_000))
    await store.add_refresh_token(RefreshTokenRecord("t2", "u1", 20_000))
    assert await store.find_refresh_token("t1") == RefreshTokenRecord("t1", "u1", 10_000, False)
    await store.revoke_refresh_token("t1")
    assert (await store.find_refresh_token("t1")).revoked is True
    assert (await store.find_refresh_token("t2")).revoked is False
    assert await store.find_refresh_token("t3") is None
    await store.revoke_refresh_token("t3")  # unknown: nothing to do, no error


async def test_refresh_tokens_rotate_once_and_families_revoke_together(store: Store) -> None:
    await store.add_token_family(TokenFamilyRecord("f1", "u1", None, 1))
    await store.add_token_family(TokenFamilyRecord("f2", "u1", "k1", 2))
    await store.add_token_family(TokenFamilyRecord("f3", "u2", None, 3))
    assert await store.get_token_family("f2") == TokenFamilyRecord("f2", "u1", "k1", 2, False)
    assert await store.get_token_family("nope") is None
    await store.add_refresh_token(RefreshTokenRecord("t1", "u1", 10_000, family_id="f1"))
    next_one = RefreshTokenRecord("t2", "u1", 20_000, family_id="f1")
    assert await store.rotate_refresh_token("t1", next_one)
    assert (await store.find_refresh_token("t1")).retired is True
    assert await store.find_refresh_token("t2") == next_one
    # a retired token cannot rotate again (that is reuse), and adds nothing
    assert not await store.rotate_refresh_token("t1", RefreshTokenRecord("t3", "u1", 1,
                                                                         family_id="f1"))
    assert await store.find_refresh_token("t3") is None
    assert await store.revoke_token_families(family_id="f1") == 1
    assert (await store.get_token_family("f1")).revoked
    assert (await store.find_refresh_token("t2")).revoked
    assert not await store.rotate_refresh_token("t2", RefreshTokenRecord("t4", "u1", 1))
    assert await store.revoke_token_families(api_key_id="k1") == 1
    assert not (await store.get_token_family("f3")).revoked
    assert await store.revoke_token_families(user_id="u2") == 1
    assert (await store.get_token_family("f3")).revoked
    with pytest.raises(ValueError):
        await store.revoke_token_families(user_id="u1", family_id="f1")


async def test_users_and_api_keys_can_be_disabled(store: Store) -> None:
    await store.create_user(UserRecord(id="u1", provider="anon-user"))
    assert await store.set_user_disabled("u1", True)
    assert (await store.get_user("u1")).disabled
    assert await store.set_user_disabled("u1", False)
    assert not (await store.get_user("u1")).disabled
    assert not await store.set_user_disabled("nobody", True)
    first = ApiKeyRecord(id="k1", user_id="u1", name="ci", key_hash="h1", created_at=5)
    second = ApiKeyRecord(id="k2", user_id="u1", name="nb", key_hash="h2", created_at=6)
    await store.add_api_key(second)
    await store.add_api_key(first)
    assert await store.list_api_keys() == [first, second]
    assert await store.set_api_key_disabled("k1", True)
    assert (await store.get_api_key("k1")).disabled
    assert (await store.find_api_key("h1")).disabled
    assert await store.get_api_key("k3") is None
    assert not await store.set_api_key_disabled("k3", True)


# --------------------------------------------------------------------------- clients


async def test_clients_and_desired_queries(store: Store) -> None:
    await store.create_client("c1", "u1")
    client = await store.get_client("c1")
    assert client is not None
    assert (client.user_id, client.desired_version, dict(client.desired_queries),
            client.view_hash, client.upload_version) == ("u1", 0, {}, None, 0)
    assert await store.get_client("c2") is None

    await store.set_desired_queries("c1", 2, {"Note": ["n > 1", "body == 'x'"]})
    await store.set_desired_queries("c1", 1, {"Note": ["TRUEPREDICATE"]})  # older: ignored
    await store.set_desired_queries("c1", 2, {"Counter": ["TRUEPREDICATE"]})  # same: ignored
    client = await store.get_client("c1")
    assert client.desired_version == 2
    assert dict(client.desired_queries) == {"Note": ["n > 1", "body == 'x'"]}
    await store.set_desired_queries("c1", 3, {})
    client = await store.get_client("c1")
    assert (client.desired_version, dict(client.desired_queries)) == (3, {})

    await store.set_view_hash("c1", "abc")
    await store.set_upload_version("c1", 5)
    await store.set_upload_version("c1", 4)  # never goes back
    client = await store.get_client("c1")
    assert (client.view_hash, client.upload_version) == ("abc", 5)


# --------------------------------------------------------------------------- writes and history


async def test_writes_get_strictly_increasing_versions_and_history(store: Store) -> None:
    first = await put_all(store, [note("a"), note("b", n=None, tags=[], meta=None)],
                          client_id="c1", client_version=7)
    assert first == 2
    found = await store.get_documents("Note", ["a", "b", "zz"])
    assert found == {"a": note("a"), "b": note("b", n=None, tags=[], meta=None)}
    assert isinstance(found["a"]["price"], decimal.Decimal) and found["a"]["when"] == T0

    _, second = await store.write(putter("Note", "a", note("a", n=2)))
    _, third = await store.write(putter("Note", "b", None))
    assert (second, third) == (3, 4)
    assert await store.latest_version() == 4
    assert await store.get_documents("Note", ["b"]) == {}

    history = await store.history(0)
    assert [h.version for h in history] == [1, 2, 3, 4]
    assert [(h.object_type, h.pk) for h in history] == [("Note", "a"), ("Note", "b"),
                                                        ("Note", "a"), ("Note", "b")]
    inserted, _, updated, deleted = history
    assert inserted.prev is None and inserted.doc["n"] == 1
    assert inserted.doc["price"] == "12.50" and inserted.doc["when"] == "2024-05-01T12:30:15.123Z"
    assert (inserted.client_id, inserted.client_version) == ("c1", 7)
    assert updated.prev["n"] == 1 and updated.doc["n"] == 2
    assert updated.client_id is None and updated.client_version is None
    assert deleted.doc is None and deleted.prev["_id"] == "b"
    assert all(h.timestamp > 0 and h.revert is False for h in history)
    assert [h.version for h in await store.history(2, limit=1)] == [3]


async def test_a_failed_transaction_leaves_no_trace(store: Store) -> None:
    await put_all(store, [note("a")])

    def work(tx: Any) -> None:
        tx.put(Change("Note", "a", note("a", n=99)), note("a"))
        tx.put(Change("Note", "b", note("b")), None)
        tx.set_state("half", "done")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await store.write(work)
    assert await store.latest_version() == 1
    assert [h.version for h in await store.history(0)] == [1]
    assert await store.get_documents("Note", ["a", "b"]) == {"a": note("a")}
    result, version = await store.write(lambda tx: tx.get_state("half"))
    assert (result, version) == (None, 1)  # a write that writes nothing keeps the version
    assert await put_all(store, [note("c")]) == 2


async def test_reads_inside_a_transaction_see_its_own_writes(store: Store) -> None:
    def work(tx: Any) -> tuple[Any, ...]:
        tx.put(Change("Note", "a", note("a")), None)
        tx.set_state("key", "v1")
        tx.set_clock("Note", "a", '{"f": 1}')
        seen = (tx.get("Note", ["a"]), tx.get_state("key"), tx.get_clock("Note", "a"),
                tx.version)
        tx.set_state("key", None)
        return (*seen, tx.get_state("key"))

    (docs, state, clock, version, deleted), _ = await store.write(work)
    assert docs == {"a": note("a")} and (state, clock, version, deleted) == ("v1", '{"f": 1}', 1,
                                                                            None)
    clock, _ = await store.write(lambda tx: tx.get_clock("Note", "a"))
    assert clock == '{"f": 1}'


async def test_claiming_an_upload_is_idempotent(store: Store) -> None:
    await store.create_client("c1", "u1")
    claims = []
    for client_version in (1, 1, 2, 1):
        claimed, _ = await store.write(lambda tx, v=client_version: tx.claim_upload("c1", v))
        claims.append(claimed)
    assert claims == [True, False, True, False]
    assert (await store.get_client("c1")).upload_version == 2


async def test_revert_entries_keep_the_document(store: Store) -> None:
    await put_all(store, [note("a")])

    def work(tx: Any) -> None:
        tx.put(Change("Note", "a", note("a")), note("a"), revert=True)

    await store.write(work, client_id="c1", client_version=3)
    entry = (await store.history(1))[0]
    assert (entry.revert, entry.client_id, entry.doc["n"]) == (True, "c1", 1)
    assert await store.get_documents("Note", ["a"]) == {"a": note("a")}


async def test_integer_primary_keys_and_find_documents(store: Store) -> None:
    def work(tx: Any) -> None:
        for pk in (3, 1, 2):
            tx.put(Change("Counter", pk, {"_id": pk, "value": pk % 2}), None)

    await store.write(work)
    assert await store.get_documents("Counter", [1, 2, 4]) == {1: {"_id": 1, "value": 1},
                                                               2: {"_id": 2, "value": 0}}
    found = await store.find_documents("Counter", "value", 1)
    assert sorted(d["_id"] for d in found) == [1, 3]
    assert len(await store.find_documents("Counter", "value", 1, limit=1)) == 1
    await put_all(store, [note("a", body="x"), note("b", body="y"), note("c", body="x")])
    found = await store.find_documents("Note", "body", "x")
    assert sorted(d["_id"] for d in found) == ["a", "c"]
    assert found[0] == note(found[0]["_id"], body="x")
    assert await store.find_documents("Note", "body", "nobody") == []


@pytest.mark.parametrize("size", [1, 600])  # one statement, and more than one chunk of keys
async def test_get_documents_by_many_keys(store: Store, size: int) -> None:
    documents = [note(f"k{i:04d}", n=i) for i in range(size)]
    await put_all(store, documents)
    found = await store.get_documents("Note", [d["_id"] for d in documents])
    assert found == {d["_id"]: d for d in documents}
    assert NOTE.primary_key == "_id"


async def test_a_store_made_before_token_families_gains_them_on_open(tmp_path: Any) -> None:
    """Refresh tokens of an older store keep working: the columns are added on open."""
    import adbc_driver_sqlite.dbapi as adbc

    path = tmp_path / "old.sqlite3"
    conn = adbc.connect(str(path), autocommit=True)
    cursor = conn.cursor()
    cursor.execute("CREATE TABLE _realm_refresh_tokens (token_hash TEXT PRIMARY KEY, "
                   "user_id TEXT NOT NULL, expires_at INTEGER NOT NULL, revoked INTEGER NOT "
                   "NULL DEFAULT 0)")
    cursor.execute("INSERT INTO _realm_refresh_tokens VALUES ('old', 'u1', 99, 0)")
    cursor.close()
    conn.close()
    store = await open_test_store(f"sqlite:///{path}")
    try:
        assert await store.find_refresh_token("old") == RefreshTokenRecord("old", "u1", 99)
        assert await store.rotate_refresh_token("old", RefreshTokenRecord("new", "u1", 100,
                                                                          family_id="f"))
    finally:
        await store.close()
    again = await open_test_store(f"sqlite:///{path}")  # and opening again changes nothing
    await again.close()
