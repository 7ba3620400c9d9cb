"""B9 the Binder budget (BRIEF §5): what the quickstart costs in memory, end to end.

Part 1 — the quickstart on the small demo, as on mybinder.org: the sync server
(``realm-jupyter serve``), JupyterLab, and a fresh kernel that runs every cell of
``notebooks/01-quickstart.ipynb``. Each is its own process; the verdict is their total
resident memory (peak of each, ``VmHWM``) against 1 GB, the memory Binder guarantees.
The kernel is started the way JupyterLab starts one (jupyter_client, ipykernel) and runs
the cells in order.

Part 2 — the kernel after a large subscription and an explorer session: a fresh kernel
subscribes to every Order (1,000,000 by default), then does what the data explorer asks
of it (pages at both ends, a sort, a ``[c]`` filter, a count) through the explorer's
own data source. Its resident memory, with the DataFrame still alive, is compared with
1.5 × the DataFrame + 300 MB; after ``del`` and ``gc.collect()`` it is reported too.

``python -m benchmarks --only B9`` runs both (``--size`` sets the Orders of part 2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .processes import REPO_ROOT, BenchError
from .results import Result, Section
from .stats import Series

__all__ = ["B9Outcome", "b9_results", "b9_section", "run_b9"]

MB = 1_000_000
BUDGET = 1_000 * MB  # mybinder.org guarantees 1 GB
QUICKSTART = REPO_ROOT / "notebooks" / "01-quickstart.ipynb"
EXPLORER_SESSION = """
import gc
from realm_jupyter import current_realm
from realm_jupyter.widgets.sources import RealmExplorerSource
realm = current_realm()
source = RealmExplorerSource(realm)
total = source.count("Order", "")
for offset in (0, 200, total // 2, max(0, total - 200)):
    source.page("Order", "", [], offset, 200)
for offset in (0, total // 3):
    source.page("Order", "", [("amount", False)], offset, 200)
source.count("Order", "status ==[c] 'RETURNED'")
source.page("Order", "status ==[c] 'RETURNED'", [("amount", False)], 0, 200)
frame_bytes = int(orders.memory_usage(deep=True).sum())
"""


@dataclass
class B9Outcome:
    quickstart_rss: dict[str, int] = field(default_factory=dict)  # process → peak RSS bytes
    quickstart_seconds: float = 0.0
    orders: int = 0
    frame_bytes: int = 0
    kernel_rss: int = 0
    kernel_rss_after_del: int = 0


# --------------------------------------------------------------------------- processes


def _rss(pid: int, key: str = "VmHWM") -> int:
    """Resident memory of ``pid`` in bytes: peak (``VmHWM``) or current (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no {key} for process {pid}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{what} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)  # another process starting up: nothing to wait on but its port
    raise BenchError(f"{what} did not answer within {timeout:.0f} s")


def _env(home: Path, demo_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALM_")}
    paths = [str(REPO_ROOT), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    for name, sub in (("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config"),
                      ("XDG_DATA_HOME", "data"), ("IPYTHONDIR", "ipython"),
                      ("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                      ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    env["REALM_DEMO_URL"] = demo_url
    return env


class _Kernel:
    """A fresh ipykernel of this interpreter that runs code and reports errors."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(
            kernel_dirs=[], ensure_native_kernel=True))
        self.manager.start_kernel(env=env, cwd=str(cwd))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        process = getattr(self.manager.provisioner, "process", None)
        if process is None:
            raise BenchError("cannot find the kernel's process")
        return int(process.pid)

    def run(self, code: str, timeout: float) -> None:
        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=lambda m: None)
        if reply["content"]["status"] != "ok":
            raise BenchError(f"a cell failed: {reply['content'].get('ename')}: "
                             f"{reply['content'].get('evalue')}")

    def value(self, expression: str, timeout: float = 60) -> Any:
        results: list[str] = []

        def hook(message: dict[str, Any]) -> None:
            if message["msg_type"] == "execute_result":
                results.append(message["content"]["data"]["text/plain"])

        self.client.execute_interactive(expression, timeout=timeout, output_hook=hook)
        if not results:
            raise BenchError(f"no value for {expression!r}")
        return json.loads(results[-1].strip("'"))

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _serve(store: Path, size: str | int, log: Path, env: dict[str, str]
           ) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "realm_jupyter", "serve", "--port", str(port), "--demo-size",
             str(size), "--store", f"sqlite:///{store}"], env=env, stdout=out,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    return server, url


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- the two parts


def _quickstart(workdir: Path, outcome: B9Outcome, timeout: float) -> None:
    import nbformat

    home = workdir / "b9-quickstart"
    home.mkdir(parents=True, exist_ok=True)
    server, url = _serve(home / "store.sqlite3", "small", home / "server.log", dict(os.environ))
    lab: subprocess.Popen[bytes] | None = None
    kernel: _Kernel | None = None
    try:
        _wait_http(f"{url}/api/health", server, timeout, "the sync server")
        env = _env(home, url)
        lab_port = _free_port()
        argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={lab_port}",
                "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
                f"--ServerApp.root_dir={QUICKSTART.parent}", "--LabApp.news_url=None"]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        with (home / "lab.log").open("wb") as out:
            lab = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        lab_url = f"http://127.0.0.1:{lab_port}"
        _wait_http(f"{lab_url}/api/status", lab, 120, "JupyterLab")
        with urllib.request.urlopen(f"{lab_url}/lab", timeout=30) as page:  # the page a user loads
            page.read()
        started = time.monotonic()
        kernel = _Kernel(env, home)
        for cell in nbformat.read(QUICKSTART, as_version=4).cells:
            if cell.cell_type == "code":
                kernel.run(cell.source, timeout)
        outcome.quickstart_seconds = time.monotonic() - started
        outcome.quickstart_rss = {"sync server": _rss(server.pid), "JupyterLab": _rss(lab.pid),
                                  "kernel": _rss(kernel.pid)}
    finally:
        if kernel is not None:
            kernel.shutdown()
        if lab is not None:
            _stop(lab)
        _stop(server)


def _large_session(workdir: Path, orders: int, outcome: B9Outcome, timeout: float) -> None:
    from .clients import demo_size_for_orders

    home = workdir / "b9-large"
    home.mkdir(parents=True, exist_ok=True)
    server, url = _serve(home / "store.sqlite3", demo_size_for_orders(orders), home / "server.log",
                         dict(os.environ))
    kernel: _Kernel | None = None
    try:
        _wait_http(f"{url}/api/health", server, 60 + 480 * orders / 1_000_000, "the sync server")
        kernel = _Kernel(_env(home, url), home)
        kernel.run("%load_ext realm_jupyter", 60)
        kernel.run("%realm_connect --demo --email carol@example.com", 120)
        kernel.run("orders = %realm_subscribe Order", timeout)
        kernel.run(EXPLORER_SESSION, timeout)
        outcome.orders = int(kernel.value("len(orders)"))
        outcome.frame_bytes = int(kernel.value("frame_bytes"))
        outcome.kernel_rss = _rss(kernel.pid, "VmRSS")
        kernel.run("del orders\ngc.collect()", 60)
        outcome.kernel_rss_after_del = _rss(kernel.pid, "VmRSS")
    finally:
        if kernel is not None:
            kernel.shutdown()
        _stop(server)


def run_b9(*, workdir: Path, orders: int, timeout: float) -> B9Outcome:
    outcome = B9Outcome()
    print("  B9: the quickstart on the small demo (server + JupyterLab + kernel)…", flush=True)
    _quickstart(workdir, outcome, timeout)
    print(f"  B9: a kernel with {orders:,} Orders and an explorer session…", flush=True)
    _large_session(workdir, orders, outcome, timeout)
    return outcome


# --------------------------------------------------------------------------- the report


def b9_results(outcome: B9Outcome) -> list[Result]:
    total = sum(outcome.quickstart_rss.values())
    budget = 1.5 * outcome.frame_bytes + 300 * MB
    return [
        Result("B9", "sqlite", "quickstart: server + JupyterLab + kernel peak RSS (MB)",
               Series("MB", [total / MB]), Series("MB", [BUDGET / MB]), "Binder's 1 GB",
               Series("", [total / BUDGET]), "≤ 1.0", 1.0),
        Result("B9", "sqlite", f"kernel RSS after {outcome.orders:,} Orders + explorer (MB)",
               Series("MB", [outcome.kernel_rss / MB]), Series("MB", [budget / MB]),
               "1.5 × DataFrame + 300 MB", Series("", [outcome.kernel_rss / budget]), "≤ 1.0",
               1.0),
    ]


def b9_section(outcome: B9Outcome) -> Section:
    section = Section("B9: the Binder budget")
    section.add(f"Quickstart on the small demo, every cell in a fresh kernel "
                f"({outcome.quickstart_seconds:.1f} s); peak resident memory of each process:")
    section.add()
    rows = [[name, f"{rss / MB:,.0f}"] for name, rss in outcome.quickstart_rss.items()]
    rows.append(["total", f"{sum(outcome.quickstart_rss.values()) / MB:,.0f} (budget 1,000)"])
    section.table(["process", "peak RSS (MB)"], rows)
    section.add(f"A fresh kernel after subscribing to {outcome.orders:,} Orders and an explorer "
                "session (pages at both ends, a sort, a `[c]` filter):")
    section.add()
    section.table(["", "MB"], [
        ["DataFrame (`memory_usage(deep=True)`)", f"{outcome.frame_bytes / MB:,.0f}"],
        ["kernel RSS with the DataFrame", f"{outcome.kernel_rss / MB:,.0f}"],
        ["budget: 1.5 × DataFrame + 300 MB", f"{(1.5 * outcome.frame_bytes + 300 * MB) / MB:,.0f}"],
        ["kernel RSS after `del` + `gc.collect()`", f"{outcome.kernel_rss_after_del / MB:,.0f}"],
    ])
    return section
