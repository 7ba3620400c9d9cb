"""Store events: every write tells every subscribed session, in this process and (PostgreSQL) others."""

from __future__ import annotations

import asyncio

import pytest

from realm_jupyter.server.storage import Event, Store

from .conftest import note, open_test_store, put_all

WAIT = 10.0


async def next_event(subscription: object, kind: str) -> Event:
    """The next event of ``kind`` (a server may publish others in between)."""
    async with asyncio.timeout(WAIT):
        while True:
            event = await subscription.get()  # type: ignore[attr-defined]
            if event.kind == kind:
                return event


async def test_a_write_publishes_its_version_to_every_subscription(store: Store) -> None:
    with store.subscribe() as first, store.subscribe() as second:
        version = await put_all(store, [note("a"), note("b")])
        assert (await next_event(first, "history")).value == str(version)
        assert (await next_event(second, "history")).value == str(version)
        await store.publish(Event("client", "c1"))
        assert await next_event(first, "client") == Event("client", "c1")
    late = store.subscribe()
    try:
        await store.publish(Event("client", "c2"))
        assert await next_event(late, "client") == Event("client", "c2")  # nothing older
    finally:
        late.close()


async def test_a_closed_subscription_receives_nothing(store: Store) -> None:
    closed = store.subscribe()
    closed.close()
    with store.subscribe() as open_one:
        await put_all(store, [note("a")])
        await next_event(open_one, "history")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await closed.get()  # type: ignore[attr-defined]


async def test_a_bulk_load_publishes_its_version(store: Store) -> None:
    from .test_reads import note_table

    with store.subscribe() as events:
        version = await store.bulk_load(store.schema["Note"], note_table(2))
        seen = [int((await next_event(events, "history")).value)]
        while seen[-1] < version:
            seen.append(int((await next_event(events, "history")).value))
        assert seen[-1] == version


@pytest.mark.postgres
async def test_events_cross_processes_on_one_postgresql_database(postgres_url: str) -> None:
    """Two stores on one database stand for two server processes."""
    writer, reader = await open_test_store(postgres_url), await open_test_store(postgres_url)
    try:
        with reader.subscribe() as events, writer.subscribe() as own:
            version = await put_all(writer, [note("a")])
            assert (await next_event(events, "history")).value == str(version)
            assert (await next_event(own, "history")).value == str(version)
            await reader.publish(Event("client", "c9"))
            assert await next_event(own, "client") == Event("client", "c9")
            # and the other process reads what the event announced
            assert [h.version for h in await reader.history(0)] == [version]
    finally:
        await writer.close()
        await reader.close()


async def test_revocations_cross_processes_on_both_stores(store: Store) -> None:
    """Revocations must reach every process's streams, on SQLite too (through its outbox):
    a CLI revoking an API key is another process than the server holding the streams."""
    other = await open_test_store(store.url)
    try:
        with other.subscribe() as events, store.subscribe() as own:
            heard: list[Event] = []
            own.watch(heard.append)  # told as the event arrives, before the queue is read
            await store.publish(Event("revoke", "family:f1"))
            assert await next_event(own, "revoke") == Event("revoke", "family:f1")
            assert heard == [Event("revoke", "family:f1")]
            assert await next_event(events, "revoke") == Event("revoke", "family:f1")
            await other.publish(Event("revoke", "key:k1"))
            assert await next_event(own, "revoke") == Event("revoke", "key:k1")
            await store.publish(Event("revoke", "user:u1"))
            # each process hears each revocation once, its own included
            assert await next_event(own, "revoke") == Event("revoke", "user:u1")
            assert await next_event(events, "revoke") == Event("revoke", "key:k1")
            assert await next_event(events, "revoke") == Event("revoke", "user:u1")
    finally:
        await other.close()
