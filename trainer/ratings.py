"""A photographer's ratings as training samples, and the minimums a fine-tune needs (:mod:`trainer.finetune`).

- Ratings come as :class:`Rated` records (path, stars 0..5, flag). A photo with stars uses them; an unrated photo
  with a flag uses :class:`RatingMap` (pick → 5, reject → 1 by default; ``None`` ignores that flag); the rest is
  skipped (:func:`samples_from_ratings`: score = (stars - 1) / 4 in [0, 1]). Where the ratings come from (the
  catalog, a ``path,rating`` CSV) is the caller's business: :func:`read_ratings_csv` reads the CSV; the app reads
  its catalog (``loda_desktop.ratings``).
- Minimums (:data:`MIN_RATED` photos, :data:`MIN_DISTINCT` different values): :func:`check_minimums` raises
  :class:`FinetuneError` with the exact sentence the window shows.

:class:`FinetuneError`, every fine-tuning problem the user can fix, is defined here, where the first checks are.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .data import TrainError
from .datasets import Sample

__all__ = [
    "MIN_DISTINCT",
    "MIN_RATED",
    "FinetuneError",
    "Rated",
    "RatingMap",
    "check_minimums",
    "minimums_message",
    "rating_counts",
    "read_ratings_csv",
    "samples_from_ratings",
    "stars_of",
]

MIN_RATED = 30
MIN_DISTINCT = 3


class FinetuneError(TrainError):
    """Fine-tuning cannot start or go on for a reason the user can fix; the message says which (and is shown as is
    in the window)."""


@dataclass(frozen=True)
class Rated:
    """One photo's rating as the photographer left it: ``stars`` 0..5 (0 = unrated), ``flag`` pick/reject/None."""

    path: Path
    stars: int = 0
    flag: str | None = None


@dataclass(frozen=True)
class RatingMap:
    """How flags count on photos without stars: ``pick`` and ``reject`` are star values (1..5) or None to ignore."""

    pick: int | None = 5
    reject: int | None = 1

    def value(self, rated: Rated) -> int | None:
        if rated.stars:
            return int(rated.stars)
        if rated.flag == "pick":
            return self.pick
        if rated.flag == "reject":
            return self.reject
        return None


def samples_from_ratings(rated: Iterable[Rated], mapping: RatingMap | None = None) -> list[Sample]:
    """One :class:`Sample` per usable rating, score ``(stars - 1) / 4``; a path rated twice keeps the last."""
    mapping = mapping or RatingMap()
    by_path: dict[Path, Sample] = {}
    for r in rated:
        value = mapping.value(r)
        if value is None:
            continue
        if not 1 <= value <= 5:
            raise FinetuneError(f"{r.path}: rating {value} is outside 1..5")
        by_path[Path(r.path)] = Sample(Path(r.path), (value - 1) / 4.0)
    return list(by_path.values())


def stars_of(sample: Sample) -> int:
    """The star value (1..5) a sample's score stands for."""
    return round(sample.score * 4) + 1


def rating_counts(samples: Sequence[Sample]) -> dict[str, int]:
    """``{"1": n1, ..., "5": n5}`` (only values present)."""
    counts = Counter(stars_of(s) for s in samples)
    return {str(k): counts[k] for k in sorted(counts)}


def minimums_message(
    samples: Sequence[Sample],
    min_rated: int = MIN_RATED,
    min_distinct: int = MIN_DISTINCT,
    mapping: RatingMap | None = None,
) -> str:
    """The sentence the window and the CLI show when there are too few ratings, or "" when there are enough."""
    mapping = mapping or RatingMap()
    n = len(samples)
    values = sorted({stars_of(s) for s in samples})
    if n >= min_rated and len(values) >= min_distinct:
        return ""
    have = f"{n} photo{'s' * (n != 1)} rated"
    if values:
        have += f" with {len(values)} different value{'s' * (len(values) != 1)} ({', '.join(map(str, values))})"
    flags = [f"{label} count as {value}" for label, value in (("picks", mapping.pick), ("rejects", mapping.reject))]
    flags = [f for f in flags if not f.endswith("None")]
    note = f" ({', '.join(flags)})" if flags else ""
    return (
        f"Rate at least {min_rated} photos with at least {min_distinct} different star values to fine-tune"
        f"{note}; so far: {have}."
    )


def check_minimums(
    samples: Sequence[Sample],
    min_rated: int = MIN_RATED,
    min_distinct: int = MIN_DISTINCT,
    mapping: RatingMap | None = None,
) -> None:
    """Raise :class:`FinetuneError` with :func:`minimums_message`'s sentence when there are too few ratings."""
    message = minimums_message(samples, min_rated, min_distinct, mapping)
    if message:
        raise FinetuneError(message)


def read_ratings_csv(path: Path | str) -> list[Rated]:
    """``path,rating`` rows (a header row is allowed); rating is 0..5 stars or ``pick`` / ``reject``. Relative
    paths are relative to the CSV's folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise FinetuneError(f"cannot read the ratings file {path}: {exc.strerror or exc}") from None
    out: list[Rated] = []
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise FinetuneError(f"{path}, line {line}: expected 'path,rating', got {','.join(row)!r}")
        name, value = row[0].strip(), row[1].strip().lower()
        if line == 1 and value in ("rating", "stars", "score"):
            continue
        photo = Path(name).expanduser()
        if not photo.is_absolute():
            photo = path.parent / photo
        if value in ("pick", "reject"):
            out.append(Rated(photo, 0, value))
            continue
        try:
            stars = int(float(value))
        except ValueError:
            stars = -1
        if not 0 <= stars <= 5 or float(value) != stars:
            raise FinetuneError(f"{path}, line {line}: the rating must be 0..5, pick or reject, got {row[1]!r}")
        out.append(Rated(photo, stars))
    return out
