"""Owner-only store files and the token signing secret kept outside the data.

A store file readable by other local users hands them every document, every
password hash and — when the signing secret lived in ``_realm_meta`` — the key that
forges access tokens for any user. So:

* a store directory the server creates is 0700, and the server's own ``.realm/``
  directory is tightened to 0700 when an older version left it wider;
* the database file is created 0600 before SQLite opens it (SQLite gives its
  ``-wal`` and ``-shm`` files the database file's mode), and existing files are
  tightened to 0600;
* the signing secret lives in ``<store file>.secret`` (0600) beside the SQLite
  file, or comes from ``REALM_SIGNING_SECRET``; an existing store's secret is moved
  out of the data file on open, erased with ``secure_delete`` and a checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from ...errors import StorageError

__all__ = ["private_directory", "private_sqlite_files", "read_or_create_secret", "secret_path"]

logger = logging.getLogger(__name__)
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
DEFAULT_DIRECTORY = ".realm"


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            os.chmod(path, mode)
            logger.info("made %s owner-only (it was %o)", path, current)
    except FileNotFoundError:
        pass
    except OSError as error:
        logger.warning("cannot make %s owner-only: %s", path, error)


def private_directory(directory: Path) -> None:
    """Create ``directory`` 0700 (its missing parents as usual); tighten ours if it is wider."""
    if not directory.exists():
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create the store directory {directory}: {error}") \
                from error
        _tighten(directory, 0o700)  # mkdir's mode passes through the umask
    elif directory.name == DEFAULT_DIRECTORY:
        _tighten(directory, 0o700)


def private_sqlite_files(path: Path) -> None:
    """The SQLite file at ``path`` and its side files exist only for their owner."""
    private_directory(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # an empty file is a new database
    except OSError as error:
        raise StorageError(f"cannot open {path}: {error}") from error
    for suffix in ("", *SQLITE_SIDE_FILES):
        _tighten(path.with_name(path.name + suffix), 0o600)
    _tighten(secret_path(path), 0o600)


def secret_path(path: Path) -> Path:
    """Where the signing secret of the SQLite store at ``path`` lives."""
    return path.with_name(path.name + ".secret")


def read_or_create_secret(file: Path, candidate: str) -> str:
    """The secret in ``file``; written there (0600, atomically) from ``candidate`` if absent.

    Two processes starting on a new store at once agree: the file appears complete
    or not at all (written aside, then hard-linked into place), and the loser reads it.
    """
    with contextlib.suppress(FileNotFoundError):
        existing = file.read_text().strip()
        if existing:
            return existing
    aside = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(aside, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(candidate + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(aside, file)
        except FileExistsError:
            existing = file.read_text().strip()
            if not existing:
                raise StorageError(f"the signing secret file {file} is empty: remove it (every "
                                   "access token is then refused once) or restore it") from None
            return existing
        return candidate
    except OSError as error:
        raise StorageError(f"cannot write the signing secret {file}: {error}") from error
    finally:
        with contextlib.suppress(OSError):
            aside.unlink()
