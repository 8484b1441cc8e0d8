"""Fine-tuning LoDa's adapter on a photographer's own ratings, as a library: the CLI and the window share it.

    ratings (stars 1..5, picks, rejects) ──samples_from_ratings──> samples (score = (stars - 1) / 4 in [0, 1])
        ──check_minimums──> scenes (group_scenes) ──scene_split──> held-out scenes ──finetune──> child profile

- Ratings and minimums: :mod:`trainer.ratings` (:class:`Rated`, :class:`RatingMap`, :func:`check_minimums`, whose
  :class:`FinetuneError` carries the exact sentence the window shows).
- Training starts from the base profile's weights (:func:`model.profiles.load_model`); only the adapter trains
  (``trainable_parameters``), the frozen CNN's BatchNorm stays in eval mode (``set_bn_adapt(False)``: steadier on
  small data). The step is the paper protocol's own (:class:`trainer.step.Stepper`: PLCC loss, AdamW, cosine
  schedule; crops from :class:`trainer.data.TrainCrops`). Small-data defaults: a quarter of the ratings held out, at
  most 8 epochs, early stopping when the held-out SRCC has not improved for ``patience`` epochs; the best epoch's
  weights are kept. Note that the held-out set both stops training and reports ``srcc_after``, so ``srcc_after`` is
  slightly optimistic; ``srcc_before`` is the base's SRCC on the same images.
- The held-out part is split by scene, not by photo (:mod:`trainer.scenes`): photos taken within
  ``scene_seconds`` of each other (``capture_times``, given by the caller: the app reads EXIF / its catalog) or that
  look alike to the base's own frozen CNN (:func:`scene_features`) are one scene, and a scene sits wholly on one
  side, so near-identical frames never score the model on what it trained on. The split still holds out about
  ``held_out`` of each star value.
- Speed: the frozen CNN's stage outputs and the ViT's patch tokens of every crop are computed once
  (:class:`FrozenCache`, :mod:`trainer.frozen_cache`): for the held-out crops (every evaluation) and for a bank of
  training crops drawn once per photo (each epoch takes the next ``train_crops`` of them). Only the adapter and the
  ViT blocks run each epoch.
- The result is a profile whose metadata records ``parent`` (the base's key), ``trained_on`` (rating counts, split
  sizes, ``split: "scene"``, ``n_scenes``, ``n_test_scenes``) and ``metrics`` (``srcc_before``, ``srcc_after`` on
  the held-out scenes, ``n_test``, ...), with a calibration fitted on training images.
- ``on_progress(FinetuneProgress)`` is called after every step and evaluation; ``cancel()`` returning True stops
  at the next step with :class:`FinetuneCancelled` and writes nothing.

No Qt here; torch is imported when training starts.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .datasets import Sample
from .frozen_cache import FrozenCache, build_caches
from .ratings import (
    MIN_DISTINCT,
    MIN_RATED,
    FinetuneError,
    Rated,
    RatingMap,
    check_minimums,
    minimums_message,
    rating_counts,
    read_ratings_csv,
    samples_from_ratings,
    stars_of,
)
from .runtime import Dist, derive_seed
from .scenes import (
    SCENE_SECONDS,
    SCENE_SIMILARITY,
    UNTRAINED_SCENE_SIMILARITY,
    group_scenes,
    scene_features,
    scene_split,
    split_by_scene,
)
from .step import Stepper, cosine_lr, take_step

if TYPE_CHECKING:
    from model.loda import LoDa
    from model.profiles import Profile

    from .scenes import SceneSplit

__all__ = [
    "MIN_DISTINCT",
    "MIN_RATED",
    "SCENE_SECONDS",
    "SCENE_SIMILARITY",
    "UNTRAINED_SCENE_SIMILARITY",
    "FinetuneCancelled",
    "FinetuneConfig",
    "FinetuneError",
    "FinetuneProgress",
    "FinetuneResult",
    "FrozenCache",
    "Rated",
    "RatingMap",
    "best_or",
    "check_minimums",
    "check_name",
    "finetune",
    "group_scenes",
    "minimums_message",
    "rating_counts",
    "read_ratings_csv",
    "samples_from_ratings",
    "scene_features",
    "scene_split",
    "stars_of",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,79}$")


class FinetuneCancelled(Exception):
    """The user cancelled; nothing was written."""


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


class _Session:
    """One fine-tune, stage by stage: load the base (the constructor), :meth:`split` by scene, :meth:`prepare` the
    crops, the steps and the caches, :meth:`train` (epochs with early stopping), :meth:`save` the child."""

    def __init__(
        self,
        base: Profile,
        samples: list[Sample],
        cfg: FinetuneConfig,
        search_dirs: list[Path],
        on_progress: Callable[[FinetuneProgress], None] | None,
        cancel: Callable[[], bool] | None,
    ) -> None:
        from model.profiles import load_model
        from model.scorer import resolve_device

        from .data import ImageStore

        self.base, self.samples, self.cfg, self.search_dirs = base, samples, cfg, search_dirs
        self.on_progress, self.cancelled = on_progress, cancel or (lambda: False)
        try:
            self.device = resolve_device(cfg.device)
        except ValueError as exc:
            raise FinetuneError(str(exc)) from None
        profile = _base_for_training(base, cfg)
        try:
            module = load_model(profile, search_dirs=list(search_dirs), device=self.device)
        except RuntimeError as exc:  # e.g. position embeddings that cannot take another input size
            raise FinetuneError(f"cannot build {base.name} with these settings: {exc}") from None
        module.set_bn_adapt(False)
        module.eval()
        self.module: LoDa = module
        self.test_crops = cfg.test_crops or module.config.test_crops
        self.store = ImageStore(samples, module.config.short_side, cache=True)
        self.store.prefill(range(len(samples)), workers=2)
        self.history: list[dict[str, Any]] = []

    def report(
        self,
        phase: str,
        epoch: int,
        step: int,
        loss: float | None = None,
        srcc: float | None = None,
        eta: float | None = None,
    ) -> None:
        """Tell ``on_progress`` where the fine-tune is (``total`` steps in all)."""
        if self.on_progress is not None:
            self.on_progress(FinetuneProgress(phase, epoch, self.cfg.epochs, step, self.total, loss, srcc, eta))

    def check(self) -> None:
        """Raise :class:`FinetuneCancelled` when the user cancelled."""
        if self.cancelled():
            raise FinetuneCancelled("fine-tuning cancelled")

    def split(self, capture_times: Mapping[Path, float] | None) -> None:
        """The held-out split, by scene: near-identical frames on both sides would measure memory, not taste."""
        cfg = self.cfg
        self.scenes: SceneSplit = split_by_scene(self.module, self.store, self.samples, capture_times, cfg)
        self.train_idx, self.test_idx = self.scenes.train_idx, self.scenes.test_idx
        self.targets = np.asarray([self.samples[i].score for i in self.test_idx])

    def prepare(self) -> None:
        """The training crops and steps, then the frozen parts' outputs, once: the held-out crops (every
        evaluation) and a bank of training crops."""
        import torch

        from .data import TrainCrops, epoch_plan

        cfg = self.cfg
        size = self.module.config.img_size
        self.data = TrainCrops(self.store, self.train_idx, crops=cfg.train_crops, size=size, seed=cfg.seed)
        try:
            plan0 = epoch_plan(len(self.data), batch=cfg.batch, micro_batch=None, seed=cfg.seed, epoch=1)
        except ValueError as exc:
            raise FinetuneError(str(exc)) from None
        self.total = cfg.epochs * len(plan0.steps)
        self.report("evaluating", 0, 0)
        self.caches = build_caches(
            self.module, self.store, self.train_idx, self.test_idx, cfg, self.test_crops, self.check
        )
        scores = [self.samples[i].score for i in self.train_idx]
        self.train_scores = torch.tensor(scores, dtype=torch.float32, device=self.device)

    def predict(self, indices: Sequence[int]) -> np.ndarray:
        """The network's raw outputs for the photos ``indices`` through the whole network (the mean over the test
        crops), as the app scores them."""
        from .data import predict

        cfg = self.cfg
        return predict(
            self.module, self.store, indices, crops=self.test_crops, batch_size=cfg.eval_batch, device=str(self.device)
        )

    def held_out_srcc(self) -> float:
        """The SRCC of the held-out photos' scores (from the cache when it holds them; 0 when undefined)."""
        from .metrics import srcc

        if self.caches.test is not None:
            raw = self.caches.test.image_means(self.module, self.test_crops, self.cfg.eval_batch)
        else:
            raw = self.predict(self.test_idx)
        value = srcc(raw, self.targets)
        return float(value) if math.isfinite(value) else 0.0

    def bank_batches(self, plan: Any, epoch: int) -> list[tuple[Any, Any]]:
        """The epoch's items as (bank rows, scores): item j is crop slot j % train_crops of training photo
        j // train_crops (as in TrainCrops); epoch e takes the photo's bank crops (e - 1) * train_crops ... on,
        cyclically, so every bank crop is used as often as the others."""
        import torch

        crops, bank, device = self.cfg.train_crops, self.caches.bank_size, self.device
        out = []
        for items in plan.micro_batches:
            photo = torch.tensor(items, dtype=torch.long) // crops
            slot = (torch.tensor(items, dtype=torch.long) % crops + (epoch - 1) * crops) % bank
            out.append(((photo * bank + slot).to(device), self.train_scores[photo.to(device)]))
        return out

    def train(self) -> None:
        """Epochs until the held-out SRCC has not improved for ``patience`` of them; keeps the best epoch's
        weights."""
        import torch

        cfg = self.cfg
        self.srcc_before = self.held_out_srcc()
        self.history = [{"epoch": 0, "train_loss": None, "srcc": self.srcc_before}]
        self.report("epoch", 0, 0, srcc=self.srcc_before)
        params = self.module.trainable_parameters()
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=False)
        bank = self.caches.bank  # a step on bank rows runs from the cached frozen outputs
        forward = None if bank is None else bank.forward
        self.stepper = Stepper(self.module, self.module, self.device, cfg.amp, self.scaler, Dist(), forward=forward)
        trainable = {n for n, p in self.module.named_parameters() if p.requires_grad}
        best_state, self.best_srcc, self.best_epoch = None, -math.inf, 0
        self.step, stale, self.epochs_run = 0, 0, 0
        self.train_started, self.eval_seconds = time.perf_counter(), 0.0
        for epoch in range(1, cfg.epochs + 1):
            losses = self.train_epoch(epoch)
            self.check()
            value = self.evaluate(epoch, losses)
            if value > self.best_srcc:
                best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items() if k in trainable}
                self.best_srcc, self.best_epoch, stale = value, epoch, 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        if best_state is not None:
            self.module.load_state_dict(best_state, strict=False)
        self.check()

    def train_epoch(self, epoch: int) -> list[float]:
        """The steps of ``epoch`` on bank crops (or fresh crops without a bank); returns their losses."""
        import torch

        from .data import epoch_plan, make_loader

        cfg = self.cfg
        torch.manual_seed(derive_seed(cfg.seed, 2, epoch))
        plan = epoch_plan(len(self.data), batch=cfg.batch, micro_batch=None, seed=cfg.seed, epoch=epoch)
        self.data.set_epoch(epoch)
        self.module.train()
        losses: list[float] = []
        cached = self.caches.bank is not None
        batches = self.bank_batches(plan, epoch) if cached else make_loader(self.data, plan.micro_batches)
        for batch in batches:
            self.check()
            compute = partial(self.stepper, [batch])
            losses.append(take_step(self.optimizer, self.scaler, cosine_lr(cfg.lr, self.step, self.total), compute))
            self.step += 1
            per_step = (time.perf_counter() - self.train_started - self.eval_seconds) / self.step
            evals_left = self.eval_seconds / max(1, epoch - 1) * (cfg.epochs - epoch + 1)
            self.report(
                "training",
                epoch,
                self.step,
                losses[-1],
                best_or(self.history),
                per_step * (self.total - self.step) + evals_left,
            )
        return losses

    def evaluate(self, epoch: int, losses: list[float]) -> float:
        """The held-out SRCC after ``epoch``, recorded in the history."""
        eval_start = time.perf_counter()
        self.report("evaluating", epoch, self.step, losses[-1] if losses else None)
        value = self.held_out_srcc()
        self.eval_seconds += time.perf_counter() - eval_start
        self.epochs_run = epoch
        self.history.append({"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else None, "srcc": value})
        self.report("epoch", epoch, self.step, self.history[-1]["train_loss"], value)
        return value

    def save(self, out_path: Path, name: str, extra_trained_on: dict[str, Any] | None) -> None:
        """The child profile, with a calibration fitted on training images."""
        from model.profiles import child_kind, save_model, tensor_digest

        from .outputs import calibrate

        cfg, base, scenes = self.cfg, self.base, self.scenes
        self.report("saving", self.epochs_run, self.step, srcc=self.best_srcc, eta=0.0)
        calibration = calibrate(self.predict, self.samples, self.train_idx, seed=cfg.seed, n_images=cfg.calib_images)
        n, n_train, n_test = len(self.samples), len(self.train_idx), len(self.test_idx)
        self.counts = rating_counts(self.samples)
        trained_on = {
            "dataset": "ratings",
            "summary": f"{n} of the photographer's ratings ({n_train} trained on, {n_test} held out: "
            f"{scenes.n_test_scenes} of {scenes.n_scenes} scenes), fine-tuned from {base.name}",
            "ratings": self.counts,
            "n_train": n_train,
            "n_test": n_test,
            "split": "scene",
            "n_scenes": scenes.n_scenes,
            "n_test_scenes": scenes.n_test_scenes,
            "capture_times": scenes.n_capture_times,
            "base": base.key,
            "base_name": base.name,
            "base_path": str(base.path) if base.path else None,
            "epochs": self.epochs_run,
            "best_epoch": self.best_epoch,
            **(extra_trained_on or {}),
        }
        metrics = {
            "srcc_before": self.srcc_before,
            "srcc_after": self.best_srcc,
            "srcc": self.best_srcc,
            "split": "scene",
            "n_test": n_test,
            "n_test_scenes": scenes.n_test_scenes,
            "n_scenes": scenes.n_scenes,
        }
        save_model(
            self.module.cpu(),
            out_path,
            name=name,
            kind=child_kind(base, self.search_dirs),
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

    def result(self, out_path: Path, name: str, started: float) -> FinetuneResult:
        return FinetuneResult(
            path=out_path,
            name=name,
            parent=self.base.key,
            srcc_before=self.srcc_before,
            srcc_after=self.best_srcc,
            best_epoch=self.best_epoch,
            epochs_run=self.epochs_run,
            counts=self.counts,
            n_train=len(self.train_idx),
            n_test=len(self.test_idx),
            history=self.history,
            seconds=round(time.perf_counter() - started, 3),
            n_scenes=self.scenes.n_scenes,
            n_test_scenes=self.scenes.n_test_scenes,
            split="scene",
        )


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
    started = time.perf_counter()
    run = _Session(base, samples, cfg, list(search_dirs), on_progress, cancel)
    run.split(capture_times)
    run.prepare()
    run.train()
    run.save(out_path, name, extra_trained_on)
    return run.result(out_path, name, started)


def best_or(history: Sequence[dict[str, Any]]) -> float | None:
    """The last evaluated held-out SRCC (for the live plot while training)."""
    return history[-1]["srcc"] if history else None
