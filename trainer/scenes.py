"""Photos grouped into scenes, so that a fine-tune's held-out photos share no scene with its training photos.

Photos taken within ``seconds`` of each other (capture times, given by the caller: the app reads EXIF / its
catalog) or that look alike to the base's own frozen CNN (:func:`scene_features`) are one scene
(:func:`group_scenes`), and :func:`scene_split` puts every scene wholly on one side, so near-identical frames never
score the model on what it trained on. The split still holds out about ``held_out`` of each star value.
:func:`split_by_scene` does all of it for a fine-tune.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .datasets import Sample
from .ratings import FinetuneError, stars_of

if TYPE_CHECKING:
    from model.loda import LoDa

    from .data import ImageStore
    from .finetune import FinetuneConfig

__all__ = [
    "SCENE_SECONDS",
    "SCENE_SIMILARITY",
    "UNTRAINED_SCENE_SIMILARITY",
    "SceneSplit",
    "group_scenes",
    "scene_features",
    "scene_split",
    "split_by_scene",
]

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


@dataclass(frozen=True)
class SceneSplit:
    """A held-out split by scene: the photos' indices on each side, how many scenes there are and how many are
    held out, and how many photos had a known capture time."""

    train_idx: list[int]
    test_idx: list[int]
    n_scenes: int
    n_test_scenes: int
    n_capture_times: int


def split_by_scene(
    module: LoDa,
    store: ImageStore,
    samples: Sequence[Sample],
    capture_times: Mapping[Path, float] | None,
    cfg: FinetuneConfig,
) -> SceneSplit:
    """Group ``samples`` (decoded in ``store``) into scenes by ``capture_times`` (by photo path; a photo missing
    from it has no known time) and by ``module``'s scene features, and split them (:func:`scene_split`), as ``cfg``
    says (``scene_seconds``, ``scene_similarity``, ``held_out``, ``seed``; ``eval_batch`` photos per CNN pass). A
    base whose CNN has random weights links only (almost) identical photos (:data:`UNTRAINED_SCENE_SIMILARITY`)."""
    times = None
    if capture_times:
        known = {Path(k): v for k, v in capture_times.items()}
        times = [known.get(Path(s.path)) for s in samples]
    features = scene_features(module, (store.get(i) for i in range(len(samples))), batch=cfg.eval_batch)
    similarity = cfg.scene_similarity
    if not module.config.pretrained:
        similarity = max(similarity, UNTRAINED_SCENE_SIMILARITY)
    scenes = group_scenes(
        len(samples), capture_times=times, features=features, seconds=cfg.scene_seconds, similarity=similarity
    )
    train_idx, test_idx = scene_split(samples, scenes, cfg.held_out, cfg.seed)
    return SceneSplit(
        train_idx=train_idx,
        test_idx=test_idx,
        n_scenes=len(set(scenes)),
        n_test_scenes=len({scenes[i] for i in test_idx}),
        n_capture_times=sum(t is not None for t in times) if times else 0,
    )
