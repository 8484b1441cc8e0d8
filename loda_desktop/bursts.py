"""Bursts: consecutive frames of one moment, grouped, and ranked against each other region by region.

Grouping (:func:`group_frames`)
    The scored photos are put in shooting order: first those with a capture time (EXIF, as the catalog keeps it),
    by time and then by name; then those without one, by folder and by name in natural order (``IMG_9`` before
    ``IMG_10``). The two sequences are linked separately: a frame without a capture time never joins a frame that
    has one (nothing says when it was taken), and two frames are linked only when they are neighbours in their
    sequence:

    - with capture times: at most ``gap_s`` seconds apart (the ``burst_gap_s`` setting, 2 s) AND the cosine
      similarity of their embeddings (the model's own global features, ``ImageScore.embedding``) at least
      ``similarity`` (the ``burst_similarity`` setting, :data:`BURST_SIMILARITY`). A pair of which either frame has
      no embedding (scored before the catalog kept them) is linked on the time gap alone;
    - without capture times (copies written without EXIF): neighbours by name whose similarity is at least the
      stricter :func:`strict_similarity` (half the distance to 1: 0.85 for 0.70), since the name alone says
      little. Without embeddings they are never linked.

    A chain of links is one burst; a burst has 2 frames or more. Its id is the smallest catalog photo id among its
    frames (stable while the burst keeps that frame, and unique across the catalog).

Like-for-like ranking (:func:`rank_burst`)
    Detail regions are squares ``(x, y, size)`` in each frame's pixels (``ImageScore.regions``). The frame with
    the most regions (the first of them in shooting order) is the reference; a position is common when every
    other frame has a region of the same size within :data:`POSITION_TOLERANCE` px of it. With at least
    :data:`MIN_COMMON_POSITIONS` common positions, each frame's measure is the mean of its detail scores over
    them. With fewer, the other frames are scored again at all the reference's boxes (``rescore(path, boxes)``,
    :meth:`loda_desktop.engine.Engine.score_regions`; nothing of it is kept but the ranking). Frames are ranked by
    that measure, best first (ties by combined score, then name). When some frame has no detail regions (a photo
    too small for detail crops), when the frames differ in size (a resized copy: the same pixel boxes are not the
    same content), or when regions would have to be scored again and cannot be, the burst is ranked by the
    combined score instead.

Within noise (``burst_tie``)
    The best frame and the second are compared on their paired per-position differences ``d`` (best minus second,
    one per common position): they are within noise when ``mean(d) < max(MIN_DIFFERENCE, 2 * SE)``, where
    ``SE = std(d, ddof=1) / sqrt(n)`` is the standard error of that mean over the ``n`` positions
    (:data:`MIN_DIFFERENCE` = 0.005; with a single position SE is unknown and only the floor applies). Ranked by
    the combined score, they are within noise when the two scores differ by less than :data:`MIN_DIFFERENCE`.
    The flag is stored on every frame of the burst, so the window can say so rather than pretend a winner.

:func:`assign_bursts` does all of it for a list of photos and stores ``burst`` / ``burst_rank`` / ``burst_tie`` in
the catalog; a burst whose frames and stored ranks are unchanged since the last call keeps its ranks (no region
is scored twice). :func:`best_of_burst` gives the frame to keep and the frames to reject for a photo's burst.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from loda_desktop.catalog import Catalog, EditRecord, PathLike, PhotoRecord, ScoreRecord
    from loda_desktop.culling import Culling

log = logging.getLogger(__name__)

__all__ = [
    "BURST_GAP_S",
    "BURST_SIMILARITY",
    "MIN_COMMON_POSITIONS",
    "MIN_DIFFERENCE",
    "POSITION_TOLERANCE",
    "BurstSummary",
    "Frame",
    "Ranking",
    "Rescore",
    "assign_bursts",
    "best_of_burst",
    "frames_from_records",
    "group_frames",
    "keep_best_of_burst",
    "rank_burst",
    "strict_similarity",
]

BURST_GAP_S = 2.0  # seconds between two frames' capture times that still link them (the burst_gap_s setting)
# Cosine similarity of two frames' embeddings from which they are one burst (the burst_similarity setting's
# default). Measured with loda-default on the 25 bursts of benchmarks/bursts.py (held-out photos; a sharp frame and
# four spoiled at 100 %): frames of one burst 0.65 at the least (1st percentile 0.71: grain moves the features),
# 0.91 when the photos are enlarged to 24 MP first; two different photos 0.64 at the most (99th percentile 0.44).
# The capture-time gap does most of the work; this only keeps two different scenes shot within it apart.
BURST_SIMILARITY = 0.70
POSITION_TOLERANCE = 8  # px: two regions of the same size this close are one position (93 % of a 224-px crop)
MIN_COMMON_POSITIONS = 2  # fewer common positions than this: the other frames are scored at the reference's boxes
MIN_DIFFERENCE = 0.005  # below this difference in score units the best frame is never called better

Box = tuple[int, int, int]  # (x, y, size)
Rescore = Callable[[Path, Sequence[Box]], Sequence[float]]


def strict_similarity(similarity: float) -> float:
    """The similarity two frames without capture times need to be one burst: half the distance to 1 (0.95 for
    0.90), since neighbours by name are weaker evidence than neighbours in time."""
    return 1.0 - (1.0 - similarity) / 2.0


@dataclass(frozen=True)
class Frame:
    """One scored photo, as grouping and ranking see it."""

    path: Path
    photo_id: int
    score: float  # the combined score
    time: float | None = None  # capture time, seconds since the epoch (a time without UTC offset read as UTC)
    detail: float | None = None
    regions: tuple[tuple[int, int, int, float], ...] = ()  # (x, y, size, score)
    size: tuple[int, int] | None = None  # (width, height) after EXIF orientation
    embedding: np.ndarray | None = field(default=None, compare=False)  # unit vector, float32
    stored: tuple[int | None, int | None, bool] = (None, None, False)  # burst, burst_rank, burst_tie in the catalog


@dataclass(frozen=True)
class Ranking:
    """A burst's frames best first, whether the best is within noise of the second, and how it was measured:
    ``"regions"`` (common positions), ``"rescored"`` (the reference's boxes scored again) or ``"score"``."""

    frames: list[Frame]
    tie: bool
    method: str
    positions: int = 0  # positions compared (0 when ranked by the combined score)


@dataclass
class BurstSummary:
    """What :func:`assign_bursts` found: bursts of 2+ frames, the frames in them, those within noise."""

    bursts: int = 0
    frames: int = 0
    ties: int = 0
    smallest: int = 0
    largest: int = 0
    rescored: int = 0  # frames scored again at another frame's regions

    def describe(self) -> str:
        """One line: "12 bursts of 2–7 frames; 3 within noise"."""
        if not self.bursts:
            return "No bursts."
        sizes = f"{self.smallest}" if self.smallest == self.largest else f"{self.smallest}–{self.largest}"
        noun = "burst" if self.bursts == 1 else "bursts"
        return f"{self.bursts} {noun} of {sizes} frames; {self.ties or 'none'} within noise"


# -- reading the catalog ---------------------------------------------------------------------------------------


def _seconds(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _unit(blob: bytes | None) -> np.ndarray | None:
    if not blob:
        return None
    vector = np.frombuffer(blob, dtype="<f2").astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if math.isfinite(norm) and norm > 0 else None


def frames_from_records(
    records: Iterable[tuple[PhotoRecord, ScoreRecord | None]], ids: dict[str, int], embeddings: dict[str, bytes]
) -> list[Frame]:
    """Frames of the records that have a score (``ok``), with their photo ids and embeddings by path."""
    frames = []
    for photo, score in records:
        key = str(photo.path)
        if score is None or score.status != "ok" or score.score is None or key not in ids:
            continue
        size = (score.width, score.height) if score.width and score.height else None
        frames.append(
            Frame(
                path=photo.path,
                photo_id=ids[key],
                score=float(score.score),
                time=_seconds(photo.capture_time),
                detail=score.detail,
                regions=score.regions,
                size=size,
                embedding=_unit(embeddings.get(key)),
                stored=(score.burst, score.burst_rank, score.burst_tie),
            )
        )
    return frames


# -- grouping --------------------------------------------------------------------------------------------------


def _natural(path: Path) -> tuple[str, tuple[tuple[int, str | int], ...]]:
    parts = re.split(r"(\d+)", path.name.casefold())
    return str(path.parent), tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts)


def _similarity(a: Frame, b: Frame) -> float | None:
    if a.embedding is None or b.embedding is None or a.embedding.shape != b.embedding.shape:
        return None
    return float(np.dot(a.embedding, b.embedding))


def group_frames(
    frames: Iterable[Frame], *, gap_s: float = BURST_GAP_S, similarity: float = BURST_SIMILARITY
) -> list[list[Frame]]:
    """The bursts (2+ frames, each in shooting order) among ``frames``, by the rules of the module docstring."""
    frames = list(frames)
    timed = sorted((f for f in frames if f.time is not None), key=lambda f: (f.time, _natural(f.path)))
    untimed = sorted((f for f in frames if f.time is None), key=lambda f: _natural(f.path))
    strict = strict_similarity(similarity)

    def timed_link(a: Frame, b: Frame) -> bool:
        assert a.time is not None and b.time is not None
        sim = _similarity(a, b)
        return b.time - a.time <= gap_s and (sim is None or sim >= similarity)

    def untimed_link(a: Frame, b: Frame) -> bool:
        sim = _similarity(a, b)
        return sim is not None and sim >= strict

    bursts: list[list[Frame]] = []
    for sequence, linked in ((timed, timed_link), (untimed, untimed_link)):
        run: list[Frame] = sequence[:1]
        for a, b in itertools.pairwise(sequence):
            if linked(a, b):
                run.append(b)
                continue
            if len(run) >= 2:
                bursts.append(run)
            run = [b]
        if len(run) >= 2:
            bursts.append(run)
    return bursts


# -- ranking ---------------------------------------------------------------------------------------------------


def _match(box: tuple[int, int, int, float], regions: Sequence[tuple[int, int, int, float]]) -> float | None:
    """The score of the region of ``regions`` at ``box``'s position (same size, nearest within the tolerance)."""
    x, y, size = box[:3]
    near = [
        ((rx - x) ** 2 + (ry - y) ** 2, score)
        for rx, ry, rsize, score in regions
        if rsize == size and max(abs(rx - x), abs(ry - y)) <= POSITION_TOLERANCE
    ]
    return min(near)[1] if near else None


def _common(frames: Sequence[Frame], reference: int) -> np.ndarray:
    """Scores at the positions common to every frame, shape (frames, positions) (no columns when none)."""
    columns = []
    for box in frames[reference].regions:
        column = [_match(box, f.regions) for f in frames]
        if all(v is not None for v in column):
            columns.append(column)
    return np.array(columns, dtype=np.float64).T.reshape(len(frames), len(columns))


def _rescored(frames: Sequence[Frame], reference: int, rescore: Rescore) -> np.ndarray | None:
    """Each frame's scores at the reference's boxes (the reference's own as stored), or None when one cannot
    be scored there."""
    boxes = [(x, y, size) for x, y, size, _ in frames[reference].regions]
    rows = []
    for i, frame in enumerate(frames):
        if i == reference:
            rows.append([s for *_, s in frames[reference].regions])
            continue
        values = [float(v) for v in rescore(frame.path, boxes)]
        if len(values) != len(boxes) or not all(math.isfinite(v) for v in values):
            log.warning("bursts: %s gave %d scores for %d regions", frame.path, len(values), len(boxes))
            return None
        rows.append(values)
    return np.array(rows, dtype=np.float64)


def _within_noise(best: np.ndarray, second: np.ndarray) -> bool:
    d = best - second
    floor = MIN_DIFFERENCE
    if len(d) >= 2:
        floor = max(floor, 2.0 * float(d.std(ddof=1)) / math.sqrt(len(d)))
    return float(d.mean()) < floor


def _by_score(frames: Sequence[Frame]) -> Ranking:
    order = sorted(frames, key=lambda f: (-f.score, _natural(f.path)))
    return Ranking(order, order[0].score - order[1].score < MIN_DIFFERENCE, "score")


def rank_burst(frames: Sequence[Frame], rescore: Rescore | None = None) -> Ranking:
    """The frames of one burst ranked like for like (module docstring); ``rescore(path, boxes)`` gives a frame's
    detail scores at other boxes. Raises what ``rescore`` raises."""
    if len(frames) < 2:
        raise ValueError(f"a burst has 2 frames or more, got {len(frames)}")
    sizes = {f.size for f in frames}
    if any(not f.regions for f in frames) or len(sizes) > 1:
        return _by_score(frames)
    reference = max(range(len(frames)), key=lambda i: (len(frames[i].regions), -i))
    method, table = "regions", _common(frames, reference)
    if table.shape[1] < MIN_COMMON_POSITIONS:
        if rescore is None:
            return _by_score(frames)
        method, table = "rescored", _rescored(frames, reference, rescore)
        if table is None:
            return _by_score(frames)
    means = table.mean(axis=1)
    order = sorted(range(len(frames)), key=lambda i: (-means[i], -frames[i].score, _natural(frames[i].path)))
    tie = _within_noise(table[order[0]], table[order[1]])
    return Ranking([frames[i] for i in order], tie, method, table.shape[1])


# -- the catalog -----------------------------------------------------------------------------------------------


def _unchanged(burst: Sequence[Frame], burst_id: int, claimed: int) -> Ranking | None:
    """The stored ranking of ``burst`` when it is still valid: every frame carries ``burst_id`` and the ranks
    are 1..n, and no other frame claims that id (``claimed``: frames stored under it)."""
    ranks = [f.stored[1] for f in burst]
    if claimed != len(burst) or any(f.stored[0] != burst_id for f in burst):
        return None
    if sorted(r or 0 for r in ranks) != list(range(1, len(burst) + 1)):
        return None
    order = sorted(burst, key=lambda f: f.stored[1] or 0)
    return Ranking(order, bool(order[0].stored[2]), "stored")


def _rank_or_fallback(burst: Sequence[Frame], rescore: Rescore | None) -> tuple[Ranking, bool]:
    """:func:`rank_burst`, and whether ``rescore`` is still usable: a photo that cannot be read ranks its burst
    by the combined score; any other failure (the model cannot be loaded) stops rescoring for the run."""
    try:
        return rank_burst(burst, rescore), True
    except Exception as exc:  # the engine's scorer: a decode error, or a model that cannot be loaded
        from model.preprocess import ImageDecodeError

        per_photo = isinstance(exc, (ImageDecodeError, OSError))
        log.warning("bursts: regions not scored again (%s); ranked by the combined score", exc)
        return _by_score(burst), per_photo


def assign_bursts(
    catalog: Catalog,
    model_key: str,
    paths: Iterable[PathLike],
    *,
    rescore: Rescore | None = None,
    gap_s: float = BURST_GAP_S,
    similarity: float = BURST_SIMILARITY,
) -> BurstSummary:
    """Group ``paths`` (scored under ``model_key``) into bursts, rank each burst like for like and store
    ``burst`` / ``burst_rank`` / ``burst_tie`` in the catalog (every other scored photo among ``paths``: in no
    burst). ``rescore(path, boxes) -> scores`` is :meth:`loda_desktop.engine.Engine.score_regions`, used when the
    frames of a burst have too few regions in common. Returns the counts."""
    paths = list(paths)
    records = catalog.rows(paths, model_key)
    frames = frames_from_records(records, catalog.photo_ids(paths), catalog.embeddings(paths, model_key))
    claims: dict[int | None, int] = {}
    for f in frames:
        claims[f.stored[0]] = claims.get(f.stored[0], 0) + 1
    values: dict[Path, tuple[int | None, int | None, bool]] = {f.path: (None, None, False) for f in frames}
    summary = BurstSummary()
    for burst in group_frames(frames, gap_s=gap_s, similarity=similarity):
        burst_id = min(f.photo_id for f in burst)
        ranking = _unchanged(burst, burst_id, claims.get(burst_id, 0))
        if ranking is None:
            ranking, usable = _rank_or_fallback(burst, rescore)
            rescore = rescore if usable else None
            summary.rescored += (len(burst) - 1) * (ranking.method == "rescored")
        for rank, frame in enumerate(ranking.frames, start=1):
            values[frame.path] = (burst_id, rank, ranking.tie)
        summary.bursts += 1
        summary.frames += len(burst)
        summary.ties += ranking.tie
        summary.smallest = min(summary.smallest or len(burst), len(burst))
        summary.largest = max(summary.largest, len(burst))
    stored = {f.path: f.stored for f in frames}
    changed = {p: v for p, v in values.items() if v != stored[p]}
    if changed:
        catalog.set_bursts(model_key, changed)
    return summary


def best_of_burst(catalog: Catalog, path: PathLike, model_key: str) -> tuple[list[Path], list[Path]]:
    """``(keep, reject)`` for the burst of ``path`` under ``model_key``: ``keep`` is its best frame (rank 1),
    ``reject`` the others, best first. ``([], [])`` when the photo is in no burst (or not cataloged).
    :func:`keep_best_of_burst` makes them one undoable edit."""
    try:
        _, score = catalog.get(path, model_key)
    except KeyError:
        return [], []
    if score is None or score.burst is None:
        return [], []
    members = [p for p, _, _ in catalog.burst_members(score.burst, model_key)]
    if len(members) < 2:
        return [], []
    return members[:1], members[1:]


def keep_best_of_burst(culling: Culling, path: PathLike, model_key: str) -> EditRecord | None:
    """Pick the best frame of ``path``'s burst and reject the others, as ONE undoable edit
    (:meth:`loda_desktop.culling.Culling.set_flags`: one Ctrl+Z restores every frame's flag). None when the photo
    is in no burst or nothing changed."""
    keep, reject = best_of_burst(culling.catalog, path, model_key)
    if not keep:
        return None
    values: dict[PathLike, str | None] = {keep[0]: "pick", **dict.fromkeys(reject, "reject")}
    return culling.set_flags(values, f"best of burst: keep 1, reject {len(reject)}")
