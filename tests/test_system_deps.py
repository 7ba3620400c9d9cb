"""``scripts/ensure-system-deps`` (run by ``make test``): installs what is missing when it can,
names what it installed, and says in one line what to install when it cannot.

The script runs for real, with a ``PATH`` that lacks Chromium; ``apt-get`` is a stand-in
that records its arguments and "installs" by creating the binary (a test must not touch the
machine's packages).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.notebooks.support import REPO

SCRIPT = REPO / "scripts" / "ensure-system-deps"


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH with node, npm and id, but no chromium."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in ("id", "node", "npm"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} is not installed here")
        (directory / tool).symlink_to(found)
    return directory


def _run(bin_dir: Path, pg: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
        env={"PATH": str(bin_dir), "PYTHON": sys.executable, "PG_GLOB": str(pg), **env})


def test_it_names_what_to_install_when_it_cannot(bin_dir: Path, tmp_path: Path) -> None:
    result = _run(bin_dir, tmp_path / "no-postgres" / "initdb", APT_GET="no-such-apt-get")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "make test needs these Debian packages: chromium postgresql — install them with: "
        "sudo apt-get install --no-install-recommends chromium postgresql"]


@pytest.mark.skipif(os.geteuid() != 0, reason="installing needs root")
def test_as_root_it_installs_what_is_missing_and_says_so(bin_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    apt = bin_dir / "fake-apt-get"
    apt.write_text(f"#!/bin/bash\necho \"$@\" >> {log}\n"
                   f"if [ \"$1\" = install ]; then /bin/ln -s /bin/true {bin_dir}/chromium; fi\n")
    apt.chmod(0o755)
    initdb = tmp_path / "pg" / "initdb"
    initdb.parent.mkdir()
    initdb.touch()
    result = _run(bin_dir, initdb, APT_GET=str(apt))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["system packages: installing chromium (apt-get) …",
                                          "system packages: installed chromium"]
    assert log.read_text().splitlines() == ["update -q",
                                            "install -y -q --no-install-recommends chromium"]
    again = _run(bin_dir, initdb, APT_GET=str(apt))
    assert again.stdout.startswith("system packages: all present")
