"""A damaged cache file in a notebook: ``%realm_connect`` shows one red line, no traceback.

A real kernel (jupyter_client) connects to the demo with ``--cache`` pointing at a file
that is not a DuckDB database; the cell fails with a ``UsageError`` whose line names the
file and says to delete it, plus the hint line every realm error has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.magics.kernel import Kernel
from tests.magics.test_kernel import _usage_error
from tests.notebooks.support import install_demo_store

pytestmark = pytest.mark.slow


@pytest.fixture
def kernel(tmp_path: Path, demo_store: Path) -> Iterator[Kernel]:
    install_demo_store(demo_store, tmp_path)
    kernel = Kernel(tmp_path)
    try:
        assert kernel.run("%load_ext realm_jupyter").ok
        yield kernel
    finally:
        kernel.shutdown()


def test_a_damaged_cache_is_one_red_line(kernel: Kernel, tmp_path: Path) -> None:
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"not a DuckDB database\n" * 500)
    lines = _usage_error(kernel.run(f"%realm_connect --demo --cache {broken}"))
    assert len(lines) == 2, lines  # the error, then its hint
    assert str(broken) in lines[0] and "is damaged" in lines[0]
    assert "delete it to resync" in lines[0]
    assert lines[1].startswith("Hint: delete the file")
    broken.unlink()  # as it says: the next connect makes a fresh cache
    assert kernel.run(f"%realm_connect --demo --cache {broken}").ok
