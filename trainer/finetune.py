"""Fine-tuning LoDa's adapter on a photographer's own ratings (issue 7), as a library: the CLI and the window share it.

    ratings (stars 1..5, picks, rejects) ──samples_from_ratings──> samples (score = (stars - 1) / 4 in [0, 1])
        ──check_minimums──> stratified held-out split ──finetune──> child profile (parent = the base's key)

- Ratings come as :class:`Rated` records (path, stars 0..5, flag). A photo with stars uses them; an unrated photo
  with a flag uses :class:`RatingMap` (pick → 5, reject → 1 by default; ``None`` ignores that flag); the rest is
  skipped. Where the ratings come from (the catalog, a ``path,rating`` CSV) is the caller's business:
  :func:`read_ratings_csv` reads the CSV; the app reads its catalog (``loda_desktop.ratings``).
- Minimums (:data:`MIN_RATED` photos, :data:`MIN_DISTINCT` different values): :func:`check_minimums` raises
  :class:`FinetuneError` with the exact sentence the window shows.
- Training starts from the base profile's weights (:func:`model.profiles.load_model`); only the adapter trains
  (``trainable_parameters``), the frozen CNN's BatchNorm stays in eval mode (``set_bn_adapt(False)``: steadier on
  small data). The step is the trainer's own (:class:`trainer.train._Stepper`: PLCC loss, AdamW, cosine schedule;
  crops from :class:`trainer.data.TrainCrops`). Small-data defaults: a quarter of the ratings held out (stratified
  by rating), at most 8 epochs, early stopping when the held-out SRCC has not improved for ``patience`` epochs;
  the best epoch's weights are kept. Note that the held-out set both stops training and reports ``srcc_after``,
  so ``srcc_after`` is slightly optimistic; ``srcc_before`` is the base's SRCC on the same images.
- The result is a profile whose metadata records ``parent`` (the base's key), ``trained_on`` (rating counts, split
  sizes) and ``metrics`` (``srcc_before``, ``srcc_after``, ...), with a calibration fitted on training images.
- ``on_progress(FinetuneProgress)`` is called after every step and evaluation; ``cancel()`` returning True stops
  at the next step with :class:`FinetuneCancelled` and writes nothing.

No Qt here; torch is imported when training starts.
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import TrainError
from .datasets import Sample

if TYPE_CHECKING:
    from model.profiles import Profile

__all__ = [
    "MIN_DISTINCT",
    "MIN_RATED",
    "FinetuneCancelled",
    "FinetuneConfig",
    "FinetuneError",
    "FinetuneProgress",
    "FinetuneResult",
    "Rated",
    "RatingMap",
    "check_minimums",
    "finetune",
    "read_ratings_csv",
    "samples_from_ratings",
    "stratified_split",
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


def stratified_split(samples: Sequence[Sample], held_out: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) indices: about ``held_out`` of each star value held out (at least 1 of a value that has 2
    or more), so the held-out ratings span the user's scale."""
    rng = np.random.default_rng((int(seed), 0xF1))
    by_value: dict[int, list[int]] = {}
    for i, s in enumerate(samples):
        by_value.setdefault(stars_of(s), []).append(i)
    train: list[int] = []
    test: list[int] = []
    for value in sorted(by_value):
        members = rng.permutation(by_value[value]).tolist()
        k = 0 if len(members) < 2 else min(len(members) - 1, max(1, round(held_out * len(members))))
        test += members[:k]
        train += members[k:]
    return sorted(train), sorted(test)


@dataclass
class FinetuneConfig:
    """Small-data defaults. ``img_size`` / ``short_side`` override the base's input size (for a bare config only
    when the backbones allow it; tests use them to make the tiny config fast)."""

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

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.patience >= 1, f"patience must be at least 1, got {self.patience}"),
            (self.batch >= 2, f"the batch must hold at least 2 crops, got {self.batch}"),
            (self.lr > 0 and math.isfinite(self.lr), f"the learning rate must be positive, got {self.lr}"),
            (self.train_crops >= 1, f"train crops must be at least 1, got {self.train_crops}"),
            (self.test_crops is None or self.test_crops >= 1, f"test crops must be ≥ 1, got {self.test_crops}"),
            (0.0 < self.held_out < 1.0, f"the held-out fraction must be in (0, 1), got {self.held_out}"),
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
) -> FinetuneResult:
    """Fine-tune ``base`` on ``samples`` and write the child profile to ``out_path`` (see the module docstring)."""
    import torch

    from model.profiles import load_model, save_model
    from model.scorer import resolve_device

    from .data import ImageStore, TrainCrops, epoch_plan, make_loader, predict
    from .metrics import srcc
    from .train import _cosine_lr, _derive_seed, _Dist, _Stepper, fit_calibration

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
    cancelled = cancel or (lambda: False)

    def report(p: FinetuneProgress) -> None:
        if on_progress is not None:
            on_progress(p)

    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        raise FinetuneError(str(exc)) from None
    train_idx, test_idx = stratified_split(samples, cfg.held_out, cfg.seed)
    if len(test_idx) < 2 or len({stars_of(samples[i]) for i in test_idx}) < 2:
        raise FinetuneError("too few different ratings to hold some out for testing; rate more photos")

    profile = _base_for_training(base, cfg)
    try:
        module = load_model(profile, search_dirs=list(search_dirs), device=device)
    except RuntimeError as exc:  # e.g. position embeddings that cannot take another input size
        raise FinetuneError(f"cannot build {base.name} with these settings: {exc}") from None
    module.set_bn_adapt(False)
    config = module.config
    test_crops = cfg.test_crops or config.test_crops
    store = ImageStore(samples, config.short_side, cache=True)
    store.prefill([*train_idx, *test_idx], workers=2)
    targets = np.asarray([samples[i].score for i in test_idx])

    def held_out_srcc() -> float:
        raw = predict(module, store, test_idx, crops=test_crops, batch_size=cfg.eval_batch, device=str(device))
        value = srcc(raw, targets)
        return float(value) if math.isfinite(value) else 0.0

    data = TrainCrops(store, train_idx, crops=cfg.train_crops, size=config.img_size, seed=cfg.seed)
    try:
        plan0 = epoch_plan(len(data), batch=cfg.batch, micro_batch=None, seed=cfg.seed, epoch=1)
    except ValueError as exc:
        raise FinetuneError(str(exc)) from None
    steps_per_epoch = len(plan0.steps)
    total = cfg.epochs * steps_per_epoch
    report(FinetuneProgress("evaluating", 0, cfg.epochs, 0, total))
    srcc_before = held_out_srcc()
    history: list[dict[str, Any]] = [{"epoch": 0, "train_loss": None, "srcc": srcc_before}]
    report(FinetuneProgress("epoch", 0, cfg.epochs, 0, total, srcc=srcc_before))

    params = module.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    stepper = _Stepper(module, module, device, False, scaler, _Dist())
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
        for batch in make_loader(data, plan.micro_batches):
            if cancelled():
                raise FinetuneCancelled("fine-tuning cancelled")
            for group in optimizer.param_groups:
                group["lr"] = _cosine_lr(cfg.lr, step, total)
            optimizer.zero_grad(set_to_none=True)
            losses.append(stepper([batch]))
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
        f"held out), fine-tuned from {base.name}",
        "ratings": counts,
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "base": base.key,
        "base_name": base.name,
        "base_path": str(base.path) if base.path else None,
        "epochs": epochs_run,
        "best_epoch": best_epoch,
        **(extra_trained_on or {}),
    }
    metrics = {"srcc_before": srcc_before, "srcc_after": best_srcc, "srcc": best_srcc}
    save_model(
        module.cpu(),
        out_path,
        name=name,
        trained_on=trained_on,
        metrics=metrics,
        calibration=calibration,
        score_range=(0.0, 1.0),
        parent=base.key,
        notes="fine-tuned on the photographer's ratings; score = calibration to (stars - 1) / 4",
        extra={"finetune": {**cfg.__dict__, "parent_name": base.name}},
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
    )


def best_or(history: Sequence[dict[str, Any]]) -> float | None:
    """The last evaluated held-out SRCC (for the live plot while training)."""
    return history[-1]["srcc"] if history else None
