"""``realm-jupyter demo --no-browser``: the sync server and JupyterLab come up; Ctrl-C stops both."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from realm_jupyter.server.runner import free_port
from tests.notebooks.support import clean_environ, pid_alive, poll, stop_process


def _get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read()) if response.status == 200 else None
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("interrupt", ["process", "group"])
def test_demo_serves_and_ctrl_c_stops_both(tmp_path: Path, interrupt: str) -> None:
    """``process``: SIGINT to the launcher; ``group``: to its process group, as a terminal's Ctrl-C."""
    port, lab_port = free_port(), free_port()
    home = tmp_path / "home"
    dirs = {"XDG_CACHE_HOME": "cache", "XDG_CONFIG_HOME": "config", "IPYTHONDIR": "ipython",
            "JUPYTER_CONFIG_DIR": "jupyter-config", "JUPYTER_DATA_DIR": "jupyter-data",
            "JUPYTER_RUNTIME_DIR": "jupyter-runtime"}
    env = clean_environ({name: str(home / sub) for name, sub in dirs.items()})
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "realm_jupyter", "demo", "--no-browser", "--size", "tiny",
             "--port", str(port), "--lab-port", str(lab_port),
             "--store", f"sqlite:///{tmp_path / 'store.sqlite3'}"],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        health = poll(lambda: _get(f"http://127.0.0.1:{port}/api/health"), 120, "the sync server")
        assert health
        lab = poll(lambda: _get(f"http://127.0.0.1:{lab_port}/api"), 120, "JupyterLab")
        assert "version" in lab
        children = poll(lambda: len(_children(demo.pid)) == 2 and _children(demo.pid), 30,
                        "two children (server and lab)")
        commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in children}
        (lab_pid,) = [pid for pid, argv in commands.items() if b"jupyterlab" in argv]
        (server_pid,) = [pid for pid, argv in commands.items() if b"serve" in argv]
        assert b"01-quickstart.ipynb" in b" ".join(commands[lab_pid])
        # the notebooks' %realm_connect --demo finds this server, instead of starting one
        lab_env = Path(f"/proc/{lab_pid}/environ").read_bytes().split(b"\0")
        assert f"REALM_DEMO_URL=http://127.0.0.1:{port}".encode() in lab_env
        assert server_pid != lab_pid

        if interrupt == "group":
            os.killpg(demo.pid, signal.SIGINT)
        else:
            demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]
        poll(lambda: not any(pid_alive(pid) for pid in children), 30, "both children gone")
    finally:
        if demo.poll() is None:
            stop_process(demo, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(demo.pid, signal.SIGKILL)  # whatever the launcher left behind
    output = log.read_text(errors="replace")
    assert f"Starting the sync server at http://127.0.0.1:{port}" in output
    assert f"store: sqlite:///{tmp_path / 'store.sqlite3'}) …" in output  # printed at start
    assert "Traceback" not in output
