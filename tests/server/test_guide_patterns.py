"""The four permission patterns of the Flexible Sync Permissions Guide, end to end.

Each app is written in the shape of the guide's template export (both
generations: rules in ``default_rule.json`` beside an empty legacy block, or the
2022 roles in ``sync/config.json``), served over real HTTP on SQLite and
PostgreSQL, and used by full clients: each user's cache holds exactly the
documents the guide says, allowed writes reach another authorised user,
forbidden ones come back as compensating writes, and a change of custom data or
of a collaborator list changes the view at the next session.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from realm_jupyter.client import Realm
from realm_jupyter.errors import CompensatingWriteError, RealmJupyterError
from realm_jupyter.server.custom_data import set_custom_data
from tests.support.exports import guide_app, write_json
from tests.support.servers import ServerUnderTest, serving
from tests.support.waiting import eventually

PASSWORD = "guide-password-1"
IDS = {"alice": "66a000000000000000000a11", "bob": "66a000000000000000000b0b",
       "carol": "66a000000000000000000ca1"}
ITEM_IDS = {f"i{n}": ObjectId(f"66b00000000000000000000{n}") for n in range(1, 5)}


def item(key: str, owner: str, team: str = "north", collaborators: tuple[str, ...] = ()
         ) -> dict[str, Any]:
    return {"_id": {"$oid": str(ITEM_IDS[key])}, "name": key, "owner_id": IDS[owner],
            "team": team, "collaborators": [IDS[c] for c in collaborators]}


@dataclass
class Guide:
    server: ServerUnderTest
    directory: Path
    realms: list[Realm] = field(default_factory=list)
    errors: dict[str, list[RealmJupyterError]] = field(default_factory=dict)

    async def open(self, name: str, cache: str | None = None) -> Realm:
        user = await self.server.login(f"{name}@example.com", PASSWORD)
        errors = self.errors.setdefault(name, [])
        realm = await Realm.open(user, cache=self.directory / f"{cache or name}.duckdb",
                                 on_error=lambda _realm, error: errors.append(error))
        self.realms.append(realm)
        await realm.subscribe("Item", "TRUEPREDICATE")
        return realm

    async def close(self, realm: Realm) -> None:
        self.realms.remove(realm)
        await realm.close()
        await realm.user.app.aclose()

    async def custom_data(self, name: str, data: dict[str, Any]) -> None:
        service = self.server.service
        await set_custom_data(service.app, service.store, IDS[name], data)


def names(realm: Realm) -> set[str]:
    frame = realm.df("Item")
    return set(frame["name"]) if len(frame) else set()


async def sees(realm: Realm, expected: set[str]) -> None:
    await eventually(lambda: names(realm) == expected,
                     what=f"{realm.user.id} to see {sorted(expected)} (sees {sorted(names(realm))})")


async def compensated(guide: Guide, name: str) -> None:
    await eventually(lambda: any(isinstance(e, CompensatingWriteError)
                                 for e in guide.errors.get(name, [])),
                     what=f"a compensating write for {name}")


@contextlib.asynccontextmanager
async def guide(store_url: str, tmp_path: Path, pattern: str, generation: str,
                seeds: list[dict[str, Any]], custom: dict[str, dict[str, Any]] | None = None
                ) -> AsyncIterator[Guide]:
    root = guide_app(tmp_path / "app", pattern, generation)
    write_json(root / "data/Item.json", seeds)
    async with serving(store_url, root, demo_size=None) as server:
        for name, user_id in IDS.items():
            await server.service.auth.add_user(f"{name}@example.com", PASSWORD, user_id=user_id)
        state = Guide(server, tmp_path)
        for name, data in (custom or {}).items():
            await state.custom_data(name, data)
        try:
            yield state
        finally:
            for realm in list(state.realms):
                await state.close(realm)


GENERATIONS = pytest.mark.parametrize("generation", ["modern", "legacy"])


@GENERATIONS
async def test_read_and_write_own_data(store_url: str, tmp_path: Path, generation: str) -> None:
    seeds = [item("i1", "alice"), item("i2", "bob"), item("i3", "alice")]
    async with guide(store_url, tmp_path, "own-data", generation, seeds) as g:
        alice, bob = await g.open("alice"), await g.open("bob")
        await sees(alice, {"i1", "i3"})
        await sees(bob, {"i2"})
        other_alice = await g.open("alice", cache="alice-laptop")
        with alice.write() as tx:
            tx.create("Item", {"name": "i4", "owner_id": IDS["alice"], "team": "north"})
            tx.create("Item", {"name": "stolen", "owner_id": IDS["bob"], "team": "north"})
        await sees(other_alice, {"i1", "i3", "i4"})
        await compensated(g, "alice")
        await sees(alice, {"i1", "i3", "i4"})
        await sees(bob, {"i2"})


@GENERATIONS
async def test_tiered_team_admin_flag_in_custom_data(store_url: str, tmp_path: Path,
                                                     generation: str) -> None:
    seeds = [item("i1", "bob"), item("i2", "alice"), item("i3", "carol", team="south")]
    custom = {"alice": {"team": "north", "isTeamAdmin": True},
              "bob": {"team": "north", "isTeamAdmin": False},
              "carol": {"team": "south"}}
    async with guide(store_url, tmp_path, "tiered", generation, seeds, custom) as g:
        alice, bob, carol = await g.open("alice"), await g.open("bob"), await g.open("carol")
        await sees(alice, {"i1", "i2"})
        await sees(bob, {"i1", "i2"})
        await sees(carol, {"i3"})
        with alice.write() as tx:  # the team admin may write the team's documents
            tx.update("Item", ITEM_IDS["i1"], {"name": "i1 by the admin"})
        await sees(bob, {"i1 by the admin", "i2"})
        with bob.write() as tx:  # a member writes only their own
            tx.update("Item", ITEM_IDS["i2"], {"name": "i2 by bob"})
        await compensated(g, "bob")
        await sees(bob, {"i1 by the admin", "i2"})
        await sees(alice, {"i1 by the admin", "i2"})

        await g.custom_data("carol", {"team": "north"})
        await sees(carol, {"i3"})  # the running session keeps its expansions
        await g.close(carol)
        carol = await g.open("carol", cache="carol-next")
        # North's documents now, and still her own (write access implies read access).
        await sees(carol, {"i1 by the admin", "i2", "i3"})


@GENERATIONS
async def test_restricted_feed_through_subscribed_to(store_url: str, tmp_path: Path,
                                                     generation: str) -> None:
    seeds = [item("i1", "alice"), item("i2", "bob"), item("i3", "carol")]
    custom = {"alice": {"subscribedTo": [IDS["alice"], IDS["bob"]]},
              "bob": {"subscribedTo": [IDS["bob"]]},
              "carol": {"subscribedTo": [IDS["carol"], IDS["alice"]]}}
    async with guide(store_url, tmp_path, "restricted-feed", generation, seeds, custom) as g:
        alice, bob, carol = await g.open("alice"), await g.open("bob"), await g.open("carol")
        await sees(alice, {"i1", "i2"})
        await sees(bob, {"i2"})
        await sees(carol, {"i1", "i3"})
        with alice.write() as tx:
            tx.create("Item", {"name": "i4", "owner_id": IDS["alice"], "team": "north"})
            tx.update("Item", ITEM_IDS["i2"], {"name": "i2 by alice"})  # not hers: refused
        await sees(carol, {"i1", "i3", "i4"})
        await compensated(g, "alice")
        await sees(alice, {"i1", "i2", "i4"})
        await sees(bob, {"i2"})

        await g.custom_data("bob", {"subscribedTo": [IDS["bob"], IDS["alice"]]})
        await g.close(bob)
        bob = await g.open("bob", cache="bob-next")
        await sees(bob, {"i1", "i2", "i4"})


@GENERATIONS
async def test_collaborators_list_on_the_document(store_url: str, tmp_path: Path,
                                                  generation: str) -> None:
    seeds = [item("i1", "alice", collaborators=("bob",)), item("i2", "bob"),
             item("i3", "carol", collaborators=("alice",))]
    async with guide(store_url, tmp_path, "collaborators", generation, seeds) as g:
        alice, bob, carol = await g.open("alice"), await g.open("bob"), await g.open("carol")
        await sees(alice, {"i1", "i3"})
        await sees(bob, {"i1", "i2"})
        await sees(carol, {"i3"})
        with bob.write() as tx:  # a collaborator may write
            tx.update("Item", ITEM_IDS["i1"], {"name": "i1 by bob"})
            tx.create("Item", {"name": "for alice", "owner_id": IDS["alice"], "team": "x"})
        await sees(alice, {"i1 by bob", "i3"})
        await compensated(g, "bob")
        await sees(bob, {"i1 by bob", "i2"})

        with alice.write() as tx:  # the owner adds carol as a collaborator
            tx.list_append("Item", ITEM_IDS["i1"], "collaborators", IDS["carol"])
        await alice.session.wait_for_upload(20)
        await g.close(carol)
        carol = await g.open("carol", cache="carol-next")
        await sees(carol, {"i1 by bob", "i3"})
