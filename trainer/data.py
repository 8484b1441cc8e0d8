"""Training crops and evaluation scores for a list of :class:`trainer.datasets.Sample`.

- :class:`ImageStore` decodes an image the way the scorer does (:func:`model.preprocess.load_for_model`: EXIF
  orientation, RGB, short side resized) and, when caching, keeps it in memory as a uint8 array. The cache is
  filled in the main process before any DataLoader worker starts, so forked workers share it instead of each
  decoding (and holding) its own copy.
- :class:`TrainCrops` is the map-style training dataset. Item ``j`` is crop slot ``j % crops`` of training image
  ``j // crops``: every image contributes ``crops`` random crops per epoch (each with random horizontal and
  vertical flips, :func:`model.preprocess.train_crops`), and every crop inherits the image's score. The random
  numbers of an item come from ``numpy.random.default_rng((seed, epoch, sample index, slot))``, so an epoch's
  crops are the same whatever the number of workers, the order of loading or a resume. An image listed more than
  once (a sample ``weight`` above 1) gets fresh crops for each further copy (the key gains the copy number).
- :func:`epoch_plan` shuffles an epoch's items and cuts them into optimisation steps, each step into the share of
  this process (DDP rank) and that share into micro-batches.
- :func:`predict` scores images with :class:`model.scorer.TorchScorer` (the app's own inference path: the same K
  deterministic crops, the same batching, AMP on CUDA), so the metrics measure exactly what the app would report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model.preprocess import ImageDecodeError, load_for_model, train_crops

from .datasets import Sample

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "EpochPlan",
    "ImageStore",
    "TrainCrops",
    "TrainError",
    "epoch_plan",
    "estimate_cache_bytes",
    "make_loader",
    "predict",
]


class TrainError(Exception):
    """A training run that cannot start or go on for a reason the user can fix; the message says which."""


def estimate_cache_bytes(n_images: int, short_side: int) -> int:
    """Memory an in-memory cache of ``n_images`` needs, assuming 4:3 images resized to ``short_side``."""
    return int(n_images * short_side * math.ceil(short_side * 4 / 3) * 3)


class ImageStore:
    """Images by sample index, decoded and resized for the model; optionally cached in memory."""

    def __init__(self, samples: Sequence[Sample], short_side: int, *, cache: bool = False) -> None:
        self.samples = list(samples)
        self.short_side = short_side
        self.cache = cache
        self._images: dict[int, np.ndarray] = {}

    def _decode(self, index: int) -> np.ndarray:
        path = self.samples[index].path
        try:
            return np.asarray(load_for_model(path, self.short_side))
        except ImageDecodeError as exc:
            raise TrainError(f"cannot read the image {path}: {exc}") from None

    def get(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8, short side = ``short_side``."""
        image = self._images.get(index)
        if image is None:
            image = self._decode(index)
            if self.cache:
                self._images[index] = image
        return image

    def source(self, index: int) -> np.ndarray | Path:
        """What the scorer should read: the cached array, or the file."""
        image = self._images.get(index)
        return image if image is not None else self.samples[index].path

    def prefill(self, indices: Iterable[int], *, workers: int = 2, progress: bool = False) -> None:
        """Decode ``indices`` now (in threads; Pillow releases the GIL), when caching. Decode errors raise
        :class:`TrainError` naming the image."""
        if not self.cache:
            return
        todo = sorted({i for i in indices if i not in self._images})
        if not todo:
            return
        from tqdm import tqdm

        with (
            ThreadPoolExecutor(max(1, workers), thread_name_prefix="loda-cache") as pool,
            tqdm(total=len(todo), desc="decoding images", unit="img", disable=not progress, leave=False) as bar,
        ):
            for index, image in zip(todo, pool.map(self._decode, todo), strict=True):
                self._images[index] = image
                bar.update(1)

    @property
    def cached_bytes(self) -> int:
        return sum(a.nbytes for a in self._images.values())


class TrainCrops:
    """Map-style dataset of ``len(indices) * crops`` random training crops (see the module docstring).

    Returns ``(crop, score)``: a uint8 tensor (3, size, size) and a float32 scalar tensor, plus with
    ``with_groups`` the image's group as an int64 scalar (-1 for none). Set the epoch with
    :meth:`set_epoch` before making the epoch's loader (workers fork with it).
    """

    def __init__(
        self,
        store: ImageStore,
        indices: Sequence[int],
        *,
        crops: int,
        size: int,
        seed: int,
        with_groups: bool = False,
    ) -> None:
        if crops < 1:
            raise ValueError(f"training crops per image must be at least 1, got {crops}")
        self.store = store
        self.indices = list(indices)
        seen: dict[int, int] = {}
        self.copies = []  # 0 for an image's first listing, 1 for its second...: repeated images get new crops
        for index in self.indices:
            self.copies.append(seen.get(index, 0))
            seen[index] = self.copies[-1] + 1
        self.crops = crops
        self.size = size
        self.seed = int(seed)
        self.epoch = 0
        self.with_groups = with_groups
        names = sorted({s.group for s in store.samples if s.group is not None})
        codes = {name: k for k, name in enumerate(names)}
        self.group_codes = [codes.get(s.group, -1) for s in store.samples]  # type: ignore[arg-type]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices) * self.crops

    def crop(self, item: int) -> tuple[np.ndarray, float]:
        """(3, size, size) uint8 crop and its score, as numpy (no torch needed)."""
        index = self.indices[item // self.crops]
        copy = self.copies[item // self.crops]
        slot = item % self.crops
        key = (self.seed, self.epoch, index, slot) + ((copy,) if copy else ())
        rng = np.random.default_rng(key)
        image = self.store.get(index)
        h, w = image.shape[:2]
        if h < self.size or w < self.size:
            raise TrainError(
                f"the image {self.store.samples[index].path} is {w}x{h} after resizing, smaller than the "
                f"{self.size}px crop (raise --short-side to at least --img-size)"
            )
        arr = train_crops(image, 1, self.size, rng)[0]  # type: ignore[arg-type]  (it reads np.asarray(img))
        return arr, float(self.store.samples[index].score)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, ...]:
        import torch

        arr, score = self.crop(item)
        out = (torch.from_numpy(arr), torch.tensor(score, dtype=torch.float32))
        if self.with_groups:  # the image's group as a number (-1: none), for the within-group ordering term
            group = self.group_codes[self.indices[item // self.crops]]
            out += (torch.tensor(group, dtype=torch.int64),)
        return out


@dataclass(frozen=True)
class EpochPlan:
    """One epoch of this process: ``steps[s][m]`` are the item ids of micro-batch ``m`` of step ``s``.

    ``batch`` is the global batch (all processes together), ``share`` this process's part of it.
    """

    steps: list[list[list[int]]]
    batch: int
    share: int

    @property
    def micro_batches(self) -> list[list[int]]:
        return [mb for step in self.steps for mb in step]

    @property
    def micro_per_step(self) -> int:
        return len(self.steps[0]) if self.steps else 0


def epoch_plan(
    n_items: int,
    *,
    batch: int,
    micro_batch: int | None,
    seed: int,
    epoch: int,
    world: int = 1,
    rank: int = 0,
) -> EpochPlan:
    """Shuffle ``n_items`` for ``epoch`` and cut them into steps.

    A step takes ``batch`` items (every process builds the same order and takes its own contiguous share of
    ``batch / world``); an incomplete last step is dropped, so every step has the same size, except that an epoch
    with fewer items than ``batch`` is one step of all its items (rounded down to a multiple of ``world``). The
    share is cut into micro-batches of at most ``micro_batch`` items (default: the whole share).
    """
    if batch < 2:
        raise ValueError(f"the batch must hold at least 2 crops (the PLCC of one value is undefined), got {batch}")
    if batch % world:
        raise ValueError(f"the batch ({batch}) must be a multiple of the number of processes ({world})")
    size = batch if n_items >= batch else n_items - n_items % world
    if size < 2:
        raise ValueError(f"an epoch of {n_items} crop(s) is too small to train on (a step needs at least 2)")
    share = size // world
    micro = min(micro_batch or share, share)
    if micro < 1:
        raise ValueError(f"the micro-batch must hold at least 1 crop, got {micro_batch}")
    order = np.random.default_rng((int(seed), int(epoch), 0x5EED)).permutation(n_items)
    steps = []
    for s in range(n_items // size):
        mine = order[s * size + rank * share : s * size + (rank + 1) * share].tolist()
        steps.append([mine[i : i + micro] for i in range(0, share, micro)])
    return EpochPlan(steps=steps, batch=size, share=share)


def make_loader(
    dataset: TrainCrops,
    micro_batches: list[list[int]],
    *,
    workers: int = 0,
    pin_memory: bool = False,
) -> Any:
    """A DataLoader that yields the given micro-batches, in order, as ``(uint8 crops, scores[, groups])``."""
    from torch.utils.data import DataLoader

    return DataLoader(
        dataset,
        batch_sampler=micro_batches,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=False,
        prefetch_factor=4 if workers > 0 else None,
    )


def predict(
    model: nn.Module,
    store: ImageStore,
    indices: Sequence[int],
    *,
    crops: int,
    batch_size: int = 64,
    device: str = "cpu",
    amp: bool | None = None,
    decode_workers: int = 2,
    progress: bool = False,
    desc: str = "evaluating",
) -> np.ndarray:
    """Raw network outputs, one per image (the mean over ``crops`` deterministic crops), in ``indices`` order.

    Runs :class:`model.scorer.TorchScorer` with the identity calibration; leaves ``model`` in eval mode. An image
    that cannot be read raises :class:`TrainError`.
    """
    from tqdm import tqdm

    from model.scorer import TorchScorer

    cfg = model.config  # type: ignore[attr-defined]
    scorer = TorchScorer(
        model,  # type: ignore[arg-type]
        device=device,
        amp=amp,
        crops=crops,
        batch_size=batch_size,
        short_side=cfg.short_side,
        crop_size=cfg.img_size,
        decode_workers=decode_workers,
    )
    indices = list(indices)
    out = np.full(len(indices), np.nan, dtype=np.float64)
    sources = [store.source(i) for i in indices]
    with tqdm(total=len(indices), desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for k, result in scorer.iter_scores(sources):
            if not result.ok:
                raise TrainError(f"cannot score {store.samples[indices[k]].path}: {result.error}")
            out[k] = result.score
            bar.update(1)
    return out
