"""A broken cache in a notebook: one red line, no traceback, not twice.

A real kernel (jupyter_client) connects to the demo with ``--cache`` pointing at a file
that is not a DuckDB database, or on a 512 kB tmpfs that a subscription's bootstrap
overflows; the cell fails with a ``UsageError`` whose line names the file and says
what to do, plus the hint line every realm error has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.magics.kernel import Kernel
from tests.magics.test_kernel import _usage_error
from tests.notebooks.support import install_demo_store
from tests.support.disks import resize, small_filesystem

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


def test_a_full_disk_under_a_waiting_subscribe_is_one_red_line(kernel: Kernel,
                                                               tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", "512k") as disk:
        cache = disk / "cache.duckdb"
        assert kernel.run(f"%realm_connect --demo --cache {cache}").ok
        assert kernel.run('%realm_subscribe Item "TRUEPREDICATE"').ok
        execution = kernel.run('%realm_subscribe Order "TRUEPREDICATE"')  # cannot fit
        lines = _usage_error(execution)
        assert len(lines) == 2, lines
        assert f"the disk holding the cache {cache} is full" in lines[0]
        assert lines[1] == "Hint: free some space, then realm.session.resume() (%realm_resume)"
        assert not [text for text in execution.displays if "sync:" in text]  # not twice
        status = kernel.run("%realm_status")
        assert status.ok
        resize(disk, "64m")
        assert kernel.run("%realm_resume").ok
        done = kernel.run("import realm_jupyter\n"
                          "await realm_jupyter.current_realm().subscriptions"
                          ".wait_for_synchronization(120)\n"
                          "len(realm_jupyter.current_realm().df('Order')) > 0")
        assert done.ok and done.result == "True", (done.reply, done.stderr)
        assert kernel.run("await realm_jupyter.current_realm().close()").ok
