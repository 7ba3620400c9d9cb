"""``realm-jupyter serve`` on a store it cannot use: one ``realm-jupyter:`` line, no traceback.

The store's start-up (tables, seed and demo data) runs before the server listens, so a
read-only store or a full disk ends the command with one clear line and status 1
instead of uvicorn's start-up traceback. Real filesystems: a read-only bind mount and
a 300 kB tmpfs (``tests/support/disks.py``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

from realm_jupyter.demo import DEMO_APP_DIR
from tests.support.disks import read_only_directory, resize, small_filesystem
from tests.test_cli import _documents, cli


def serve(store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "realm_jupyter", "serve", "--store",
                           f"sqlite:///{store}", "--port", "0"],
                          capture_output=True, text=True, timeout=300)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("realm-jupyter: ")]
    assert len(errors) == 1, result.stderr
    assert result.stdout == ""  # it never said it was serving
    return errors[0]


def test_a_read_only_store_directory_is_one_line(tmp_path: Path) -> None:
    with read_only_directory(tmp_path / "store") as directory:
        line = _one_error_line(serve(directory / "store.sqlite3"))
    assert f"cannot write the store {tmp_path / 'store' / 'store.sqlite3'}" in line
    assert "directory is read-only" in line


def test_a_read_only_store_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    path = tmp_path / "store" / "store.sqlite3"
    path.write_bytes(b"")  # SQLite takes an empty file as an empty database
    with read_only_directory(tmp_path / "store"):
        line = _one_error_line(serve(path))
    assert f"cannot write the store {path}: its file is read-only" in line


def test_a_full_disk_at_start_is_one_line(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", "300k") as disk:
        line = _one_error_line(serve(disk / "store.sqlite3"))  # the demo data cannot fit
    assert "the disk holding the sqlite store is full" in line and "free some space" in line


def test_an_import_that_fills_the_disk_is_one_line_and_commits_nothing(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(DEMO_APP_DIR, app_dir)
    first = tmp_path / "first.ndjson"
    first.write_text(json.dumps({"_id": {"$oid": "6650000000000000000000aa"}, "owner_id": "x",
                                 "summary": "fits"}) + "\n")
    many = tmp_path / "many.ndjson"
    many.write_text("".join(json.dumps({"_id": {"$oid": f"{n:024x}"}, "owner_id": "x",
                                        "summary": f"{n} " + "x" * 400}) + "\n"
                            for n in range(1, 20_001)))  # about 9 MB
    with small_filesystem(tmp_path / "disk", "2m") as disk:
        store = f"sqlite:///{disk / 'store.sqlite3'}"
        assert cli("import", "--app-dir", str(app_dir), "--store", store, "Item",
                   str(first)).returncode == 0
        result = cli("import", "--app-dir", str(app_dir), "--store", store, "Item", str(many))
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        # progress lines (" INFO realm_jupyter.cli: read …") may precede it; the error is one line
        lines = [line for line in result.stderr.splitlines() if " INFO realm_jupyter." not in line]
        assert len(lines) == 1 and lines[0].startswith("realm-jupyter: "), result.stderr
        assert "the disk holding the sqlite store is full" in lines[0]
        resize(disk, "64m")
        rows = asyncio.run(_documents(app_dir, store, "Item"))
        assert [row["summary"] for row in rows] == ["fits"]
