"""Failed writes a user can fix — a full disk, a read-only catalog or folder, a catalog locked by another program —
told in words, with what to do about them.

SQLite reports these as :class:`sqlite3.OperationalError` (its error name tells which: ``SQLITE_FULL``,
``SQLITE_READONLY``, ``SQLITE_BUSY``...), files as :class:`OSError` (``ENOSPC``, ``EROFS``, ``EACCES``...).
:func:`storage_problem` turns either into a :class:`StorageProblem`; anything else is None (a bug, or an error
with its own handling). No imports from the rest of the app: the engine and the command line both use it.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass

__all__ = ["StorageProblem", "storage_problem"]

_FULL = ("Disk full", "Free some space")
_READ_ONLY = ("The catalog is read-only", "Make the catalog's folder writable (or set LODA_HOME to one that is)")
_LOCKED = ("The catalog is locked by another program", "Close the other program (another LoDa window?)")
_IO = ("Disk error", "Check the disk")

_SQLITE: dict[str, tuple[str, str]] = {
    "SQLITE_FULL": _FULL,
    "SQLITE_READONLY": _READ_ONLY,
    "SQLITE_BUSY": _LOCKED,
    "SQLITE_LOCKED": _LOCKED,
    "SQLITE_IOERR": _IO,
    "SQLITE_CANTOPEN": ("The catalog cannot be opened for writing", "Check the catalog's folder"),
}
_OS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: _FULL,
    errno.EDQUOT: ("Disk quota exceeded", "Free some space"),
    errno.EROFS: ("Read-only file system", "Choose a writable folder"),
    errno.EACCES: ("Permission denied", "Choose a folder you can write to"),
    errno.EPERM: ("Permission denied", "Choose a folder you can write to"),
    errno.EIO: _IO,
}


@dataclass(frozen=True)
class StorageProblem:
    """What went wrong ("Disk full"), what to do ("Free some space") and the library's own words."""

    what: str
    advice: str
    detail: str


def storage_problem(exc: BaseException) -> StorageProblem | None:
    """The :class:`StorageProblem` ``exc`` is, or None when it is not a failed write a user can fix."""
    if isinstance(exc, sqlite3.OperationalError):
        name = getattr(exc, "sqlite_errorname", "") or ""
        base = name.split("_")[0:2]
        found = _SQLITE.get(name) or _SQLITE.get("_".join(base))  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
        if found is None and "disk is full" in str(exc):  # an sqlite3 without error names
            found = _FULL
        if found is None and "readonly" in str(exc):
            found = _READ_ONLY
        if found is None and "locked" in str(exc):
            found = _LOCKED
        return StorageProblem(*found, str(exc)) if found else None
    if isinstance(exc, OSError) and exc.errno in _OS:
        return StorageProblem(*_OS[exc.errno], exc.strerror or str(exc))
    return None
