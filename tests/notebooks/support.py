"""Running notebooks and kernels the way a user's Jupyter would, isolated from the user's files.

Kernels run this interpreter (``sys.executable``: ``.venv`` in CI, any venv locally) with the
repository on ``PYTHONPATH``, so the tests work with an editable install and without one.
Each kernel gets its own ``XDG_CACHE_HOME``/``XDG_CONFIG_HOME``/``IPYTHONDIR`` and no
``REALM_*`` variables, so ``%realm_connect --demo`` starts its own demo server with a fresh
store and a fresh cache, as on a new machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager, KernelManager
from nbclient import NotebookClient
from traitlets import default

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
NOTEBOOK_NAMES = ("01-quickstart.ipynb", "02-subscriptions-and-permissions.ipynb",
                  "03-explore-with-duckdb.ipynb", "04-writes-and-conflicts.ipynb",
                  "05-reproducible-snapshots.ipynb")
DEMO_STORE = "demo-store.sqlite3"  # where %realm_connect --demo keeps its store (magics/context.py)


def _this_interpreter() -> KernelSpecManager:
    # No kernel directories: "python3" resolves to ipykernel's own spec, which runs sys.executable.
    return KernelSpecManager(kernel_dirs=[], ensure_native_kernel=True)


class ThisInterpreterKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, always running this interpreter (never a python3 on PATH)."""

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return _this_interpreter()


class BlockingKernelManager(KernelManager):
    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return _this_interpreter()


def clean_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without REALM_* and with the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALM_")}
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # the debugger's frozen-modules warning
    env.update(extra or {})
    return env


def kernel_env(home: Path) -> dict[str, str]:
    """The environment of an isolated kernel whose files live under ``home``."""
    dirs = {"XDG_CACHE_HOME": home / "cache", "XDG_CONFIG_HOME": home / "config",
            "IPYTHONDIR": home / "ipython"}
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    return clean_environ({name: str(directory) for name, directory in dirs.items()})


# --------------------------------------------------------------------------- the demo store


def seeded_demo_store(root: Path) -> Path:
    """A demo store the real server has seeded once (small), to copy into each kernel's cache.

    Seeding takes seconds; every notebook test would pay it. The copy is what the server
    would have written itself on first start.
    """
    target = root / "seeded-demo-store"
    if (target / DEMO_STORE).exists():
        return target
    work = root / "seeding"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    from realm_jupyter.demo.launcher import wait_for_server
    from realm_jupyter.server.runner import free_port

    port = free_port()
    with run_process([sys.executable, "-m", "realm_jupyter", "serve", "--port", str(port),
                      "--demo-size", "small", "--store", f"sqlite:///{work / DEMO_STORE}"],
                     env=clean_environ(), log=work / "serve.log") as server:
        wait_for_server(f"http://127.0.0.1:{port}", server, timeout=120)
    work.rename(target)
    return target


def install_demo_store(template: Path, home: Path) -> None:
    """Put the seeded store where ``%realm_connect --demo`` of a kernel in ``home`` looks."""
    destination = home / "cache" / "realm-jupyter"
    destination.mkdir(parents=True, exist_ok=True)
    for path in template.glob(DEMO_STORE + "*"):
        shutil.copy2(path, destination / path.name)


# --------------------------------------------------------------------------- processes


@contextlib.contextmanager
def run_process(argv: list[str], *, env: dict[str, str], log: Path,
                stop: signal.Signals = signal.SIGTERM, **options: Any
                ) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with its output in ``log``; stopped (then killed) on the way out."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, **options)
        try:
            yield process
        finally:
            stop_process(process, stop)


def stop_process(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM,
                 timeout: float = 20) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


def poll(condition: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Call ``condition()`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) is gone for our purposes
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


# --------------------------------------------------------------------------- notebooks


def execute_notebook(path: Path, home: Path, *, timeout: float = 180) -> nbformat.NotebookNode:
    """Run every cell of ``path`` top to bottom in an isolated kernel; the executed notebook.

    Cells tagged ``raises-exception`` may fail; any other error fails the run.
    """
    nb = nbformat.read(path, as_version=4)
    cwd = home / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            kernel_manager_class=ThisInterpreterKernelManager, allow_errors=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=kernel_env(home))
    return nb


def cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    for candidate in nb.cells:
        if candidate.get("id") == cell_id:
            return candidate
    raise KeyError(f"no cell with id {cell_id!r}")


def texts(nb: nbformat.NotebookNode, cell_id: str, *kinds: str) -> list[str]:
    """The text/plain (or stream text) of a cell's outputs, optionally of some output kinds."""
    out = []
    for output in cell(nb, cell_id).outputs:
        if kinds and output.output_type not in kinds:
            continue
        if output.output_type == "stream":
            out.append(output.text)
        elif output.output_type == "error":
            out.append(f"{output.ename}: {output.evalue}")
        else:
            out.append(output.get("data", {}).get("text/plain", ""))
    return out


def result(nb: nbformat.NotebookNode, cell_id: str) -> str:
    """The text/plain of a cell's execute_result."""
    found = texts(nb, cell_id, "execute_result")
    assert len(found) == 1, f"cell {cell_id!r} has {len(found)} results: {texts(nb, cell_id)}"
    return found[0]


def mimetypes(nb: nbformat.NotebookNode, cell_id: str) -> set[str]:
    return {key for output in cell(nb, cell_id).outputs for key in output.get("data", {})}


def table(text: str) -> list[list[str]]:
    """The rows of a small DataFrame's text repr (index label dropped), split on spaces."""
    lines = [line for line in text.splitlines() if line.strip()]
    return [line.split()[1:] for line in lines[1:]]


def series(text: str) -> dict[str, str]:
    """A Series' text repr as {label: value} (one-word labels; the value may have spaces)."""
    out = {}
    for line in text.splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2 and not line.startswith(("dtype:", "Name:")):
            out[parts[0]] = parts[1].strip()
    return out


def in_order(text: str, needles: list[str]) -> bool:
    """Whether every needle occurs in ``text``, in this order."""
    position = 0
    for needle in needles:
        found = text.find(needle, position)
        if found < 0:
            return False
        position = found + len(needle)
    return True


ROWS_DONE = re.compile(r"^(?P<label>.+): (?P<rows>[\d,]+) rows in [\d.]+ s \(subscription set version "
                       r"(?P<version>\d+)\)$")


def progress_summary(nb: nbformat.NotebookNode, cell_id: str) -> list[dict[str, Any]]:
    """The finished progress lines of the ``%realm_subscribe`` calls in a cell."""
    out = []
    for text in texts(nb, cell_id, "display_data"):
        match = ROWS_DONE.match(text.strip())
        if match:
            out.append({"label": match["label"], "rows": int(match["rows"].replace(",", "")),
                        "version": int(match["version"])})
    return out
