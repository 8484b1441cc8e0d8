"""Find the photos in a folder.

- Supported extensions (case-insensitive, without the dot) are :data:`IMAGE_EXTENSIONS`: the formats Pillow
  reads everywhere, plus HEIC/HEIF and common RAW formats, which decode when the optional ``pillow-heif`` /
  ``rawpy`` packages are installed and otherwise get an error row naming the package.
- :func:`scan_folder` walks a folder (recursively by default), follows directory symlinks without ever
  looping, and skips hidden entries (names starting with ".", which also drops macOS ``._IMG.JPG``
  resource forks) and the app's own reject folder :data:`REJECT_DIR`. Directories that cannot be read are
  skipped and reported through ``on_error(path, message)``.
- Roots: a folder is walked; a single supported image file is returned as a one-element list (dropping one
  photo on the window works like dropping a folder); a missing path, an unreadable root folder, or a file that
  is not a supported image raises :class:`ScanError`.
- Paths returned are absolute (``os.path.abspath``: symlinks in them are kept, not resolved) and sorted.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from model.preprocess import BASE_EXTENSIONS, HEIF_EXTENSIONS, RAW_EXTENSIONS

REJECT_DIR = "_rejected"


OnError = Callable[[Path, str], None]

if TYPE_CHECKING:
    IMAGE_EXTENSIONS: frozenset[str]  # provided lazily by __getattr__ below

__all__ = [
    "BASE_EXTENSIONS",
    "HEIF_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "RAW_EXTENSIONS",
    "REJECT_DIR",
    "ScanError",
    "image_extensions",
    "is_supported",
    "scan_folder",
    "scan_many",
]


class ScanError(Exception):
    """A root passed to a scan cannot be scanned (missing, unreadable, or not a folder or photo)."""


@functools.lru_cache(maxsize=1)
def image_extensions() -> frozenset[str]:
    """All photo extensions (lowercase, no dot). HEIC/HEIF and RAW files are always listed: without their
    optional decoder (pillow-heif, rawpy) they get a row saying which package to install, rather than vanish."""
    return BASE_EXTENSIONS | HEIF_EXTENSIONS | RAW_EXTENSIONS


def __getattr__(name: str) -> frozenset[str]:
    # IMAGE_EXTENSIONS is computed on first use, so importing this module probes no optional packages.
    if name == "IMAGE_EXTENSIONS":
        return image_extensions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Whether the file name has a supported image extension (case-insensitive)."""
    _, ext = os.path.splitext(os.fspath(path))
    return ext[1:].lower() in image_extensions()


def _report(on_error: OnError | None, path: str, message: str) -> None:
    if on_error is not None:
        on_error(Path(path), message)


def _walk(root: str, recursive: bool, on_error: OnError | None) -> list[str]:
    extensions = image_extensions()
    found: list[str] = []
    root_stat = os.stat(root)
    visited: set[tuple[int, int]] = {(root_stat.st_dev, root_stat.st_ino)}
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            if directory == root:
                raise ScanError(f"Cannot read folder {directory}: {exc.strerror or exc}") from exc
            _report(on_error, directory, f"cannot read folder: {exc.strerror or exc}")
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                st = entry.stat()  # follows symlinks
            except OSError as exc:
                if not entry.is_symlink():  # a dangling symlink is not worth a warning
                    _report(on_error, entry.path, f"cannot stat: {exc.strerror or exc}")
                continue
            if stat.S_ISDIR(st.st_mode):
                if not recursive or name == REJECT_DIR:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in visited:  # a symlink loop, or a second link to a folder already walked
                    continue
                visited.add(key)
                stack.append(entry.path)
            elif stat.S_ISREG(st.st_mode):
                _, ext = os.path.splitext(name)
                if ext[1:].lower() in extensions:
                    found.append(entry.path)
    return found


def scan_folder(
    root: str | os.PathLike[str],
    recursive: bool = True,
    on_error: OnError | None = None,
) -> list[Path]:
    """Sorted absolute paths of the supported photos under ``root`` (see the module docstring for the rules).

    ``on_error(path, message)`` is called for each sub-folder that cannot be read; the scan goes on.
    Raises :class:`ScanError` when ``root`` itself cannot be scanned.
    """
    root_str = os.path.abspath(os.path.expanduser(os.fspath(root)))
    try:
        st = os.stat(root_str)
    except FileNotFoundError as exc:
        raise ScanError(f"No such folder: {root_str}") from exc
    except OSError as exc:
        raise ScanError(f"Cannot access {root_str}: {exc.strerror or exc}") from exc
    if stat.S_ISREG(st.st_mode):
        if is_supported(root_str):
            return [Path(root_str)]
        raise ScanError(f"Not a folder or a supported photo: {root_str}")
    if not stat.S_ISDIR(st.st_mode):
        raise ScanError(f"Not a folder: {root_str}")
    return sorted(Path(p) for p in _walk(root_str, recursive, on_error))


def scan_many(
    paths: Iterable[str | os.PathLike[str]],
    recursive: bool = True,
    on_error: OnError | None = None,
) -> list[Path]:
    """Scan several roots (folders or photos); the union, without duplicates, sorted.

    Raises :class:`ScanError` for the first root that cannot be scanned.
    """
    found: set[Path] = set()
    for root in paths:
        found.update(scan_folder(root, recursive=recursive, on_error=on_error))
    return sorted(found)
