"""``binder/`` alone makes an environment that runs the quickstart, as mybinder.org would.

repo2docker's steps for a ``binder/`` folder with ``runtime.txt``, ``requirements.txt`` and
``postBuild`` are: a Python of that version, ``pip install -r binder/requirements.txt`` from the
repository root, then ``binder/postBuild``. The slow test does exactly that in a fresh venv over a
fresh copy of the repository (what ``git clone`` gives: no ``node_modules``, no built bundles),
then executes ``notebooks/01-quickstart.ipynb`` with that venv's own Jupyter. pip's and npm's
download caches are used; nothing else is shared with the test environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.notebooks import expected
from tests.notebooks.support import REPO, clean_environ, progress_summary, texts

BINDER = REPO / "binder"
_IGNORED = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache",
            ".pytest_cache", ".hypothesis", ".realm", "build", "dist", ".work", "coverage",
            ".ipynb_checkpoints"}


def test_binder_files() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} must be executable"
        assert path.read_text().startswith("#!/bin/bash\n")
    assert (BINDER / "start").read_text().rstrip().endswith('exec "$@"')
    assert "npm ci" in (BINDER / "postBuild").read_text()
    requirements = [line.split("#")[0].strip() for line in
                    (BINDER / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in requirements if line]
    assert requirements[0] in (".", "-e .") or requirements[0].startswith((".[", "-e .["))
    pinned = {re.split(r"[=<>!~\[]", line)[0].lower(): line for line in requirements[1:]}
    for name in ("jupyterlab", "ipywidgets", "anywidget"):
        assert re.fullmatch(rf"{name}==\d+(\.\d+)+", pinned[name], re.IGNORECASE), pinned.get(name)
    assert all("==" in line for line in requirements[1:]), "pin every requirement"


def _fresh_clone(destination: Path) -> Path:
    """The repository as a clone has it (tracked and new files; nothing ignored, nothing built)."""
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                                cwd=REPO, capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        listed = ""
    if listed:
        for name in filter(None, listed.split("\0")):
            source = REPO / name
            if source.is_file():
                (destination / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination / name)
    else:  # not a git checkout: copy, leaving out what git would ignore
        shutil.copytree(REPO, destination, dirs_exist_ok=True,
                        ignore=lambda _dir, names: [n for n in names if n in _IGNORED])
    for bundle in (destination / "realm_jupyter" / "widgets" / "static").glob("*.js"):
        bundle.unlink()  # build artifacts (gitignored), as in a fresh clone
    return destination


def _run(argv: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: float) -> None:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        completed = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   timeout=timeout, check=False)
    if completed.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise AssertionError(f"{argv[:4]} exited with {completed.returncode}:\n{tail}")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_binder_environment_runs_the_quickstart(tmp_path: Path) -> None:
    clone = _fresh_clone(tmp_path / "clone")
    venv = tmp_path / "venv"
    log = tmp_path / "build.log"
    home = tmp_path / "home"
    for name in ("cache", "config", "jupyter-config", "jupyter-data", "jupyter-runtime", "ipython"):
        (home / name).mkdir(parents=True)
    env = {k: v for k, v in clean_environ().items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    _run([sys.executable, "-m", "venv", str(venv)], clone, env, log, 300)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"], clone, env, log, 900)
    _run([str(clone / "binder" / "postBuild")], clone, env, log, 600)
    _run([python, "-c", "import realm_jupyter.widgets._base as b, sys; "
          "sys.exit(not all((b.STATIC / f'{n}.js').is_file() for n in "
          "('status', 'subscriptions', 'explorer')))"], home, env, log, 60)

    # Jupyter as a Binder user gets it: only that venv, its own kernel, no REALM_DEMO_URL.
    run_env = {**env, "XDG_CACHE_HOME": str(home / "cache"), "XDG_CONFIG_HOME": str(home / "config"),
               "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
               "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
               "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"), "IPYTHONDIR": str(home / "ipython")}
    out = tmp_path / "executed"
    _run([python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
          "--ExecutePreprocessor.timeout=300", "--output-dir", str(out),
          str(clone / "notebooks" / "01-quickstart.ipynb")], clone / "notebooks", run_env, log, 600)

    nb = nbformat.read(out / "01-quickstart.ipynb", as_version=4)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "error"]
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    assert "as alice@example.com" in texts(nb, "connect")[0]
    (items,) = progress_summary(nb, "subscribe-items")
    assert items["rows"] == len(expected.open_urgent(expected.USERS["Alice"]))
    (orders,) = progress_summary(nb, "subscribe-orders")
    north = expected.readable_orders(expected.USERS["Alice"])
    assert orders["rows"] == int((north["region"] == "north").sum())
