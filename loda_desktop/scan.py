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
- Paths returned are real paths (``os.path.realpath``: a folder opened through a symlink, or a photo reached
  through one, is listed under its real location), without duplicates, and sorted. They are the catalog's keys
  (:func:`loda_desktop.catalog_schema.path_key`), so a folder shows the same ratings whichever link opened it.
- RAW + JPEG pairs: a camera RAW file and ONE rendered file (JPEG, or HEIC/HEIF, which some cameras write
  instead) with the same stem in the same folder, extensions in any case (``IMG_0001.CR2`` + ``IMG_0001.jpg``),
  are one photo. The rendered file is the *primary*: it is listed, scored, thumbnailed and carries the catalog
  record (it is what the camera rendered, and it decodes fast); the RAW is its *companion*, left out of the
  listing (:func:`group_pairs`, :func:`find_companions`) and moved or trashed with it
  (:mod:`loda_desktop.fileops`). Several RAW files of one stem (``.CR2`` and a converted ``.DNG``) are all
  companions; two rendered files of one stem (``.jpg`` and ``.heic``) make no pair (which one would be the
  photo?), so every file is then a photo on its own, as is a RAW without a rendered partner.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from model.preprocess import BASE_EXTENSIONS, HEIF_EXTENSIONS, RAW_EXTENSIONS

REJECT_DIR = "_rejected"
# The rendered half of a RAW + rendered pair (see the module docstring).
RENDERED_EXTENSIONS = frozenset({"jpg", "jpeg"}) | HEIF_EXTENSIONS


OnError = Callable[[Path, str], None]

if TYPE_CHECKING:
    IMAGE_EXTENSIONS: frozenset[str]  # provided lazily by __getattr__ below

__all__ = [
    "BASE_EXTENSIONS",
    "HEIF_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "RAW_EXTENSIONS",
    "REJECT_DIR",
    "RENDERED_EXTENSIONS",
    "ScanError",
    "find_companions",
    "group_pairs",
    "image_extensions",
    "is_supported",
    "scan_folder",
    "scan_many",
    "split_pair",
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
                stack.append(os.path.realpath(entry.path) if entry.is_symlink() else entry.path)
            elif stat.S_ISREG(st.st_mode):
                _, ext = os.path.splitext(name)
                if ext[1:].lower() in extensions:
                    found.append(os.path.realpath(entry.path) if entry.is_symlink() else entry.path)
    return found


def scan_folder(
    root: str | os.PathLike[str],
    recursive: bool = True,
    on_error: OnError | None = None,
    pairs: bool = True,
) -> list[Path]:
    """Sorted real paths of the supported photos under ``root`` (see the module docstring for the rules); with
    ``pairs`` (the default) the RAW companion of a RAW + JPEG pair is left out (:func:`group_pairs`).

    ``on_error(path, message)`` is called for each sub-folder that cannot be read; the scan goes on.
    Raises :class:`ScanError` when ``root`` itself cannot be scanned.
    """
    root_str = os.path.realpath(os.path.expanduser(os.fspath(root)))
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
    found = sorted({Path(p) for p in _walk(root_str, recursive, on_error)})
    return group_pairs(found)[0] if pairs else found


def scan_many(
    paths: Iterable[str | os.PathLike[str]],
    recursive: bool = True,
    on_error: OnError | None = None,
    pairs: bool = True,
) -> list[Path]:
    """Scan several roots (folders or photos); the union, without duplicates, sorted; RAW companions left out
    with ``pairs``, as :func:`scan_folder` does.

    Raises :class:`ScanError` for the first root that cannot be scanned.
    """
    found: set[Path] = set()
    for root in paths:
        found.update(scan_folder(root, recursive=recursive, on_error=on_error, pairs=False))
    return group_pairs(sorted(found))[0] if pairs else sorted(found)


# -- RAW + JPEG pairs ------------------------------------------------------------------------------------------


def _extension(name: str) -> str:
    return os.path.splitext(name)[1][1:].lower()


def split_pair(names: Iterable[str]) -> tuple[str, list[str]] | None:
    """``(primary, companions)`` when ``names`` (photo files of ONE stem in one folder) form a RAW + JPEG pair:
    exactly one rendered file and at least one RAW file; else None (every file is then a photo of its own)."""
    rendered, raws = [], []
    for name in names:
        ext = _extension(name)
        if ext in RENDERED_EXTENSIONS:
            rendered.append(name)
        elif ext in RAW_EXTENSIONS:
            raws.append(name)
    if len(rendered) != 1 or not raws:
        return None
    return rendered[0], sorted(raws)


def _pairs_in(names: Iterable[str]) -> dict[str, list[str]]:
    """The pairs among the file names of one folder: {primary name: [companion names]}."""
    by_stem: dict[str, list[str]] = {}
    for name in names:
        if not name.startswith(".") and is_supported(name):
            by_stem.setdefault(os.path.splitext(name)[0].lower(), []).append(name)
    return {pair[0]: pair[1] for group in by_stem.values() if (pair := split_pair(group)) is not None}


def group_pairs(paths: Sequence[Path]) -> tuple[list[Path], dict[Path, list[Path]]]:
    """``paths`` (in order) without the RAW companions of pairs found AMONG them, and {primary: [companions]}.

    Only the paths given are looked at (no disk access): a RAW whose JPEG is not in ``paths`` stays a photo."""
    by_folder: dict[Path, list[str]] = {}
    for p in paths:
        by_folder.setdefault(p.parent, []).append(p.name)
    companions: dict[Path, list[Path]] = {}
    for folder, names in by_folder.items():
        for primary, raws in _pairs_in(names).items():
            companions[folder / primary] = [folder / r for r in raws]
    dropped = {c for cs in companions.values() for c in cs}
    return [p for p in paths if p not in dropped], companions


def find_companions(paths: Iterable[str | os.PathLike[str]]) -> dict[Path, list[Path]]:
    """{primary: [its RAW companions]} for the ``paths`` that are the primary of a pair ON DISK (one folder
    listing per folder; an unreadable folder has no pairs). For the CSV's ``companions`` column and the window."""
    wanted = [Path(p) for p in paths]
    listings: dict[Path, dict[str, list[str]]] = {}
    out: dict[Path, list[Path]] = {}
    for p in wanted:
        if p.parent not in listings:
            try:
                listings[p.parent] = _pairs_in(os.listdir(p.parent))
            except OSError:
                listings[p.parent] = {}
        raws = listings[p.parent].get(p.name)
        if raws:
            out[p] = [p.parent / r for r in raws]
    return out
