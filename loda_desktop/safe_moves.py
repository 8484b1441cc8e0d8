"""Moving a photographer's files without ever overwriting one, and finding them again in the system trash.

Used by :mod:`loda_desktop.fileops` (the undoable actions and their journal). Nothing here knows about the
catalog or the journal: plain functions over paths.

Never overwrite
    :func:`move_no_clobber` links the file to its new name, then unlinks the old one (an atomic no-clobber
    rename); where the filesystem has no hard links it checks, then renames; across devices it copies to a
    partial file, then links that into place and deletes the source. An existing destination always raises
    :class:`FileExistsError`.

The freedesktop trash
    On Linux and the BSDs (:func:`is_freedesktop`) a trashed file is found again by the ``.trashinfo`` whose
    ``Path=`` is its original location, in ``$XDG_DATA_HOME/Trash`` (default ``~/.local/share/Trash``),
    ``<mount>/.Trash/<uid>`` or ``<mount>/.Trash-<uid>`` (:class:`TrashIndex`, :func:`find_trashinfo`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from loda_desktop.catalog import path_key

__all__ = [
    "TrashIndex",
    "file_id",
    "find_trashinfo",
    "is_freedesktop",
    "move_no_clobber",
    "reason_of",
    "rename_no_clobber",
    "same_file",
]


def is_freedesktop() -> bool:
    """Whether the system trash follows the freedesktop.org trash spec (Linux, the BSDs)."""
    return os.name == "posix" and sys.platform != "darwin"


# -- moving files without ever overwriting -------------------------------------------------------------------


def _exists_error(dst: str) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "a file with that name already exists", dst)


def rename_no_clobber(src: str, dst: str) -> None:
    """Rename within one filesystem, refusing to replace ``dst``."""
    if os.path.lexists(dst):
        raise _exists_error(dst)
    try:
        os.link(src, dst, follow_symlinks=False)  # fails with EEXIST instead of replacing
    except FileExistsError:
        raise
    except (OSError, NotImplementedError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EXDEV:
            raise
        # No hard links here (FAT/exFAT cards, some network shares): check, then rename.
        if os.path.lexists(dst):
            raise _exists_error(dst) from None
        os.rename(src, dst)
        return
    try:
        os.unlink(src)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(dst)
        raise


def move_no_clobber(src: str, dst: str) -> None:
    """Move a file, across devices if needed, never replacing ``dst``."""
    try:
        rename_no_clobber(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    # Another device: copy to a hidden temporary name next to dst, rename into place, then delete src.
    directory, name = os.path.split(dst)
    tmp = os.path.join(directory, f".{name}.loda-partial")
    try:
        shutil.copy2(src, tmp, follow_symlinks=False)
        rename_no_clobber(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.unlink(src)


def reason_of(exc: BaseException) -> str:
    if isinstance(exc, FileExistsError):
        return f"{exc.filename or 'the destination'} already exists; not overwritten"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return f"permission denied ({exc.filename or 'file'})" if exc.filename else "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


# -- the freedesktop trash -----------------------------------------------------------------------------------


def _mount_point(path: str) -> str:
    current = os.path.realpath(os.path.dirname(path))
    while not os.path.exists(current) and os.path.dirname(current) != current:
        current = os.path.dirname(current)
    while not os.path.ismount(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _trash_dirs(original: str) -> list[tuple[str, str]]:
    """Candidate (trash dir, base for relative ``Path=`` values) pairs for a file trashed from ``original``."""
    candidates: list[tuple[str, str]] = []
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    candidates.append((os.path.join(data_home, "Trash"), data_home))
    # send2trash reads XDG_DATA_HOME once, when it is imported; look where it actually puts files too.
    plat_other = sys.modules.get("send2trash.plat_other")
    if plat_other is not None and hasattr(plat_other, "XDG_DATA_HOME"):
        s2t_home = os.fsdecode(plat_other.XDG_DATA_HOME)
        candidates.append((os.path.join(s2t_home, "Trash"), s2t_home))
    if hasattr(os, "getuid"):
        uid = str(os.getuid())
        mount = _mount_point(original)
        candidates.append((os.path.join(mount, ".Trash", uid), mount))
        candidates.append((os.path.join(mount, f".Trash-{uid}"), mount))
    unique: dict[str, tuple[str, str]] = {}
    for trash, base in candidates:
        unique.setdefault(os.path.realpath(trash), (trash, base))
    return list(unique.values())


def _read_trashinfo(info: str) -> tuple[str, str] | None:
    """(Path value, DeletionDate) of a .trashinfo file, or None when unreadable or malformed."""
    try:
        with open(info, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    if not lines or lines[0].strip() != "[Trash Info]":
        return None
    values = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    if "Path" not in values:
        return None
    return values["Path"], values.get("DeletionDate", "")


class TrashIndex:
    """The ``.trashinfo`` entries of the trash dirs relevant to some originals, each dir read once."""

    def __init__(self) -> None:
        self._read: set[str] = set()
        self._by_path: dict[str, list[tuple[str, str, str]]] = {}  # original -> [(info, trashed, date)]

    def _load(self, trash: str, base: str) -> None:
        key = os.path.realpath(trash)
        if key in self._read:
            return
        self._read.add(key)
        info_dir = os.path.join(trash, "info")
        try:
            names = os.listdir(info_dir)
        except OSError:
            return
        for name in names:
            if not name.endswith(".trashinfo"):
                continue
            info = os.path.join(info_dir, name)
            parsed = _read_trashinfo(info)
            if parsed is None:
                continue
            value = unquote(parsed[0], errors="surrogateescape")
            full = os.path.normpath(value if os.path.isabs(value) else os.path.join(base, value))
            trashed = os.path.join(trash, "files", name[: -len(".trashinfo")])
            self._by_path.setdefault(full, []).append((info, trashed, parsed[1]))

    def find(
        self,
        original: str | os.PathLike[str],
        *,
        file_id: Iterable[int] | None = None,
        prefer: str | None = None,
    ) -> tuple[Path, Path] | None:
        # the real path (what file actions trash since catalog keys are real paths) and the path as given
        # (journal entries made earlier through a symlinked folder recorded that one)
        targets = dict.fromkeys([os.path.normpath(path_key(original)), os.path.abspath(os.fspath(original))])
        for target in targets:
            for trash, base in _trash_dirs(target):
                self._load(trash, base)
        wanted = tuple(file_id) if file_id is not None else None
        best: tuple[tuple[Any, ...], str, str] | None = None
        for info, trashed, date in (entry for target in targets for entry in self._by_path.get(target, [])):
            try:
                st = os.lstat(trashed)
            except OSError:  # already restored, or the trash was emptied
                continue
            if wanted is not None and (st.st_size, st.st_mtime_ns) != wanted:
                continue  # another file that once lived at the same path
            rank = (
                prefer is not None and os.path.normpath(info) == os.path.normpath(prefer),
                date,
                info,
            )
            if best is None or rank > best[0]:
                best = (rank, info, trashed)
        return (Path(best[1]), Path(best[2])) if best is not None else None


def find_trashinfo(
    original: str | os.PathLike[str],
    *,
    file_id: Iterable[int] | None = None,
    prefer: str | None = None,
) -> tuple[Path, Path] | None:
    """Find a trashed copy of ``original`` in the freedesktop trash: ``(info file, trashed file)``, or None.

    With ``file_id``, only a trashed file whose (size, mtime_ns) equals it counts (the same file, not another
    one that once lived at that path). Among several candidates, prefer the ``.trashinfo`` named by
    ``prefer``, then the most recent deletion.
    """
    return TrashIndex().find(original, file_id=file_id, prefer=prefer)
