"""The window's record of one photo (:class:`PhotoItem`): plain data, no Qt. :mod:`.models` wraps a list of them.

Besides the culling state and the score, an item carries what the catalog knows of the multi-scale score (the
global score, the mean ``detail`` score of the native-resolution crops and those crops, ``regions``, in the
photo's upright pixels of ``width`` × ``height``) and of its burst (``burst`` id, ``burst_rank``: 1 = the best
frame, ``burst_tie``: the best frame is within noise of the second). :data:`DETAIL_FIELDS` names them;
:func:`detail_fields` reads them from a :class:`~loda_desktop.catalog.ScoreRecord` or an engine result.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..engine import SCORE_PARTS  # what a score result carries

__all__ = [
    "DETAIL_FIELDS",
    "NOISE_TEXT",
    "SCORE_PARTS",
    "BurstInfo",
    "PhotoItem",
    "Region",
    "burst_text",
    "detail_fields",
    "natural_key",
]

Region = tuple[int, int, int, float]  # x, y, size (the photo's upright pixels), detail score
DETAIL_FIELDS = (*SCORE_PARTS, "burst", "burst_rank", "burst_tie")  # and the catalog's burst fields

NOISE_TEXT = "frames within noise"  # what the window says of a burst whose best frame is no clear winner

_DIGITS = re.compile(r"(\d+)")


class BurstInfo(NamedTuple):
    """A photo's place in its burst, as far as the window's photos go (:meth:`.models.PhotoTableModel.burst_info`)."""

    id: int
    rank: int | None  # 1 = the best frame
    frames: int  # frames of the burst among the window's photos
    tie: bool  # the best frame is within noise of the second: no clear winner
    lead: bool  # the frame a stack shows (the best ranked one here)


def burst_text(info: BurstInfo | None) -> str:
    """The table's Burst cell: ``3 · 2/5`` (burst 3, frame 2 of 5), `` · frames within noise`` on a tie."""
    if info is None:
        return ""
    rank = "?" if info.rank is None else str(info.rank)
    return f"{info.id} · {rank}/{info.frames}" + (f" · {NOISE_TEXT}" if info.tie else "")


def natural_key(text: str) -> tuple[Any, ...]:
    """``IMG_2`` before ``IMG_10``; case-insensitive. Even positions are text, odd positions numbers."""
    parts = _DIGITS.split(text.casefold())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _regions(value: Any) -> tuple[Region, ...]:
    """A record's or a result's regions (the catalog decodes its JSON) as (x, y, size, score) tuples."""
    regions = []
    for region in value or ():
        try:
            x, y, size, score = region
            regions.append((int(x), int(y), int(size), float(score)))
        except (TypeError, ValueError):  # one malformed entry is left out, never the whole photo
            continue
    return tuple(regions)


_EMPTY: dict[str, Any] = {"regions": (), "burst_tie": False}


def detail_fields(score: Any, names: Iterable[str] = DETAIL_FIELDS) -> dict[str, Any]:
    """``names`` (of :data:`DETAIL_FIELDS`) of a score record or an engine result (None: no score); a field it
    lacks reads as empty."""
    values = {}
    for name in names:
        value = getattr(score, name, _EMPTY.get(name)) if score is not None else _EMPTY.get(name)
        if name == "regions":
            value = _regions(value)
        elif name == "burst_tie":
            value = bool(value)
        values[name] = value
    return values


@dataclass(eq=False)
class PhotoItem:
    """One photo as the window shows it. Plain data: the model wraps a list of these."""

    path: str
    score: float | None = None
    spread: float | None = None
    status: str = "pending"  # "pending" (not scored yet) | "ok" | "error"
    error: str | None = None
    rating: int = 0
    flag: str | None = None  # "pick" | "reject" | None
    label: str | None = None  # a colour name from LABEL_COLOURS, or free text
    capture_time: str | None = None  # ISO 8601
    size: int = 0
    mtime_ns: int = 0
    companions: tuple[str, ...] = ()  # file names of the RAW files of a RAW + JPEG pair (scan.py), in its folder
    score_model: str | None = None  # set when the score shown is another model's (kept through a re-score)
    global_score: float | None = None  # the 384-px view's score (``score`` combines it with ``detail``)
    detail: float | None = None  # mean score of the native-resolution crops; None: none (a small photo)
    regions: tuple[Region, ...] = ()  # the detail crops with their scores
    width: int | None = None  # the photo's size after EXIF orientation (the regions' coordinates)
    height: int | None = None
    burst: int | None = None  # burst id; None: not in a burst of 2+ frames
    burst_rank: int | None = None  # 1 = the best frame of its burst
    burst_tie: bool = False  # the best frame of its burst is within noise of the second
    name: str = field(init=False)
    folder: str = field(init=False)
    sort_name: tuple[Any, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = os.fspath(self.path)
        self.folder, self.name = os.path.split(self.path)
        self.sort_name = natural_key(self.name)

    @classmethod
    def from_record(
        cls, path: str | os.PathLike[str], record: Any, score: Any, companions: Iterable[Any] = ()
    ) -> PhotoItem:
        """An item from the catalog's (PhotoRecord, ScoreRecord | None); ``record`` None: the file vanished.
        ``companions``: the RAW files of its RAW + JPEG pair (paths or names)."""
        key = os.path.abspath(os.fspath(path))
        if record is None:
            return cls(key, status="error", error="the file disappeared during the scan")
        item = cls(
            key,
            rating=record.rating,
            flag=record.flag,
            label=record.label,
            capture_time=record.capture_time,
            size=record.size,
            mtime_ns=record.mtime_ns,
            companions=tuple(os.path.basename(os.fspath(c)) for c in companions),
        )
        if score is not None:
            item.score, item.spread, item.status, item.error = score.score, score.spread, score.status, score.error
            item.set_details(detail_fields(score))
        return item

    def set_details(self, values: Mapping[str, Any]) -> bool:
        """Set some of the :data:`DETAIL_FIELDS` (as :func:`detail_fields` gives them); returns whether any
        changed."""
        changed = False
        for name, value in values.items():
            if name not in DETAIL_FIELDS:
                raise ValueError(f"not a detail field: {name}")
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed = True
        return changed

    @property
    def display_name(self) -> str:
        """The name shown: ``IMG_1.JPG + CR2`` for a RAW + JPEG pair (one photo, two files)."""
        extensions = [os.path.splitext(c)[1][1:].upper() for c in self.companions]
        return " + ".join([self.name, *extensions])

    @property
    def thumbnail_key(self) -> tuple[str, int, int]:
        """What a cached thumbnail depends on: the file and its identity on disk."""
        return (self.path, self.size, self.mtime_ns)

    @property
    def scored(self) -> bool:
        return self.status == "ok" and self.score is not None
