"""``realm-jupyter import`` of files that cannot be imported: one line, exit 1, store untouched.

Each case runs the real CLI in a subprocess against a store that already holds one
imported document, and checks that stderr is a single ``realm-jupyter: …`` line (no
traceback), that the command ends (a FIFO must not wait for a writer) and that the
store file is byte for byte what it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from realm_jupyter.demo import DEMO_APP_DIR
from tests.test_cli import cli

GOOD = {"_id": {"$oid": "6650000000000000000000aa"}, "owner_id": "x", "summary": "fine"}
DEPTH = 100_000


def _digest(path: Path) -> str:
    """The store's main file and every companion (WAL, shared memory) it has."""
    parts = sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name))
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in parts)).hexdigest()


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("import-errors") / "app"
    shutil.copytree(DEMO_APP_DIR, target)
    return target


@pytest.fixture(scope="module")
def seeded(app_dir: Path) -> Path:
    """A store holding one imported Item (made once; each test gets a copy)."""
    seed = app_dir.parent / "seed.ndjson"
    seed.write_text(json.dumps(GOOD) + "\n")
    path = app_dir.parent / "seeded" / "store.sqlite3"
    path.parent.mkdir()
    result = cli("import", "--app-dir", str(app_dir), "--store", f"sqlite:///{path}", "Item",
                 str(seed))
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def store(seeded: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store" / seeded.name
    shutil.copytree(seeded.parent, target.parent)
    return target


def _directory(tmp_path: Path) -> Path:
    (tmp_path / "a-directory").mkdir()
    return tmp_path / "a-directory"


def _fifo(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "pipe.json")  # no writer ever opens it
    return tmp_path / "pipe.json"


def _deep_ndjson(tmp_path: Path) -> Path:
    path = tmp_path / "deep.ndjson"
    path.write_text(json.dumps(GOOD) + "\n" + '{"summary": ' * DEPTH + "1" + "}" * DEPTH + "\n")
    return path


def _deep_array(tmp_path: Path) -> Path:
    path = tmp_path / "deep.json"
    path.write_text("[\n" + json.dumps(GOOD) + ",\n" + "[" * DEPTH + "]" * DEPTH + "\n]")
    return path


def _nested_150(tmp_path: Path) -> Path:
    """Deeper than MongoDB allows, but shallow enough for Python's decoder."""
    document: dict[str, object] = {"v": 1}
    for _ in range(150):
        document = {"x": document}
    path = tmp_path / "nested.ndjson"
    path.write_text(json.dumps(document) + "\n")
    return path


def _nested_bson(tmp_path: Path) -> Path:
    import bson

    document: dict[str, object] = {"v": 1}
    for _ in range(150):
        document = {"x": document}
    path = tmp_path / "nested.bson"
    path.write_bytes(bson.encode(document))
    return path


def _bad_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.ndjson"
    path.write_bytes(json.dumps(GOOD).encode() + b'\n{"summary": "caf\xe9"}\n')
    return path


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    return path


def _blank(tmp_path: Path) -> Path:
    path = tmp_path / "blank.ndjson"
    path.write_text("\n   \n")
    return path


def _truncated_bson(tmp_path: Path) -> Path:
    import bson

    whole = bson.encode({"_id": bson.ObjectId("6650000000000000000000ab"), "owner_id": "x",
                         "summary": "cut short"})
    path = tmp_path / "dump.bson"
    path.write_bytes(whole[: len(whole) - 9])
    return path


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "no-such-file.json"


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "directory": (_directory, "a-directory: is a directory, not a regular file"),
    "missing": (_missing, "no-such-file.json: no such file"),
    "fifo": (_fifo, "pipe.json: is a FIFO (named pipe), not a regular file"),
    "device": (lambda _: Path("/dev/null"), "/dev/null: is a character device, not a regular file"),
    "100k-deep NDJSON": (_deep_ndjson, "line 2: the document is nested more than 100 levels deep"),
    "100k-deep array": (_deep_array, "line 3: the document is nested more than 100 levels deep"),
    "150 levels": (_nested_150, "line 1: the document is nested more than 100 levels deep"),
    "150 levels of BSON": (_nested_bson, "document 1 (byte 0): the document is nested more "
                                         "than 100 levels deep"),
    "bad UTF-8": (_bad_utf8, "line 2: not valid UTF-8 (byte 0xe9 at offset"),
    "empty": (_empty, "empty.json: holds no documents"),
    "blank lines": (_blank, "blank.ndjson: holds no documents"),
    "truncated BSON": (_truncated_bson, "document 1 (byte 0): truncated BSON document: it "
                                        "declares 61 bytes, 52 remain in the file"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_unusable_file_is_one_line_and_leaves_the_store_unchanged(
        case: str, app_dir: Path, store: Path, tmp_path: Path) -> None:
    make, says = CASES[case]
    path = make(tmp_path)
    before = _digest(store)
    result = cli("import", "--app-dir", str(app_dir), "--store", f"sqlite:///{store}", "Item",
                 str(path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("realm-jupyter: ") and says in lines[0], lines[0]
    assert _digest(store) == before


def test_an_unreadable_file_is_one_line(app_dir: Path, store: Path,
                                        tmp_path: Path) -> None:
    path = tmp_path / "secret.ndjson"
    path.write_text(json.dumps(GOOD) + "\n")
    path.chmod(0)
    # root reads any file: drop the capabilities that let it, as an ordinary user has none
    prefix = (["setpriv", "--bounding-set=-dac_override,-dac_read_search",
               "--inh-caps=-dac_override,-dac_read_search"] if os.geteuid() == 0 else [])
    before = _digest(store)
    result = subprocess.run([*prefix, sys.executable, "-m", "realm_jupyter", "import", "--app-dir",
                             str(app_dir), "--store", f"sqlite:///{store}", "Item", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"realm-jupyter: {path}: permission denied: cannot read it"]
    assert _digest(store) == before


def test_a_bad_file_after_good_ones_commits_none_of_them(app_dir: Path, store: Path,
                                                         tmp_path: Path) -> None:
    good = tmp_path / "more.ndjson"
    good.write_text(json.dumps({**GOOD, "_id": {"$oid": "6650000000000000000000ac"}}) + "\n")
    before = _digest(store)
    result = cli("import", "--app-dir", str(app_dir), "--store", f"sqlite:///{store}", "Item",
                 str(good), str(_fifo(tmp_path)))
    assert result.returncode == 1 and "not a regular file" in result.stderr
    assert _digest(store) == before


def test_a_missing_file_does_not_create_the_store(app_dir: Path,
                                                  tmp_path: Path) -> None:
    result = cli("import", "--app-dir", str(app_dir), "--store",
                 f"sqlite:///{tmp_path / 'new.sqlite3'}", "Item", str(tmp_path / "nope.json"))
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "new.sqlite3").exists()
