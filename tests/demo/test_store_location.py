"""Where the built-in demo keeps its store: the user's data directory, never the package."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from realm_jupyter.demo import DEMO_APP_DIR, demo_store_url
from realm_jupyter.demo.launcher import wait_for_server
from realm_jupyter.server.runner import free_port
from tests.notebooks.support import clean_environ, run_process


def test_the_demo_store_is_per_size_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert demo_store_url() == f"sqlite:///{tmp_path / 'realm-jupyter' / 'demo-small.sqlite3'}"
    assert demo_store_url("large").endswith("/realm-jupyter/demo-large.sqlite3")
    assert demo_store_url(5000).endswith("/realm-jupyter/demo-5000.sqlite3")
    assert demo_store_url("../x").endswith("/realm-jupyter/demo-x.sqlite3")


def test_serve_puts_the_demo_store_in_the_data_dir_and_prints_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_environ({"XDG_DATA_HOME": str(data)})
    port = free_port()
    log = tmp_path / "serve.log"
    with run_process([sys.executable, "-m", "realm_jupyter", "serve", "--port", str(port),
                      "--demo-size", "tiny"], env=env, log=log) as server:
        wait_for_server(f"http://127.0.0.1:{port}", server, timeout=120)
    store = data / "realm-jupyter" / "demo-tiny.sqlite3"
    assert store.exists()
    output = log.read_text()
    assert f"store: sqlite:///{store}" in output
    assert "seeding the demo data (tiny:" in output
    assert str(DEMO_APP_DIR) not in output
