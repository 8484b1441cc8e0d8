"""Planning a file action (:mod:`loda_desktop.fileops`): which files travel with each photo, and where to.

What travels (the rules are :mod:`loda_desktop.fileops`'s docstring): the photo, its sidecars, and the other file
of its RAW + JPEG pair (:func:`loda_desktop.scan.split_pair`) with that file's own sidecars. Where: the same name
in the destination, or the first free " (n)" stem for all of them together. :func:`plan` returns the journal
items, grouped per photo (the photo first), all in state ``planned``; nothing on disk is touched.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loda_desktop.catalog import path_key
from loda_desktop.safe_moves import file_id
from loda_desktop.scan import is_supported, split_pair

logger = logging.getLogger(__name__)

__all__ = ["PLANNED", "SIDECAR_SUFFIX", "plan"]

SIDECAR_SUFFIX = ".xmp"
PLANNED = "planned"  # the journal item state of a file not touched yet


class _FolderListing:
    """A folder's sidecars by lowercase base name and its photos by lowercase stem, read once per action."""

    def __init__(self, folder: str) -> None:
        self.sidecars: dict[str, list[str]] = {}
        self.photos: dict[str, list[str]] = {}
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        for entry in names:
            low = entry.lower()
            if low.endswith(SIDECAR_SUFFIX):
                self.sidecars.setdefault(low[: -len(SIDECAR_SUFFIX)], []).append(entry)
            elif is_supported(entry):
                self.photos.setdefault(os.path.splitext(low)[0], []).append(entry)

    def partners(self, name: str) -> list[str]:
        """The other files of ``name``'s RAW + JPEG pair in this folder; empty when it is in no pair."""
        pair = split_pair(self.photos.get(os.path.splitext(name.lower())[0], ()))
        members = [pair[0], *pair[1]] if pair is not None else []
        return [e for e in members if e != name] if name in members else []


def _sidecars(parent: str, name: str, batch: set[str], listings: dict[str, _FolderListing]) -> list[str]:
    if parent not in listings:
        listings[parent] = _FolderListing(parent)
    listing = listings[parent]
    stem = os.path.splitext(name)[0].lower()
    found = set(listing.sidecars.get(name.lower(), ()))  # IMG_1.CR2.xmp: this photo's own
    for entry in listing.sidecars.get(stem, ()):  # IMG_1.xmp: shared by every photo named IMG_1.*
        staying = [e for e in listing.photos.get(stem, ()) if e != name and os.path.join(parent, e) not in batch]
        if staying:
            logger.info("leaving %s with %s, which stays", entry, staying[0])
        else:
            found.add(entry)
    return sorted(full for e in found if e != name and os.path.isfile(full := os.path.join(parent, e)))


def _companions(
    parent: str, name: str, batch: set[str], listings: dict[str, _FolderListing], taken: set[str]
) -> list[tuple[str, str]]:
    """What travels with the photo ``name``: its sidecars, then each partner of its RAW + JPEG pair followed
    by the partner's own sidecars, as (path, "sidecar" | "companion"); nothing ``taken`` or in ``batch``."""
    if parent not in listings:
        listings[parent] = _FolderListing(parent)
    partners = [
        full
        for e in listings[parent].partners(name)
        if os.path.isfile(full := os.path.join(parent, e)) and full not in taken
    ]
    moving = batch | set(partners)  # a sidecar shared by the pair goes with it
    out: list[tuple[str, str]] = []
    seen = set(taken) | batch
    for member in [os.path.join(parent, name), *partners]:
        if member in partners:
            out.append((member, "companion"))
        for sidecar in _sidecars(parent, os.path.basename(member), moving, listings):
            if sidecar not in seen:
                seen.add(sidecar)
                out.append((sidecar, "sidecar"))
    return out


def _free_names(dest_dir: str, name: str, sidecars: list[str], claimed: set[str]) -> list[str]:
    """Destinations for the photo ``name`` and the files travelling with it: their own names when all are free,
    else the first " (n)" stem free for all of them (``IMG_1 (1).JPG``, ``IMG_1 (1).CR2``, ``IMG_1 (1).xmp``)."""
    stem, ext = os.path.splitext(name)
    for n in itertools.count():
        new_stem = stem if n == 0 else f"{stem} ({n})"
        new_name = new_stem + ext
        names = [new_name]
        for sidecar in sidecars:
            if n == 0:  # as they are (a pair's stems may differ in case: img_1.jpg + IMG_1.CR2)
                names.append(os.path.basename(sidecar))
                continue
            side = os.path.basename(sidecar)
            if side.lower().startswith(name.lower() + "."):  # IMG_1.CR2.xmp
                names.append(new_name + side[len(name) :])
            else:  # IMG_1.xmp
                names.append(new_stem + side[len(stem) :])
        full = [os.path.join(dest_dir, x) for x in names]
        if not any(os.path.lexists(f) or f.lower() in claimed for f in full):
            claimed.update(f.lower() for f in full)
            return full
    raise AssertionError("unreachable")


def plan(
    paths: Iterable[str | os.PathLike[str]], subfolder: str | None
) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """The journal items of moving ``paths`` into ``<folder>/<subfolder>`` (``None``: to the trash, no
    destinations), and the photos that cannot be moved with the reason. A photo planned as the partner of an
    earlier one in ``paths`` is not planned again."""
    if isinstance(paths, (str, os.PathLike)):
        raise TypeError("expected an iterable of paths, not a single path")
    keys = list(dict.fromkeys(path_key(p) for p in paths))
    batch = set(keys)
    listings: dict[str, _FolderListing] = {}
    taken_sidecars: set[str] = set()
    taken_partners: set[str] = set()  # planned with the other photo of their pair
    claimed: set[str] = set()
    items: list[dict[str, Any]] = []
    failed: list[tuple[Path, str]] = []
    for group, src in enumerate(keys):
        if src in taken_partners:
            continue
        parent, name = os.path.split(src)
        if not os.path.lexists(src):
            failed.append((Path(src), "file not found"))
            continue
        if os.path.isdir(src):
            failed.append((Path(src), "is a folder, not a photo"))
            continue
        if subfolder is not None and os.path.basename(parent) == subfolder:
            failed.append((Path(src), f"already in a {subfolder} folder"))
            continue
        files = _companions(parent, name, batch, listings, taken_sidecars | taken_partners)
        sidecars = [path for path, _ in files]
        if subfolder is not None:
            dest_dir = os.path.join(parent, subfolder)
            if os.path.lexists(dest_dir) and not os.path.isdir(dest_dir):
                failed.append((Path(src), f"{dest_dir} exists and is not a folder"))
                continue
            targets = _free_names(dest_dir, name, sidecars, claimed)
        else:
            targets = [None] * (1 + len(sidecars))
        taken_sidecars.update(path for path, kind in files if kind == "sidecar")
        taken_partners.update(path for path, kind in files if kind == "companion")
        kinds = ["photo", *(kind for _, kind in files)]
        for kind, path, dst in zip(kinds, [src, *sidecars], targets, strict=True):
            size_mtime = file_id(path)
            items.append(
                {
                    "group": group,
                    "src": path,
                    "dst": dst,
                    "sidecar": kind == "sidecar",
                    "companion": kind == "companion",
                    "state": PLANNED,
                    "reason": None,
                    "file_id": list(size_mtime) if size_mtime else None,
                    "trashinfo": None,
                }
            )
    return items, failed
