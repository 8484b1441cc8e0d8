"""The photographer's ratings as fine-tuning input: stars and flags from the catalog for photos under folders.

Plain Python (no Qt); the window and ``loda finetune --folder`` share it. What a rating means for training (flags
→ stars, minimums) is :mod:`trainer.finetune`'s business.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from trainer.finetune import Rated

from .catalog import Catalog
from .scan import ScanError, scan_many

__all__ = ["ratings_from_catalog"]


def ratings_from_catalog(
    folders: Iterable[str | Path] | None = None, *, catalog_path: Path | None = None
) -> list[Rated]:
    """Every cataloged photo under ``folders`` (all cataloged photos when None) that has stars or a flag and still
    exists, as :class:`~trainer.finetune.Rated` records in path order."""
    with Catalog(catalog_path) as catalog:
        if folders is None:
            records = catalog.rows(None, None)
        else:
            try:
                paths = scan_many([str(f) for f in folders])
            except ScanError as exc:
                from trainer.finetune import FinetuneError

                raise FinetuneError(str(exc)) from None
            records = catalog.rows(paths, None)
    out = []
    for photo, _ in records:
        if (photo.rating or photo.flag) and Path(photo.path).is_file():
            out.append(Rated(Path(photo.path), int(photo.rating), photo.flag))
    return out
