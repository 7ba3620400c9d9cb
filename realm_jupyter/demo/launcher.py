"""``realm-jupyter demo``: the sync server with the demo app, and JupyterLab on the quickstart.

Both run as child processes of this one; Ctrl-C (or SIGTERM) stops both. The
notebooks find the running server through ``REALM_DEMO_URL``, so
``%realm_connect --demo`` connects to it instead of starting its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import RealmJupyterError
from . import demo_store_url

__all__ = ["find_notebooks", "run_demo", "wait_for_server"]

QUICKSTART = "01-quickstart.ipynb"


def find_notebooks() -> Path:
    """The ``notebooks/`` folder: in the current directory or the source checkout."""
    for candidate in (Path.cwd() / "notebooks", Path(__file__).resolve().parents[2] / "notebooks"):
        if (candidate / QUICKSTART).exists():
            return candidate
    raise RealmJupyterError("cannot find notebooks/01-quickstart.ipynb",
                            hint="run `make demo` (or realm-jupyter demo) from the repository")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_server(url: str, process: subprocess.Popen[bytes] | None = None,
                    timeout: float = 300.0) -> None:
    """Poll ``url/api/health`` until it answers (the first start seeds the demo data)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RealmJupyterError(f"the sync server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RealmJupyterError(f"the sync server did not start within {timeout:.0f} s")


def _redact(url: str) -> str:
    """A store URL without its password (the launcher prints it)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(*, size: str = "small", port: int = 9090, lab_port: int = 8888,
             open_browser: bool = True, store: str | None = None) -> int:
    notebooks = find_notebooks()
    if not _port_free(port):
        port = _free_port()
    if not _port_free(lab_port):
        lab_port = _free_port()
    url = f"http://127.0.0.1:{port}"
    store = store or os.environ.get("REALM_STORE") or demo_store_url(size)
    command = [sys.executable, "-m", "realm_jupyter", "serve", "--port", str(port),
               "--demo-size", size, "--store", store]
    server = subprocess.Popen(command)
    lab: subprocess.Popen[bytes] | None = None
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"Starting the sync server at {url} (demo data: {size}; store: "
              f"{_redact(store)}) …", flush=True)
        wait_for_server(url, server)
        lab_command = [sys.executable, "-m", "jupyterlab", str(notebooks / QUICKSTART),
                       f"--ServerApp.port={lab_port}", "--ServerApp.ip=127.0.0.1",
                       f"--ServerApp.root_dir={notebooks.parent}", "--LabApp.news_url=None"]
        if not open_browser:
            lab_command.append("--no-browser")
        if os.geteuid() == 0:
            lab_command.append("--allow-root")
        env = {**os.environ, "REALM_DEMO_URL": url}
        print(f"Starting JupyterLab on {QUICKSTART} (port {lab_port}); Ctrl-C stops both.",
              flush=True)
        lab = subprocess.Popen(lab_command, env=env)
        while True:
            if lab.poll() is not None:
                return lab.returncode or 0
            if server.poll() is not None:
                print("the sync server stopped", file=sys.stderr)
                return server.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        with contextlib.suppress(Exception):
            signal.signal(signal.SIGTERM, previous)
        if lab is not None:
            _stop(lab)
        _stop(server)
