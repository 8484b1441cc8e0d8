"""Fine-tuning LoDa's adapter on a photographer's own ratings (issue 7), as a library: the CLI and the window share it.

    ratings (stars 1..5, picks, rejects) ──samples_from_ratings──> samples (score = (stars - 1) / 4 in [0, 1])
        ──check_minimums──> scenes (group_scenes) ──scene_split──> held-out scenes ──finetune──> child profile

- Ratings come as :class:`Rated` records (path, stars 0..5, flag). A photo with stars uses them; an unrated photo
  with a flag uses :class:`RatingMap` (pick → 5, reject → 1 by default; ``None`` ignores that flag); the rest is
  skipped. Where the ratings come from (the catalog, a ``path,rating`` CSV) is the caller's business:
  :func:`read_ratings_csv` reads the CSV; the app reads its catalog (``loda_desktop.ratings``).
- Minimums (:data:`MIN_RATED` photos, :data:`MIN_DISTINCT` different values): :func:`check_minimums` raises
  :class:`FinetuneError` with the exact sentence the window shows.
- Training starts from the base profile's weights (:func:`model.profiles.load_model`); only the adapter trains
  (``trainable_parameters``), the frozen CNN's BatchNorm stays in eval mode (``set_bn_adapt(False)``: steadier on
  small data). The step is the trainer's own (:class:`trainer.train._Stepper`: PLCC loss, AdamW, cosine schedule;
  crops from :class:`trainer.data.TrainCrops`). Small-data defaults: a quarter of the ratings held out, at most 8
  epochs, early stopping when the held-out SRCC has not improved for ``patience`` epochs; the best epoch's weights
  are kept. Note that the held-out set both stops training and reports ``srcc_after``, so ``srcc_after`` is
  slightly optimistic; ``srcc_before`` is the base's SRCC on the same images.
- The held-out part is split by scene, not by photo (:func:`group_scenes`, :func:`scene_split`): photos taken
  within ``scene_seconds`` of each other (``capture_times``, given by the caller: the app reads EXIF / its catalog)
  or that look alike to the base's own frozen CNN (:func:`scene_features`) are one scene, and a scene sits wholly
  on one side, so near-identical frames never score the model on what it trained on. The split still holds out
  about ``held_out`` of each star value.
- Speed: the frozen CNN's stage outputs and the ViT's patch tokens of every crop are computed once
  (:class:`FrozenCache`): for the held-out crops (every evaluation) and for a bank of training crops drawn once per
  photo (each epoch takes the next ``train_crops`` of them). Only the adapter and the ViT blocks run each epoch.
- The result is a profile whose metadata records ``parent`` (the base's key), ``trained_on`` (rating counts, split
  sizes, ``split: "scene"``, ``n_scenes``, ``n_test_scenes``) and ``metrics`` (``srcc_before``, ``srcc_after`` on
  the held-out scenes, ``n_test``, ...), with a calibration fitted on training images.
- ``on_progress(FinetuneProgress)`` is called after every step and evaluation; ``cancel()`` returning True stops
  at the next step with :class:`FinetuneCancelled` and writes nothing.

No Qt here; torch is imported when training starts.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import TrainError
from .datasets import Sample

if TYPE_CHECKING:
    from model.loda import LoDa
    from model.profiles import Profile

__all__ = [
    "MIN_DISTINCT",
    "MIN_RATED",
    "FinetuneCancelled",
    "FinetuneConfig",
    "FinetuneError",
    "FinetuneProgress",
    "FinetuneResult",
    "FrozenCache",
    "Rated",
    "RatingMap",
    "check_minimums",
    "finetune",
    "group_scenes",
    "read_ratings_csv",
    "samples_from_ratings",
    "scene_features",
    "scene_split",
]

MIN_RATED = 30
MIN_DISTINCT = 3
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,79}$")


class FinetuneError(TrainError):
    """Fine-tuning cannot start or go on for a reason the user can fix; the message says which (and is shown as is
    in the window)."""


class FinetuneCancelled(Exception):
    """The user cancelled; nothing was written."""


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


SCENE_SECONDS = 5.0
# Cosine similarity of two photos' scene features (:func:`scene_features`) above which they are one scene, chosen
# with the default model (loda-default) by ``benchmarks/scene_similarity.py``: on the 17 real photos of assets/demo
# and mate-backgrounds' "nature" set (1600 px wide), every near-identical copy of a photo (shifted 8 or 30 px,
# exposure +15 % / -20 %, blur 1 or 2.5 px, noise σ 6, JPEG quality 50) scored at least 0.842 against it, and two
# different photos (any copies) at most 0.346. Scenes chain (A~B and B~C put A and C together), so the value sits
# in the upper part of that gap, 0.09 below the closest near-identical copy (+15 % exposure): at the middle (0.6)
# the 32 synthetic texture photos of tests/rated_photos.py (8 patterns x 4 blur levels; different patterns up to
# 0.738) chained into one scene, at 0.75 they form 19. A reframed copy (the top-left 80 %) scored 0.467 and up:
# only a reframing that keeps most of the layout links. Measured for EfficientNet-Lite0; another base's CNN may
# need its own value (``FinetuneConfig.scene_similarity``).
SCENE_SIMILARITY = 0.75
# A CNN with random weights (``loda_tiny``: ``config.pretrained`` False) says nothing about content: two different
# photos of tests/rated_photos.py scored up to 0.975 with it (median 0.954). With it only (almost)
# pixel-identical photos are one scene.
UNTRAINED_SCENE_SIMILARITY = 0.9999


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def group_scenes(
    n: int,
    *,
    capture_times: Sequence[float | None] | None = None,
    features: np.ndarray | None = None,
    seconds: float = SCENE_SECONDS,
    similarity: float = SCENE_SIMILARITY,
) -> list[int]:
    """Scene number of each of ``n`` photos (0, 1, ... in order of first appearance).

    Two photos are in one scene when their capture times (seconds; None = unknown) are at most ``seconds`` apart,
    or when the cosine similarity of their ``features`` rows (one per photo, any width) is above ``similarity``;
    scenes are the transitive closure (union-find), so a burst of frames a second apart is one scene however long
    it lasts. Near-identical frames thus never end up on both sides of a held-out split (see :func:`scene_split`),
    which would make the held-out SRCC measure memory rather than taste.
    """
    uf = _UnionFind(n)
    if capture_times is not None:
        if len(capture_times) != n:
            raise ValueError(f"{len(capture_times)} capture times for {n} photos")
        known = sorted((float(t), i) for i, t in enumerate(capture_times) if t is not None and math.isfinite(t))
        for (t0, i), (t1, j) in itertools.pairwise(known):
            if t1 - t0 <= seconds:
                uf.union(i, j)
    if features is not None and n > 1:
        f = np.asarray(features, dtype=np.float64).reshape(n, -1)
        f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        rows, cols = np.nonzero(np.triu(f @ f.T, k=1) > similarity)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            uf.union(i, j)
    labels: dict[int, int] = {}
    return [labels.setdefault(uf.find(i), len(labels)) for i in range(n)]


def scene_split(
    samples: Sequence[Sample], scenes: Sequence[int], held_out: float, seed: int
) -> tuple[list[int], list[int]]:
    """(train, held-out) indices with every scene wholly on one side, about ``held_out`` of each star value held
    out (at least 1 of a value with 2 or more photos), so the held-out ratings span the photographer's scale.

    Scenes are visited in an order drawn from ``seed``; a scene is held out when at least half of its photos fill
    a star value's remaining target and the held-out side stays under twice its overall target. If the held-out
    photos then span fewer than 2 star values, the first remaining scene that adds a missing value is held out too.
    Raises :class:`FinetuneError` when no split leaves at least 2 photos with 2 different ratings on each side.
    """
    if len(scenes) != len(samples):
        raise ValueError(f"{len(scenes)} scene numbers for {len(samples)} photos")
    members: dict[int, list[int]] = {}
    for i, scene in enumerate(scenes):
        members.setdefault(int(scene), []).append(i)
    counts = Counter(stars_of(s) for s in samples)
    remaining = {v: (0 if c < 2 else max(1, round(held_out * c))) for v, c in counts.items()}
    cap = max(2, 2 * round(held_out * len(samples)))
    order = np.random.default_rng((int(seed), 0x5CE)).permutation(sorted(members)).tolist()
    test_scenes: list[int] = []
    size = 0
    for scene in order:
        values = Counter(stars_of(samples[i]) for i in members[scene])
        useful = sum(min(c, remaining[v]) for v, c in values.items())
        if useful and 2 * useful >= len(members[scene]) and size + len(members[scene]) <= cap:
            test_scenes.append(scene)
            size += len(members[scene])
            for v, c in values.items():
                remaining[v] = max(0, remaining[v] - c)
    held_values = {stars_of(samples[i]) for s in test_scenes for i in members[s]}
    if len(held_values) < 2 or size < 2:
        for scene in order:
            if scene in test_scenes or len(members) - len(test_scenes) <= 1:
                continue
            values = {stars_of(samples[i]) for i in members[scene]}
            if values - held_values and size + len(members[scene]) <= max(cap, len(samples) // 2):
                test_scenes.append(scene)
                size += len(members[scene])
                held_values |= values
                if len(held_values) >= 2 and size >= 2:
                    break
    test = sorted(i for s in test_scenes for i in members[s])
    held = set(test)
    train = [i for i in range(len(samples)) if i not in held]
    train_values = {stars_of(samples[i]) for i in train}
    if len(test) < 2 or len(held_values) < 2 or len(train) < 2 or len(train_values) < 2:
        raise FinetuneError(
            f"the {len(samples)} rated photos form only {len(members)} scene{'s' * (len(members) != 1)} (photos "
            "taken within a few seconds of each other or that look alike count as one), too few to hold some out "
            "for testing with at least 2 different ratings on each side; rate photos from more scenes"
        )
    return train, test


@dataclass
class FinetuneConfig:
    """Small-data defaults. ``img_size`` / ``short_side`` override the base's input size (for a bare config only
    when the backbones allow it; tests use them to make the tiny config fast).

    Scenes (:func:`group_scenes`): photos taken at most ``scene_seconds`` apart, or whose scene features have a
    cosine similarity above ``scene_similarity``, are one scene and stay on one side of the held-out split.

    Speed (:class:`FrozenCache`): the frozen parts' outputs of every crop are computed once. ``bank_crops`` random
    training crops per photo are drawn once (None: twice ``train_crops``; 0: no bank, fresh crops every epoch
    through the whole network, as before the cache), and each epoch takes the next ``train_crops`` of them. The
    bank and the held-out crops may use ``cache_mb`` MB; a bank that does not fit shrinks, down to ``train_crops``
    per photo, and then falls back to fresh crops. ``amp``: bfloat16 autocast in the training steps; off by default:
    on the 2-core development CPU (AVX-512 BF16) it saved 0.6 s of a 2.7 s epoch of 50 ratings (docs/training.md),
    and CPUs without native bfloat16 emulate it.
    """

    epochs: int = 8
    patience: int = 3
    batch: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.01
    train_crops: int = 3
    test_crops: int | None = None
    held_out: float = 0.25
    seed: int = 0
    device: str = "auto"
    img_size: int | None = None
    short_side: int | None = None
    eval_batch: int = 32
    calib_images: int = 64
    min_rated: int = MIN_RATED
    min_distinct: int = MIN_DISTINCT
    scene_seconds: float = SCENE_SECONDS
    scene_similarity: float = SCENE_SIMILARITY
    bank_crops: int | None = None
    cache_mb: int = 1024
    amp: bool = False

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.patience >= 1, f"patience must be at least 1, got {self.patience}"),
            (self.batch >= 2, f"the batch must hold at least 2 crops, got {self.batch}"),
            (self.lr > 0 and math.isfinite(self.lr), f"the learning rate must be positive, got {self.lr}"),
            (self.train_crops >= 1, f"train crops must be at least 1, got {self.train_crops}"),
            (self.test_crops is None or self.test_crops >= 1, f"test crops must be ≥ 1, got {self.test_crops}"),
            (0.0 < self.held_out < 1.0, f"the held-out fraction must be in (0, 1), got {self.held_out}"),
            (self.scene_seconds >= 0, f"scene seconds must be ≥ 0, got {self.scene_seconds}"),
            (-1.0 <= self.scene_similarity <= 1.0, f"scene similarity must be in [-1, 1], got {self.scene_similarity}"),
            (
                self.bank_crops is None or self.bank_crops == 0 or self.bank_crops >= self.train_crops,
                f"the crop bank must be 0 (off) or hold at least the {self.train_crops} train crops, got"
                f" {self.bank_crops}",
            ),
            (self.cache_mb >= 0, f"the cache budget must be ≥ 0 MB, got {self.cache_mb}"),
        ]
        for ok, message in checks:
            if not ok:
                raise FinetuneError(message)


@dataclass(frozen=True)
class FinetuneProgress:
    """Plain data for a progress bar and a live plot. ``phase``: "evaluating" | "training" | "epoch" | "saving".

    ``srcc`` is the held-out SRCC of the last evaluation (epoch 0: the base), ``loss`` the last step's PLCC loss,
    ``eta_s`` the estimated seconds left (None until a step has been timed)."""

    phase: str
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float | None = None
    srcc: float | None = None
    eta_s: float | None = None


@dataclass
class FinetuneResult:
    """What a fine-tune did. ``srcc_before`` / ``srcc_after``: the base's and the best epoch's SRCC on the
    ``n_test`` held-out photos, which form ``n_test_scenes`` of the ``n_scenes`` scenes (``split`` = "scene")."""

    path: Path
    name: str
    parent: str
    srcc_before: float
    srcc_after: float
    best_epoch: int
    epochs_run: int
    counts: dict[str, int]
    n_train: int
    n_test: int
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    n_scenes: int = 0
    n_test_scenes: int = 0
    split: str = "scene"

    @property
    def improved(self) -> bool:
        return self.srcc_after > self.srcc_before


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME_RE.match(name):
        raise FinetuneError(
            f"invalid profile name {name!r}: use letters, digits, spaces, '.', '_' or '-' (at most 80 characters)"
        )
    return name


def _base_for_training(base: Profile, cfg: FinetuneConfig) -> Profile:
    """The base with the input-size overrides applied to its config."""
    from model.profiles import Profile

    overrides = {k: v for k, v in (("img_size", cfg.img_size), ("short_side", cfg.short_side)) if v is not None}
    if cfg.img_size is not None and cfg.short_side is None and base.config.short_side < cfg.img_size:
        overrides["short_side"] = cfg.img_size
    if not overrides:
        return base
    meta = dict(base.metadata)
    meta["config"] = base.config.replace(**overrides).to_dict()
    return Profile(meta, base.path)


def scene_features(module: LoDa, images: Iterable[np.ndarray], *, batch: int = 32) -> np.ndarray:
    """One row per image: the base's frozen CNN's last stage on the whole image squashed to the crop size,
    flattened (for the default model 7 × 7 × 320 values), for :func:`group_scenes`.

    Why this feature: the ViT's final CLS token, the obvious choice, is tuned to quality, not content: on the 17
    real photos of the :data:`SCENE_SIMILARITY` measurement two *different* photos reached a cosine of 0.992 with
    it (centre crop; the mean over the 5 test crops did no better) while a blurred copy of one photo fell to 0.839,
    so no threshold separates them. The CNN's last stage keeps the layout (a 7 × 7 grid of ImageNet features) over
    the whole frame: near-identical frames stayed at or above 0.842, different photos at or below 0.346. It costs
    one CNN pass per photo. ``images`` are (H, W, 3) uint8 arrays (:class:`~trainer.data.ImageStore`); ``module``
    should be in eval mode.
    """
    import torch
    from PIL import Image

    size = module.config.img_size
    device = next(module.parameters()).device
    out: list[np.ndarray] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        x = torch.from_numpy(np.stack(pending)).to(device).float().div_(255.0)
        with torch.no_grad():
            out.append(module.cnn_features(x)[-1].flatten(1).double().cpu().numpy())
        pending.clear()

    for image in images:
        view = Image.fromarray(np.asarray(image)).resize((size, size), Image.Resampling.BICUBIC)
        pending.append(np.ascontiguousarray(np.asarray(view).transpose(2, 0, 1)))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return np.concatenate(out) if out else np.zeros((0, 0))


class FrozenCache:
    """The frozen parts' outputs (:meth:`model.loda.LoDa.embed_tokens`, :meth:`~model.loda.LoDa.cnn_features`) for
    a fixed list of crops, computed once.

    Why: LoDa's injectors feed every ViT block, so the ViT blocks must run again each epoch, but with the CNN's
    BatchNorm frozen (``set_bn_adapt(False)``) the CNN's stage outputs and the ViT's patch tokens depend on the crop
    alone. On the default model the CNN is two thirds of a forward pass on a CPU (EfficientNet-Lite0's depthwise
    convolutions): reusing its outputs makes an evaluation about 3× and a training step about 1.6× cheaper
    (docs/training.md §9). :meth:`forward` gives ``module(crops)`` up to float rounding
    (``tests/trainer/test_finetune_cache.py``). Memory: :meth:`crop_bytes` per crop, float32 (728,320 bytes for
    the default model)."""

    def __init__(self, module: LoDa, chunks: Iterable[np.ndarray], *, batch: int = 32) -> None:
        """``chunks``: uint8 crops (k, 3, S, S), k ≥ 1, in row order (one photo's crops, say); they run through the
        frozen parts ``batch`` crops or more at a time."""
        import torch

        device = next(module.parameters()).device
        tokens: list[torch.Tensor] = []
        features: list[list[torch.Tensor]] = []
        pending: list[np.ndarray] = []

        def run() -> None:
            x = torch.from_numpy(np.concatenate(pending)).to(device).float().div_(255.0)
            tokens.append(module.embed_tokens(x))
            features.append(module.cnn_features(x))
            pending.clear()

        was_training = module.training
        module.eval()
        with torch.no_grad():
            for chunk in chunks:
                pending.append(np.asarray(chunk))
                if sum(len(c) for c in pending) >= batch:
                    run()
            if pending:
                run()
        module.train(was_training)
        self.tokens = torch.cat(tokens)
        self.features = [torch.cat(stage) for stage in zip(*features, strict=True)]

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @staticmethod
    def crop_bytes(module: LoDa) -> int:
        """Bytes one cached crop takes (measured on a blank crop)."""
        import torch

        size = module.config.img_size
        device = next(module.parameters()).device
        was_training = module.training
        module.eval()
        with torch.no_grad():
            x = torch.zeros(1, 3, size, size, device=device)
            parts = [module.embed_tokens(x), *module.cnn_features(x)]
        module.train(was_training)
        return sum(p.numel() * p.element_size() for p in parts)

    def forward(self, module: LoDa, rows: Any) -> Any:
        """Raw outputs (float32, shape (len(rows),)) of ``module`` for the cached crops ``rows`` (a LongTensor)."""
        return module.forward_cached(self.tokens[rows], [f[rows] for f in self.features]).float().reshape(-1)

    def image_means(self, module: LoDa, crops: int, batch: int) -> np.ndarray:
        """Mean raw output per image, rows ``k * crops ... (k + 1) * crops - 1`` being image k's crops: what
        :func:`trainer.data.predict` returns for the same crops. Leaves ``module`` in eval mode."""
        import torch

        module.eval()
        outs = []
        with torch.no_grad():
            for start in range(0, len(self), batch):
                rows = torch.arange(start, min(len(self), start + batch), device=self.tokens.device)
                outs.append(self.forward(module, rows).double().cpu().numpy())
        return np.concatenate(outs).reshape(-1, crops).mean(axis=1)


def _stop(cancelled: Callable[[], bool]) -> bool:
    """Raise :class:`FinetuneCancelled` when the user cancelled (checked between photos while the caches fill)."""
    if cancelled():
        raise FinetuneCancelled("fine-tuning cancelled")
    return False


def finetune(
    base: Profile,
    samples: Sequence[Sample],
    out_path: Path | str,
    *,
    name: str,
    cfg: FinetuneConfig | None = None,
    search_dirs: Iterable[Path] = (),
    on_progress: Callable[[FinetuneProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    overwrite: bool = False,
    extra_trained_on: dict[str, Any] | None = None,
    capture_times: Mapping[Path, float] | None = None,
) -> FinetuneResult:
    """Fine-tune ``base`` on ``samples`` and write the child profile to ``out_path`` (see the module docstring).

    ``capture_times``: seconds (since the epoch, or any monotone clock) by photo path; photos missing from it (or
    None) have no known time and are grouped into scenes by their look alone."""
    import torch

    from model.preprocess import prepare_inference
    from model.preprocess import train_crops as draw_train_crops
    from model.profiles import child_kind, load_model, save_model, tensor_digest
    from model.scorer import resolve_device

    from .data import ImageStore, TrainCrops, epoch_plan, make_loader, predict
    from .losses import batch_loss_grad
    from .metrics import srcc
    from .train import _cosine_lr, _derive_seed, _Dist, _Stepper, amp_dtype, fit_calibration

    cfg = cfg or FinetuneConfig()
    cfg.validate()
    name = check_name(name)
    out_path = Path(out_path)
    if out_path.exists() and not overwrite:
        raise FinetuneError(f"a profile named {name!r} already exists ({out_path}); choose another name")
    samples = list(samples)
    check_minimums(samples, cfg.min_rated, cfg.min_distinct)
    missing = [s.path for s in samples if not Path(s.path).is_file()]
    if missing:
        raise FinetuneError(f"{len(missing)} rated photo(s) are missing, e.g. {missing[0]}")
    search_dirs = list(search_dirs)
    started = time.perf_counter()
    cancelled = cancel or (lambda: False)

    def report(p: FinetuneProgress) -> None:
        if on_progress is not None:
            on_progress(p)

    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        raise FinetuneError(str(exc)) from None
    profile = _base_for_training(base, cfg)
    try:
        module = load_model(profile, search_dirs=list(search_dirs), device=device)
    except RuntimeError as exc:  # e.g. position embeddings that cannot take another input size
        raise FinetuneError(f"cannot build {base.name} with these settings: {exc}") from None
    module.set_bn_adapt(False)
    module.eval()
    config = module.config
    test_crops = cfg.test_crops or config.test_crops
    store = ImageStore(samples, config.short_side, cache=True)
    store.prefill(range(len(samples)), workers=2)

    # the held-out split, by scene: near-identical frames on both sides would measure memory, not taste
    times = None
    if capture_times:
        known = {Path(k): v for k, v in capture_times.items()}
        times = [known.get(Path(s.path)) for s in samples]
    features = scene_features(module, (store.get(i) for i in range(len(samples))), batch=cfg.eval_batch)
    scenes = group_scenes(
        len(samples),
        capture_times=times,
        features=features,
        seconds=cfg.scene_seconds,
        similarity=cfg.scene_similarity if config.pretrained else max(cfg.scene_similarity, UNTRAINED_SCENE_SIMILARITY),
    )
    train_idx, test_idx = scene_split(samples, scenes, cfg.held_out, cfg.seed)
    n_scenes, n_test_scenes = len(set(scenes)), len({scenes[i] for i in test_idx})
    targets = np.asarray([samples[i].score for i in test_idx])

    data = TrainCrops(store, train_idx, crops=cfg.train_crops, size=config.img_size, seed=cfg.seed)
    try:
        plan0 = epoch_plan(len(data), batch=cfg.batch, micro_batch=None, seed=cfg.seed, epoch=1)
    except ValueError as exc:
        raise FinetuneError(str(exc)) from None
    steps_per_epoch = len(plan0.steps)
    total = cfg.epochs * steps_per_epoch
    report(FinetuneProgress("evaluating", 0, cfg.epochs, 0, total))

    # the frozen parts' outputs, once: the held-out crops (every evaluation) and a bank of training crops
    crop_bytes = FrozenCache.crop_bytes(module)
    budget = cfg.cache_mb * 2**20
    test_cache = None
    if len(test_idx) * test_crops * crop_bytes <= budget:
        budget -= len(test_idx) * test_crops * crop_bytes
        test_cache = FrozenCache(
            module,
            (
                prepare_inference(store.source(i), short_side=config.short_side, size=config.img_size, k=test_crops)
                for i in test_idx
                if not _stop(cancelled)
            ),
            batch=cfg.eval_batch,
        )
    bank = 2 * cfg.train_crops if cfg.bank_crops is None else cfg.bank_crops
    bank = min(bank, budget // max(1, len(train_idx) * crop_bytes))
    bank_cache = None
    if bank >= cfg.train_crops:
        bank_cache = FrozenCache(
            module,
            (
                draw_train_crops(store.get(i), bank, config.img_size, np.random.default_rng((cfg.seed, 0xBA, i)))  # type: ignore[arg-type]
                for i in train_idx
                if not _stop(cancelled)
            ),
            batch=cfg.eval_batch,
        )
    train_scores = torch.tensor([samples[i].score for i in train_idx], dtype=torch.float32, device=device)

    def held_out_srcc() -> float:
        if test_cache is not None:
            raw = test_cache.image_means(module, test_crops, cfg.eval_batch)
        else:
            raw = predict(module, store, test_idx, crops=test_crops, batch_size=cfg.eval_batch, device=str(device))
        value = srcc(raw, targets)
        return float(value) if math.isfinite(value) else 0.0

    def bank_batches(plan: Any, epoch: int) -> list[tuple[Any, Any]]:
        """The epoch's items as (bank rows, scores): item j is crop slot j % train_crops of training photo
        j // train_crops (as in TrainCrops); epoch e takes the photo's bank crops (e - 1) * train_crops ... on,
        cyclically, so every bank crop is used as often as the others."""
        out = []
        for items in plan.micro_batches:
            photo = torch.tensor(items, dtype=torch.long) // cfg.train_crops
            slot = (torch.tensor(items, dtype=torch.long) % cfg.train_crops + (epoch - 1) * cfg.train_crops) % bank
            out.append(((photo * bank + slot).to(device), train_scores[photo.to(device)]))
        return out

    def cached_step(rows: Any, scores: Any) -> float:
        """One step on bank crops: the PLCC loss's gradient of the whole batch, as :class:`_Stepper` computes it."""
        with torch.autocast(device.type, dtype=amp_dtype(device), enabled=cfg.amp):
            pred = bank_cache.forward(module, rows)  # type: ignore[union-attr]
        pred = pred.float().reshape(-1)
        loss, grad = batch_loss_grad(pred.detach(), scores)
        (pred * grad).sum().backward()
        return float(loss)

    srcc_before = held_out_srcc()
    history: list[dict[str, Any]] = [{"epoch": 0, "train_loss": None, "srcc": srcc_before}]
    report(FinetuneProgress("epoch", 0, cfg.epochs, 0, total, srcc=srcc_before))

    params = module.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    stepper = _Stepper(module, module, device, cfg.amp, scaler, _Dist())
    trainable_names = {n for n, p in module.named_parameters() if p.requires_grad}

    def snapshot() -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in module.state_dict().items() if k in trainable_names}

    best_state, best_srcc, best_epoch = None, -math.inf, 0
    step, stale, epochs_run = 0, 0, 0
    train_started = time.perf_counter()
    eval_seconds = 0.0
    for epoch in range(1, cfg.epochs + 1):
        torch.manual_seed(_derive_seed(cfg.seed, 2, epoch))
        plan = epoch_plan(len(data), batch=cfg.batch, micro_batch=None, seed=cfg.seed, epoch=epoch)
        data.set_epoch(epoch)
        module.train()
        losses: list[float] = []
        batches = bank_batches(plan, epoch) if bank_cache is not None else make_loader(data, plan.micro_batches)
        for batch in batches:
            if cancelled():
                raise FinetuneCancelled("fine-tuning cancelled")
            for group in optimizer.param_groups:
                group["lr"] = _cosine_lr(cfg.lr, step, total)
            optimizer.zero_grad(set_to_none=True)
            losses.append(cached_step(*batch) if bank_cache is not None else stepper([batch]))
            optimizer.step()
            step += 1
            per_step = (time.perf_counter() - train_started - eval_seconds) / step
            eta = per_step * (total - step) + eval_seconds / max(1, epoch - 1) * (cfg.epochs - epoch + 1)
            report(FinetuneProgress("training", epoch, cfg.epochs, step, total, losses[-1], best_or(history), eta))
        if cancelled():
            raise FinetuneCancelled("fine-tuning cancelled")
        eval_start = time.perf_counter()
        report(FinetuneProgress("evaluating", epoch, cfg.epochs, step, total, losses[-1] if losses else None))
        value = held_out_srcc()
        eval_seconds += time.perf_counter() - eval_start
        epochs_run = epoch
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else None, "srcc": value})
        report(FinetuneProgress("epoch", epoch, cfg.epochs, step, total, history[-1]["train_loss"], value))
        if value > best_srcc:
            best_state, best_srcc, best_epoch, stale = snapshot(), value, epoch, 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state, strict=False)
    if cancelled():
        raise FinetuneCancelled("fine-tuning cancelled")

    report(FinetuneProgress("saving", epochs_run, cfg.epochs, step, total, srcc=best_srcc, eta_s=0.0))
    rng = np.random.default_rng((cfg.seed, 0xCA1))
    n_calib = min(len(train_idx), cfg.calib_images)
    chosen = sorted(rng.choice(np.asarray(train_idx), size=n_calib, replace=False).tolist())
    raw = predict(module, store, chosen, crops=test_crops, batch_size=cfg.eval_batch, device=str(device))
    calibration = fit_calibration(raw, [samples[i].score for i in chosen])
    counts = rating_counts(samples)
    trained_on = {
        "dataset": "ratings",
        "summary": f"{len(samples)} of the photographer's ratings ({len(train_idx)} trained on, {len(test_idx)} "
        f"held out: {n_test_scenes} of {n_scenes} scenes), fine-tuned from {base.name}",
        "ratings": counts,
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "split": "scene",
        "n_scenes": n_scenes,
        "n_test_scenes": n_test_scenes,
        "capture_times": sum(t is not None for t in times) if times else 0,
        "base": base.key,
        "base_name": base.name,
        "base_path": str(base.path) if base.path else None,
        "epochs": epochs_run,
        "best_epoch": best_epoch,
        **(extra_trained_on or {}),
    }
    metrics = {
        "srcc_before": srcc_before,
        "srcc_after": best_srcc,
        "srcc": best_srcc,
        "split": "scene",
        "n_test": len(test_idx),
        "n_test_scenes": n_test_scenes,
        "n_scenes": n_scenes,
    }
    save_model(
        module.cpu(),
        out_path,
        name=name,
        kind=child_kind(base, search_dirs),
        trained_on=trained_on,
        metrics=metrics,
        calibration=calibration,
        score_range=(0.0, 1.0),
        parent=base.key,
        notes="fine-tuned on the photographer's ratings; score = calibration to (stars - 1) / 4",
        extra={
            "finetune": {**cfg.__dict__, "parent_name": base.name},
            "parent_digest": tensor_digest(base.path) if base.path is not None else None,
        },
    )
    return FinetuneResult(
        path=out_path,
        name=name,
        parent=base.key,
        srcc_before=srcc_before,
        srcc_after=best_srcc,
        best_epoch=best_epoch,
        epochs_run=epochs_run,
        counts=counts,
        n_train=len(train_idx),
        n_test=len(test_idx),
        history=history,
        seconds=round(time.perf_counter() - started, 3),
        n_scenes=n_scenes,
        n_test_scenes=n_test_scenes,
        split="scene",
    )


def best_or(history: Sequence[dict[str, Any]]) -> float | None:
    """The last evaluated held-out SRCC (for the live plot while training)."""
    return history[-1]["srcc"] if history else None
