"""Real filesystems that fail: a tiny one that fills up, and a read-only one.

Both are mounts made for one test and unmounted after it (a tmpfs, a read-only
bind mount). Mounting needs root (CI runs as root); elsewhere a read-only
directory falls back to ``chmod``
(an ordinary user cannot write a 0555 directory), and a full disk cannot be made
without root, so only that test is skipped there.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["read_only_directory", "small_filesystem"]


def _mount(target: Path, options: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], check=True,
                   capture_output=True, text=True)


def _unmount(target: Path) -> None:
    subprocess.run(["umount", "--lazy", str(target)], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def small_filesystem(target: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"4m"``) mounted at ``target`` (created)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a tmpfs mount, which needs root")
    target.mkdir(parents=True, exist_ok=True)
    _mount(target, f"size={size},mode=0700")
    try:
        yield target
    finally:
        _unmount(target)


def resize(target: Path, size: str) -> None:
    """Grow (or shrink) the tmpfs at ``target``: space freed, as a user would free it."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(target)], check=True,
                   capture_output=True, text=True)


@contextlib.contextmanager
def read_only_directory(target: Path) -> Iterator[Path]:
    """The directory ``target`` (created if need be, contents kept), read-only for this
    process and its children: a read-only bind mount of itself, or without root 0555
    with every file in it 0444."""
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        files = [path for path in target.iterdir() if path.is_file()]
        for path in files:
            path.chmod(0o444)
        target.chmod(0o555)
        try:
            yield target
        finally:
            target.chmod(0o755)
            for path in files:
                path.chmod(0o644)
        return
    subprocess.run(["mount", "--bind", str(target), str(target)], check=True,
                   capture_output=True, text=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True,
                       capture_output=True, text=True)
        yield target
    finally:
        _unmount(target)
