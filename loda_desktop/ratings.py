"""The photographer's ratings as fine-tuning input: stars and flags from the catalog (or, for photos it has no
rating for, from XMP sidecars) for photos under folders.

Plain Python (no Qt); the window and ``loda finetune --folder`` share it. What a rating means for training (flags
→ stars, minimums) is :mod:`trainer.finetune`'s business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from trainer.finetune import Rated

from .catalog import Catalog, path_key
from .scan import ScanError, scan_many
from .xmp import read_sidecar_rating

__all__ = ["capture_times", "ratings_from_catalog"]


def ratings_from_catalog(
    folders: Iterable[str | Path] | None = None, *, catalog_path: Path | None = None, sidecars: bool = True
) -> list[Rated]:
    """Every photo under ``folders`` (all cataloged photos when None) that has stars or a flag and still exists,
    as :class:`~trainer.finetune.Rated` records in path order.

    The catalog's rating and flag come first; a photo the catalog has no rating or flag for takes the star
    rating of its XMP sidecar (``sidecars=True``), so ratings made in Lightroom, Bridge or darktable count too.
    """
    with Catalog(catalog_path) as catalog:
        if folders is None:
            records = catalog.rows(None, None)
            paths = [Path(photo.path) for photo, _ in records]
        else:
            try:
                paths = scan_many([str(f) for f in folders])
            except ScanError as exc:
                from trainer.finetune import FinetuneError

                raise FinetuneError(str(exc)) from None
            records = catalog.rows(paths, None)
    known = {path_key(photo.path): photo for photo, _ in records}
    out = []
    for path in paths:
        photo = known.get(path_key(path))
        stars, flag = (int(photo.rating), photo.flag) if photo is not None else (0, None)
        if not stars and not flag and sidecars:
            stars, flag = read_sidecar_rating(path) or (0, None)
        if (stars or flag) and Path(path).is_file():
            out.append(Rated(Path(path), stars, flag))
    return out


def capture_times(paths: Iterable[str | Path], *, catalog_path: Path | None = None) -> dict[Path, float]:
    """Capture time of each photo in seconds (for keeping a burst on one side of fine-tuning's held-out split):
    the catalog's, else the photo's EXIF (then stored in the catalog, as the window's metadata loader does, so it
    is read once); photos with neither are left out.

    Times without a UTC offset are read as UTC: only differences between photos of one shoot matter here.
    """
    from datetime import datetime, timezone

    from .exif import read_exif

    paths = [Path(p) for p in paths]
    with Catalog(catalog_path) as catalog:
        stored = {path_key(photo.path): photo.capture_time for photo, _ in catalog.rows(paths, None)}
        for path in paths:
            key = path_key(path)
            if not stored.get(key) and (iso := read_exif(path).capture_time):
                stored[key] = iso
                with contextlib.suppress(ValueError):  # a no-op for a photo not cataloged (from a ratings CSV)
                    catalog.set_capture_time(path, iso)
    out: dict[Path, float] = {}
    for path in paths:
        iso = stored.get(path_key(path))
        if not iso:
            continue
        try:
            when = datetime.fromisoformat(iso)
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        out[path] = when.timestamp()
    return out
