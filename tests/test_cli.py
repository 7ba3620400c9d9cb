"""The ``realm-jupyter`` command, run as a real subprocess against a real store."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from realm_jupyter.client import App, Credentials
from realm_jupyter.demo import DEMO_APP_DIR
from realm_jupyter.server.appdir import load_app
from realm_jupyter.server.storage import open_store
from tests.support.servers import serving


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "realm_jupyter", *args], capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(DEMO_APP_DIR, target)
    return target


def _store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


async def _documents(app_dir: Path, store_url: str, object_type: str) -> list[dict[str, Any]]:
    config = load_app(app_dir)
    store = open_store(store_url)
    await store.open(config.schema.types, {})
    try:
        snapshot = await asyncio.to_thread(store.snapshot)
        try:
            tables = list(snapshot.batches(config.schema[object_type], "1", []))
        finally:
            snapshot.close()
    finally:
        await store.close()
    return [row for table in tables for row in table.to_pylist()]


def test_import_of_a_file_with_one_bad_line_commits_nothing_and_names_it(
        app_dir: Path, tmp_path: Path) -> None:
    good = {"_id": {"$oid": "6650000000000000000000aa"}, "owner_id": "x", "summary": "fine"}
    bad = {"_id": {"$oid": "6650000000000000000000ab"}, "owner_id": "x", "summary": 5}
    path = tmp_path / "items.ndjson"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    result = cli("import", "--app-dir", str(app_dir), "--store", _store(tmp_path), "Item",
                 str(path))
    assert result.returncode == 1
    assert "line 2: Item.summary: expected string" in result.stderr
    assert "nothing was imported" in result.stderr
    assert asyncio.run(_documents(app_dir, _store(tmp_path), "Item")) == []


def test_import_loads_extended_json_arrays(app_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([
        {"_id": {"$oid": f"66500000000000000000000{n}"}, "owner_id": "x", "summary": f"item {n}",
         "created_at": {"$date": f"2025-01-0{n + 1}T00:00:00Z"}} for n in range(3)]))
    result = cli("import", "--app-dir", str(app_dir), "--store", _store(tmp_path), "Item",
                 str(path))
    assert result.returncode == 0, result.stderr
    assert "imported 3 Item documents" in result.stdout
    # progress while it works: each file read and validated, then the one write
    assert f"read 3 Item documents from {path} (3 so far, all valid)" in result.stderr
    assert "writing 3 Item documents in one transaction" in result.stderr
    rows = asyncio.run(_documents(app_dir, _store(tmp_path), "Item"))
    assert sorted(r["summary"] for r in rows) == ["item 0", "item 1", "item 2"]


async def test_users_add_prints_an_id_that_logs_in_with_custom_data(app_dir: Path,
                                                                   tmp_path: Path) -> None:
    store_url = _store(tmp_path)
    result = await asyncio.to_thread(
        cli, "users", "add", "--app-dir", str(app_dir), "--store", store_url, "dave@example.com",
        "--password", "dave-secret",
        "--custom-data", '{"name": "Dave", "role": "member", "teams": ["east"]}')
    assert result.returncode == 0, result.stderr
    user_id = result.stdout.strip()
    assert len(user_id) == 24
    async with serving(store_url, app_dir, demo_size=None) as server:
        app = App(server.url, server.app_id)
        user = await app.log_in(Credentials.email_password("dave@example.com", "dave-secret"))
        assert user.id == user_id
        profile = await user.profile()
        assert profile["custom_data"]["teams"] == ["east"]  # from the UserProfile collection
        await app.aclose()


async def test_apikeys_create_prints_a_key_that_logs_in(app_dir: Path, tmp_path: Path) -> None:
    store_url = _store(tmp_path)
    result = await asyncio.to_thread(cli, "apikeys", "create", "--app-dir", str(app_dir),
                                     "--store", store_url, "ci")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert "shown only once" in result.stderr and key not in result.stderr
    async with serving(store_url, app_dir, demo_size=None) as server:
        app = App(server.url, server.app_id)
        user = await app.log_in(Credentials.api_key(key))
        assert user.provider == "api-key"
        await app.aclose()


def test_a_bad_app_directory_is_one_line_naming_the_file(tmp_path: Path, app_dir: Path) -> None:
    (app_dir / "sync" / "config.json").write_text("{ not json")
    result = cli("serve", "--app-dir", str(app_dir), "--store", _store(tmp_path), "--port", "0")
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("realm-jupyter:")]
    assert "sync/config.json" in line


# --------------------------------------------------------------------------- serve's defences


def test_serve_refuses_a_store_of_another_app_in_one_line(app_dir: Path, tmp_path: Path) -> None:
    store_url = _store(tmp_path)
    added = cli("users", "add", "--app-dir", str(app_dir), "--store", store_url,
                "erin@example.com", "--password", "erin-secret")
    assert added.returncode == 0, added.stderr
    other = tmp_path / "other"
    shutil.copytree(app_dir, other)
    config = json.loads((other / "root_config.json").read_text())
    (other / "root_config.json").write_text(json.dumps({**config, "app_id": "another-app"}))
    for args in (("serve", "--port", "0"), ("users", "add", "frank@example.com",
                                            "--password", "frank-secret")):
        result = cli(*args, "--app-dir", str(other), "--store", store_url)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"realm-jupyter: the store {store_url} belongs to app {config['app_id']!r}, not "
            "'another-app': give each app its own --store"]


@pytest.mark.parametrize("flag", ["--header-timeout", "--body-timeout", "--keep-alive-timeout",
                                  "--max-connections"])
def test_serve_refuses_a_limit_that_is_not_positive(flag: str, tmp_path: Path) -> None:
    result = cli("serve", "--store", _store(tmp_path), "--port", "0", flag, "-1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"realm-jupyter: {flag} must be positive"]


async def test_serve_believes_forwarded_addresses_only_from_allowed_proxies(
        app_dir: Path, tmp_path: Path) -> None:
    from realm_jupyter.server.runner import free_port
    from tests.support.waiting import wait_healthy

    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realm_jupyter", "serve", "--app-dir", str(app_dir), "--store",
        _store(tmp_path), "--port", str(port), "--demo-size", "tiny",
        "--forwarded-allow-ips", "127.0.0.1", "--header-timeout", "1",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, process)
        login = f"{url}/api/client/v2.0/app/realm-jupyter-demo/auth/providers/local-userpass/login"
        wrong = {"username": "alice@example.com", "password": "not-her-password"}
        async with httpx.AsyncClient(timeout=60) as http:

            async def attempt(address: str) -> int:
                response = await http.post(login, json=wrong,
                                           headers={"X-Forwarded-For": address})
                return response.status_code

            statuses: list[int] = []
            while len(statuses) < 12 and 429 not in statuses:  # delays double: one comes
                statuses.append(await attempt("203.0.113.1"))
            assert statuses[:5] == [401] * 5 and statuses[-1] == 429
            assert await attempt("203.0.113.2") == 401  # another client behind the proxy
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # says nothing
        assert await asyncio.wait_for(reader.read(), timeout=30) == b""  # closed by the server
        writer.close()
    finally:
        process.terminate()
        await process.wait()
