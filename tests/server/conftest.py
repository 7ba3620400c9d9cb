"""Server test support: raw protocol clients over real HTTP, and what the demo users may see.

``SyncClient`` speaks docs/protocol.md with httpx and keeps a ``Replica`` — the
documents a client would hold after applying every frame — so a test can say
"alice now holds exactly these Orders" without going through the notebook client.
Expectations about the demo data are computed here from the generated seed
tables and the demo rules as written in the app directory, not by the server's
own rule engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import decimal
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from realm_jupyter.client.transport import read_frames
from realm_jupyter.demo import DEMO_USERS
from realm_jupyter.demo.generate import generate
from realm_jupyter.server.storage import Change
from realm_jupyter.wire import PROTOCOL_VERSION, decode_ipc
from tests.support.servers import PASSWORDS, ServerUnderTest

Frame = tuple[dict[str, Any], bytes | None]
USERS = {user.email.split("@")[0]: user for user in DEMO_USERS}
TIMEOUT = 20.0


# --------------------------------------------------------------------------- the demo data


def demo_rows() -> dict[str, list[dict[str, Any]]]:
    """The tiny demo data set as wire rows (what a bootstrap sends for a full reader)."""
    return {name: table.to_pylist() for name, table in generate("tiny").items()}


def may_read(user: str, object_type: str, row: Mapping[str, Any]) -> bool:
    """The demo rules (rules.json of each collection), spelt out by hand."""
    profile = USERS[user]
    if object_type == "UserProfile":
        return bool(row["user_id"] == profile.id)
    if profile.role == "admin":
        return True
    if object_type == "Item":
        return bool(row["owner_id"] == profile.id or row["team"] in profile.teams)
    return bool(row["region"] in profile.teams)


def hidden_fields(user: str, object_type: str) -> set[str]:
    return {"customer"} if object_type == "Order" and USERS[user].role == "member" else set()


def amount(row: Mapping[str, Any]) -> decimal.Decimal:
    return decimal.Decimal(row["amount"])


# --------------------------------------------------------------------------- frames and replicas


class FrameStream:
    """The frames of one open stream, read with deadlines."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._frames = read_frames(response.aiter_raw())
        self.seen: list[Frame] = []

    async def next(self, timeout: float = TIMEOUT) -> Frame:
        async with asyncio.timeout(timeout):
            frame = await anext(self._frames)
        self.seen.append(frame)
        return frame

    async def until(self, done: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT,
                    replica: Replica | None = None) -> list[Frame]:
        """Frames up to and including the first whose header satisfies ``done``."""
        frames: list[Frame] = []
        async with asyncio.timeout(timeout):
            while True:
                header, payload = await anext(self._frames)
                self.seen.append((header, payload))
                frames.append((header, payload))
                if replica is not None:
                    replica.apply(header, payload)
                if header["t"] == "error" and not done(header):
                    raise AssertionError(f"the server ended the stream: {header}")
                if done(header):
                    return frames


def split_upserts(header: Mapping[str, Any], payload: bytes | None) -> dict[str, list[dict[str, Any]]]:
    """The rows of a ``changes`` frame's concatenated Arrow payloads, by type."""
    out: dict[str, list[dict[str, Any]]] = {}
    offset = 0
    for part in header.get("upserts", []):
        size = int(part["bytes"])
        out[part["type"]] = decode_ipc((payload or b"")[offset : offset + size]).to_pylist()
        offset += size
    assert offset == len(payload or b""), "payload bytes do not add up"
    return out


@dataclass
class Replica:
    """What a client holds after applying frames (docs/protocol.md §5)."""

    docs: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    cursor: int = 0
    active: int = 0
    received: Counter[tuple[str, Any]] = field(default_factory=Counter)
    removed: Counter[tuple[str, Any]] = field(default_factory=Counter)
    _staged: list[tuple[str, str, Any]] = field(default_factory=list)
    _kind: str = "diff"

    def pks(self, object_type: str) -> set[Any]:
        return set(self.docs.get(object_type, {}))

    def apply(self, header: Mapping[str, Any], payload: bytes | None) -> None:
        kind = header["t"]
        if kind == "changes":
            for object_type, rows in split_upserts(header, payload).items():
                for row in rows:
                    self._upsert(object_type, row)
            for object_type, pks in header["removes"].items():
                for pk in pks:
                    self._remove(object_type, pk)
            self.cursor = header["server_version"]
        elif kind == "bootstrap_begin":
            self._kind = header["kind"]
        elif kind == "batch":
            for row in decode_ipc(payload or b"").to_pylist():
                self._staged.append(("add", header["type"], row))
        elif kind == "remove":
            self._staged.extend(("remove", header["type"], pk) for pk in header["pks"])
        elif kind == "bootstrap_end":
            if self._kind == "full":
                self.docs.clear()
            for action, object_type, value in self._staged:
                if action == "add":
                    self._upsert(object_type, value)
                else:
                    self._remove(object_type, value)
            self._staged.clear()
            self.active, self.cursor = header["version"], header["replay_from"]

    def _upsert(self, object_type: str, row: dict[str, Any]) -> None:
        self.docs.setdefault(object_type, {})[row["_id"]] = row
        self.received[(object_type, row["_id"])] += 1

    def _remove(self, object_type: str, pk: Any) -> None:
        self.docs.get(object_type, {}).pop(pk, None)
        self.removed[(object_type, pk)] += 1


# --------------------------------------------------------------------------- a raw client


@dataclass
class SyncClient:
    """One client (one cache) of one user, speaking the protocol over httpx."""

    server: ServerUnderTest
    http: httpx.AsyncClient
    token: str
    client_id: str
    replica: Replica = field(default_factory=Replica)
    queries: dict[str, list[str]] = field(default_factory=dict)
    active_queries: dict[str, list[str]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"{self.server.url}/api/client/v2.0/app/{self.server.app_id}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        return await self.http.post(f"{self.base}/{path}", json=dict(body), headers=self.headers)

    async def submit(self, version: int, queries: Mapping[str, list[str]]) -> httpx.Response:
        response = await self.post("sync/query", {"protocol": PROTOCOL_VERSION,
                                                  "client_id": self.client_id,
                                                  "version": version, "queries": dict(queries)})
        if response.status_code == 200:
            self.queries = {t: list(q) for t, q in queries.items()}
        return response

    async def latest(self) -> int:
        response = await self.post("sync/mark", {"client_id": self.client_id})
        assert response.status_code == 200, response.text
        return int(response.json()["server_version"])

    def body(self, **overrides: Any) -> dict[str, Any]:
        replica = self.replica
        body: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "client_id": self.client_id,
                                "cursor": replica.cursor, "bootstrap": None,
                                "active": {"version": replica.active,
                                           "queries": self.active_queries}}
        body.update(overrides)
        return body

    @contextlib.asynccontextmanager
    async def stream(self, **overrides: Any) -> AsyncIterator[FrameStream]:
        request = self.http.build_request("POST", f"{self.base}/sync/stream",
                                          json=self.body(**overrides), headers=self.headers,
                                          timeout=httpx.Timeout(TIMEOUT))
        response = await self.http.send(request, stream=True)
        try:
            assert response.status_code == 200, (await response.aread()).decode()
            yield FrameStream(response)
        finally:
            await response.aclose()

    async def sync(self, frames: FrameStream, version: int | None = None) -> list[Frame]:
        """Read until the set ``version`` (default: the last submitted) is marked complete."""
        out = await frames.until(lambda h: h["t"] == "mark" and
                                 (version is None or h["version"] == version), replica=self.replica)
        self.active_queries = dict(self.queries)
        return out

    async def catch_up(self, frames: FrameStream) -> list[Frame]:
        """Read until the replica holds every change up to the server's latest version."""
        latest = await self.latest()
        if self.replica.cursor >= latest:
            return []
        return await frames.until(lambda h: h["t"] in ("changes", "mark")
                                  and h["server_version"] >= latest, replica=self.replica)


async def login(server: ServerUnderTest, http: httpx.AsyncClient, user: str) -> str:
    email = USERS[user].email
    response = await http.post(f"{server.url}/api/client/v2.0/app/{server.app_id}/auth/providers/"
                               "local-userpass/login",
                               json={"username": email, "password": PASSWORDS[email]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def new_client(server: ServerUnderTest, http: httpx.AsyncClient, user: str | None = None, *,
                     token: str | None = None) -> SyncClient:
    token = token or await login(server, http, user or "alice")
    base = f"{server.url}/api/client/v2.0/app/{server.app_id}"
    response = await http.post(f"{base}/sync/clients", json={},
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return SyncClient(server, http, token, response.json()["client_id"])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        yield client


# --------------------------------------------------------------------------- server-side writes


async def server_put(server: ServerUnderTest, object_type: str, pk: Any,
                     change: Callable[[dict[str, Any]], None] | None = None,
                     document: dict[str, Any] | None = None, *, delete: bool = False) -> int:
    """Change one document in the store as another writer would; return the new version."""
    from realm_jupyter.documents import from_plain, validate_document

    store = server.store
    object_schema = server.service.app.schema[object_type]
    pk = from_plain(object_schema, {object_schema.primary_key: pk})[object_schema.primary_key]

    def work(tx: Any) -> None:
        before = tx.get(object_type, [pk]).get(pk)
        if delete:
            tx.put(Change(object_type, pk, None), before)
            return
        after = dict(before or {}) if document is None else validate_document(object_schema,
                                                                              document)
        if change is not None:
            change(after)
        tx.put(Change(object_type, pk, after), before)

    _, version = await store.write(work)
    return int(version)


def plain(value: Any) -> Any:
    """JSON round trip, for comparing rows that hold JSON text."""
    return orjson.loads(value) if isinstance(value, str) and value[:1] in ("[", "{") else value
