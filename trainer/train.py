"""The paper's training and evaluation protocol (Xu et al., CVPR 2024, Sec. IV-A), as a library.

One call reproduces a Table I cell (:func:`run_protocol`); one repeat is :func:`train_one`. Fine-tuning on a
photographer's ratings (:mod:`trainer.finetune`) runs its own loop but shares this one's step and schedule
(:mod:`trainer.step`), its processes, device and seeds (:mod:`trainer.runtime`) and its calibration
(:mod:`trainer.outputs`).

Protocol (every default is the paper's):

- split: 80/20 at random by seed (:func:`trainer.splits.train_test_split`), grouped by reference image for the
  synthetic datasets so no content is both trained on and tested; repeat ``k`` (1-based) uses seed
  ``seed + k - 1`` for its split and its training; a split file (``cfg.splits``) replaces the random splits;
- training: ``train_crops`` random 224×224 crops per image and epoch (3 KonIQ-10k, 1 FLIVE, 5 LIVEC; the others in
  :data:`trainer.presets.TRAIN_CROPS`; the ``official`` preset gives TID2013 10), random flips, each crop
  inheriting its image's score; PLCC-induced loss (Eq. 5, :mod:`trainer.losses`); AdamW, lr 3e-4, weight decay
  0.01 on the trainable parameters only; batch 128; cosine annealing per iteration from lr to 0 over all
  iterations, no warm-up; 10 epochs; an epoch drops its incomplete last batch (an epoch smaller than one batch is
  one batch);
- evaluation: the mean of 15 deterministic crops per test image, scored by the app's own scorer
  (:class:`model.scorer.TorchScorer`); SRCC, PLCC after the VQEG logistic fit, KRCC, RMSE (:mod:`trainer.metrics`)
  after every ``eval_every`` epochs and always after the last, which is the reported number (``eval_every=0``:
  never, for a run scored afterwards); medians over the repeats;
- cross-dataset (Table II): each repeat's final model also scores every image of the other dataset(s).

Gradient accumulation (``micro_batch`` < ``batch``) and several processes give the gradient of the whole batch's
PLCC loss, not an average of per-part losses: see :mod:`trainer.losses` for how, and the one exception (BatchNorm
statistics when the CNN's BatchNorm adapts).

Outputs of a repeat in ``out_dir`` (rank 0 only writes): ``metrics.csv`` and ``metrics.json`` (one record per
epoch), ``epoch_E.safetensors`` (a model profile per epoch, or only the last with ``profiles="last"``, with that
epoch's metrics, what it was trained on and a linear score calibration fitted on training images in its metadata),
``state.json`` + ``state_eE.safetensors`` (everything needed to resume: trainable tensors and BatchNorm buffers,
AdamW moments, step, grad-scaler state, history; no pickle anywhere) and ``result.json`` when it has finished.

Determinism: the split, the crops (seeded per item, see :mod:`trainer.data`), the batch order and the torch RNG
(re-seeded at every epoch from the seed) all derive from the seed, so two runs on the CPU give identical numbers
and a resumed run ends exactly where an uninterrupted one does. On CUDA, ``deterministic=True`` also asks PyTorch
for deterministic kernels.

Several GPUs: launched by ``torchrun`` (``WORLD_SIZE`` > 1), each process takes its share of every batch
(DistributedDataParallel); the loss is still the whole batch's PLCC. Rank 0 evaluates and writes.

The pieces: the settings and results (:mod:`trainer.train_config`), the network a config names
(:mod:`trainer.networks`), the step (:mod:`trainer.step`), the resume state (:mod:`trainer.state`), the other
files a repeat writes (:mod:`trainer.outputs`); here, the stages of a repeat (:class:`_Repeat`) and the repeats.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import EpochPlan, ImageStore, TrainCrops, TrainError, epoch_plan, estimate_cache_bytes, make_loader, predict
from .datasets import Sample
from .metrics import evaluate, median_over_repeats
from .networks import build_model, init_from
from .outputs import (
    PREDICTIONS_NAME,
    calibrate,
    fit_calibration,
    last_calibration,
    save_profile,
    write_metrics,
    write_predictions,
)
from .presets import TRAIN_CROPS, train_crops_for_size
from .runtime import amp_dtype, barrier, configure_kernels, derive_seed, init_distributed, resolve_train_device
from .splits import read_split_file, repeat_seeds, train_test_split
from .state import indices_hash, load_state, save_state, write_json
from .step import Stepper, cosine_lr, faint_copies, take_step
from .train_config import METRIC_KEYS, MIN_IMAGES, ProtocolResult, TrainConfig, TrainResult, check_size

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "METRIC_KEYS",
    "MIN_IMAGES",
    "PREDICTIONS_NAME",
    "ProtocolResult",
    "TrainConfig",
    "TrainError",
    "TrainResult",
    "amp_dtype",
    "build_model",
    "check_size",
    "faint_copies",
    "fit_calibration",
    "init_distributed",
    "init_from",
    "run_protocol",
    "train_one",
]

log = logging.getLogger("trainer")

CACHE_AUTO_BYTES = 4 << 30


def _clean_error(exc: BaseException) -> str:
    """A DataLoader worker's re-raised error carries the worker's traceback; keep its last line."""
    text = str(exc).strip()
    if text.startswith("Caught "):
        last = text.splitlines()[-1]
        return last.split(": ", 1)[1] if ": " in last else last
    return text


def _train_crops(cfg: TrainConfig, dataset: str, n_images: int) -> int:
    if cfg.train_crops is not None:
        return cfg.train_crops
    return TRAIN_CROPS.get(dataset, train_crops_for_size(n_images))


def _use_cache(cfg: TrainConfig, n_images: int, short_side: int) -> bool:
    if cfg.cache == "auto":
        return estimate_cache_bytes(n_images, short_side) <= CACHE_AUTO_BYTES
    return cfg.cache == "on"


def _metrics_of(prefix: str, values: Mapping[str, float]) -> dict[str, float]:
    return {f"{prefix}{k}": float(values[k]) for k in METRIC_KEYS}


def _progress(total: int, desc: str, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not show, leave=False, dynamic_ncols=True)


# ------------------------------------------------------------------------------------------ train_one


class _Repeat:
    """One repeat of :func:`train_one`, stage by stage: where it runs (the constructor), :meth:`build` (the data,
    the network, its optimiser), :meth:`resume`, :meth:`start`, per epoch :meth:`train_epoch` and
    :meth:`end_epoch`, and :meth:`finish`."""

    def __init__(self, cfg: TrainConfig, out_dir: Path, *, seed: int, repeat: int, dataset: str) -> None:
        self.cfg, self.out_dir, self.seed, self.repeat, self.dataset = cfg, out_dir, seed, repeat, dataset
        self.d = init_distributed(cfg.device)
        self.device = resolve_train_device(cfg.device, self.d)
        # on by default with CUDA; on a CPU only when asked (bfloat16 paid off here on a CPU with AVX-512 BF16)
        self.amp = bool(cfg.amp if cfg.amp is not None else self.device.type == "cuda")
        if self.d.main:
            out_dir.mkdir(parents=True, exist_ok=True)
        self.result_file = out_dir / "result.json"
        self.show = cfg.progress and self.d.main
        self.step, self.history, self.started = 0, [], 0.0
        self.calibration, self.profile_path = (1.0, 0.0), None

    def build(
        self,
        samples: Sequence[Sample],
        train_idx: Sequence[int],
        test_idx: Sequence[int],
        cross: Mapping[str, Sequence[Sample] | ImageStore] | None,
        store: ImageStore | None,
    ) -> None:
        """The images (decoded and cached), the network (seeded), its optimiser and the settings' fingerprint."""
        import torch

        cfg, dataset, device = self.cfg, self.dataset, self.device
        self.samples, self.cross = samples, cross or {}
        self.train_idx, self.test_idx = list(train_idx), list(test_idx)
        if len(self.train_idx) < 2 or len(self.test_idx) < 2:
            raise TrainError(
                f"{dataset}: {len(self.train_idx)} training and {len(self.test_idx)} test image(s); each side needs"
                " at least 2"
            )
        self.draws = [i for i in self.train_idx for _ in range(max(1, samples[i].weight))]  # weight w: drawn w times
        self.config = config = cfg.loda_config()
        self.crops = _train_crops(cfg, dataset, len(samples))
        self.test_crops = cfg.test_crops or config.test_crops
        if store is None:
            store = ImageStore(samples, config.short_side, cache=_use_cache(cfg, len(samples), config.short_side))
        self.store = store
        self.fingerprint = {
            **cfg.fingerprint(),
            "seed": self.seed,
            "dataset": dataset,
            "train": indices_hash(self.draws, samples),
            "test": indices_hash(self.test_idx, samples),
            "cross": sorted(self.cross),
        }
        torch.manual_seed(derive_seed(self.seed, 1))
        self.module = build_model(cfg).to(device)
        if cfg.init:
            init_from(self.module, cfg)
        params = self.module.trainable_parameters()  # type: ignore[operator]
        self.n_trainable = sum(p.numel() for p in params)
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp and amp_dtype(device) == torch.float16)
        # decode (and cache) only once the network exists: a missing backbone file fails before minutes of decoding
        store.prefill([*self.train_idx, *self.test_idx], workers=max(2, cfg.workers), progress=self.show)

    def resume(self, resume: bool) -> tuple[int, float]:
        """With ``resume``, load an interrupted run's state; without, refuse to overwrite a run. Returns the last
        finished epoch and the seconds spent before it (0 and 0 for a fresh start)."""
        state_file = self.out_dir / "state.json"
        if resume and state_file.is_file():
            epoch, self.step, self.history, elapsed = load_state(
                self.out_dir, self.module, self.optimizer, self.scaler, self.fingerprint
            )
            log.info("resuming repeat %d after epoch %d of %d", self.repeat, epoch, self.cfg.epochs)
            return epoch, elapsed
        if not resume and self.d.main and (state_file.exists() or self.result_file.exists()):
            raise TrainError(
                f"{self.out_dir} already holds a run; pass --resume to continue it, or choose another --out"
            )
        return 0, 0.0

    def start(self) -> None:
        """Wrap the network for several processes, lay out the crops, the steps and the other datasets."""
        cfg, d, device, config = self.cfg, self.d, self.device, self.config
        self.net: nn.Module = self.module
        if d.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [device.index] if device.type == "cuda" else None
            self.net = DistributedDataParallel(self.module, device_ids=device_ids)
        size, groups = config.img_size, cfg.rank_weight > 0
        self.data = TrainCrops(self.store, self.draws, crops=self.crops, size=size, seed=self.seed, with_groups=groups)
        try:
            plan0 = self.plan(1)
        except ValueError as exc:
            raise TrainError(str(exc)) from None
        self.total_steps = cfg.epochs * len(plan0.steps)
        weights = {"rank_weight": cfg.rank_weight, "pair_weight": cfg.pair_weight}
        self.stepper = Stepper(self.net, self.module, device, self.amp, self.scaler, d, **weights)
        self.cross_stores = {
            name: (c if isinstance(c, ImageStore) else ImageStore(c, config.short_side, cache=False))
            for name, c in self.cross.items()
        }
        self.targets = np.asarray([self.samples[i].score for i in self.test_idx])
        log.info(
            "repeat %d: %s (%s) with %s trainable parameters; %d train (%d draws) / %d test images, %d crops each, "
            "batch %d (%d per process, micro-batches of %d), %d steps per epoch, %s%s",
            self.repeat,
            config.name,
            cfg.method,
            f"{self.n_trainable:,}",
            len(self.train_idx),
            len(self.draws),
            len(self.test_idx),
            self.crops,
            plan0.batch,
            plan0.share,
            len(plan0.steps[0][0]) if plan0.steps else 0,
            len(plan0.steps),
            str(device),
            " AMP" if self.amp else "",
        )

    def plan(self, epoch: int, rank: int = 0) -> EpochPlan:
        """The order and the steps of ``epoch`` (:func:`trainer.data.epoch_plan`); ``rank``: this process's share."""
        cfg, n, world = self.cfg, len(self.data), self.d.world
        return epoch_plan(
            n, batch=cfg.batch, micro_batch=cfg.micro_batch, seed=self.seed, epoch=epoch, world=world, rank=rank
        )

    def predict(self, st: ImageStore, indices: Sequence[int], desc: str) -> np.ndarray:
        """The network's raw outputs for ``st``'s images ``indices`` (the mean over the test crops)."""
        cfg = self.cfg
        return predict(
            self.module,
            st,
            indices,
            crops=self.test_crops,
            batch_size=cfg.eval_batch,
            device=str(self.device),
            amp=self.amp,
            decode_workers=max(2, cfg.workers),
            progress=self.show,
            desc=desc,
        )

    def evaluate_on(
        self, indices: Sequence[int], st: ImageStore, labels: np.ndarray, desc: str, keep: Path | None = None
    ) -> dict[str, float]:
        """The metrics of ``st``'s images ``indices`` against ``labels``; ``keep``: also write the predictions."""
        raw = self.predict(st, indices, desc)
        if keep is not None:  # the held-out predictions, for analyses beyond the summary metrics
            write_predictions(keep, [st.samples[i] for i in indices], raw)
        return evaluate(raw, labels)

    def evaluate_init(self) -> None:
        """Epoch 0: the metrics of the network before any training (``eval_init``)."""
        record: dict[str, Any] = {"epoch": 0, "step": 0, "train_loss": None, "lr": self.cfg.lr}
        if self.d.main:
            metrics = self.evaluate_on(self.test_idx, self.store, self.targets, "evaluating (init)")
            record.update(_metrics_of("", metrics))
            self.history.append(record)
            write_metrics(self.out_dir, self.history)
        barrier(self.d)

    def train_epoch(self, epoch: int) -> list[float]:
        """The steps of ``epoch`` (the torch RNG re-seeded from the seed and the epoch); returns their losses."""
        import torch

        cfg = self.cfg
        torch.manual_seed(derive_seed(self.seed, 2, epoch))
        plan = self.plan(epoch, rank=self.d.rank)
        self.data.set_epoch(epoch)
        loader = make_loader(self.data, plan.micro_batches, workers=cfg.workers, pin_memory=self.device.type == "cuda")
        self.net.train()
        losses: list[float] = []
        bar = _progress(len(plan.steps), f"repeat {self.repeat} epoch {epoch}/{cfg.epochs}", self.show)
        pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        try:
            for batch in loader:
                pending.append(batch)
                if len(pending) < plan.micro_per_step:
                    continue
                lr = cosine_lr(cfg.lr, self.step, self.total_steps)
                compute = partial(self.stepper, pending, seed=derive_seed(self.seed, 3, self.step))
                losses.append(take_step(self.optimizer, self.scaler, lr, compute))
                pending = []
                self.step += 1
                bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{lr:.2e}", refresh=False)
                bar.update(1)
        except TrainError as exc:
            raise TrainError(_clean_error(exc)) from None
        finally:
            bar.close()
        return losses

    def end_epoch(self, epoch: int, losses: list[float], epoch_start: float) -> dict[str, Any]:
        """The epoch's record; rank 0 evaluates (every ``eval_every`` epochs and after the last), scores the other
        datasets after the last, writes the profile, the metrics and the resume state."""
        cfg = self.cfg
        last = epoch == cfg.epochs
        record: dict[str, Any] = {
            "epoch": epoch,
            "step": self.step,
            "train_loss": float(np.mean(losses)) if losses else None,
            "lr": cosine_lr(cfg.lr, self.step, self.total_steps),
        }
        if self.d.main:
            if cfg.eval_every and (last or epoch % cfg.eval_every == 0):
                keep = self.out_dir / PREDICTIONS_NAME if last else None
                metrics = self.evaluate_on(self.test_idx, self.store, self.targets, f"evaluating epoch {epoch}", keep)
                record.update(_metrics_of("", metrics))
            if last:
                self._score_cross(record)
            if last or cfg.profiles == "all":
                self._save_profile(record)
            record["seconds"] = round(time.perf_counter() - epoch_start, 3)
            self.history.append(record)
            write_metrics(self.out_dir, self.history)
            save_state(
                self.out_dir,
                self.module,
                self.optimizer,
                self.scaler,
                epoch,
                self.step,
                self.history,
                self.fingerprint,
                self.started,
            )
        barrier(self.d)
        return record

    def _score_cross(self, record: dict[str, Any]) -> None:
        """Cross-dataset evaluation (Table II): the network scores every image of each other dataset."""
        for name, st in self.cross_stores.items():
            all_idx = list(range(len(st.samples)))
            st.prefill(all_idx, workers=max(2, self.cfg.workers), progress=self.show)
            labels = np.asarray([s.score for s in st.samples])
            record.update(_metrics_of(f"{name}_", self.evaluate_on(all_idx, st, labels, f"scoring {name}")))

    def _save_profile(self, record: dict[str, Any]) -> None:
        """The epoch's profile, with a calibration fitted on training images."""
        cfg = self.cfg
        score = partial(self.predict, self.store, desc="calibrating")
        self.calibration = calibrate(score, self.samples, self.train_idx, seed=self.seed, n_images=cfg.calib_images)
        path = self.out_dir / f"epoch_{record['epoch']}.safetensors"
        save_profile(
            self.module,
            path,
            cfg,
            record,
            self.calibration,
            self.dataset,
            self.repeat,
            self.seed,
            self.train_idx,
            self.test_idx,
        )
        record["profile"] = path.name
        self.profile_path = str(path)

    def finish(self) -> TrainResult:
        """The repeat's result (its last record's metrics), written to ``result.json`` by rank 0; the other
        processes read it back."""
        if not self.d.main:
            barrier(self.d)
            return TrainResult.from_dict(json.loads(self.result_file.read_text()))
        final = self.history[-1]
        metrics = {k: float(v) for k, v in final.items() if k.endswith(METRIC_KEYS) and isinstance(v, int | float)}
        profile = self.profile_path or (str(self.out_dir / final["profile"]) if final.get("profile") else None)
        result = TrainResult(
            repeat=self.repeat,
            seed=self.seed,
            metrics=metrics,
            history=self.history,
            calibration=self.calibration if self.profile_path else last_calibration(self.out_dir, final),
            profile=profile,
            n_train=len(self.train_idx),
            n_test=len(self.test_idx),
            trainable=self.n_trainable,
            seconds=round(time.perf_counter() - self.started, 3),
        )
        write_json(self.result_file, result.to_dict())
        barrier(self.d)
        return result


def train_one(
    samples: Sequence[Sample],
    train_idx: Sequence[int],
    test_idx: Sequence[int],
    cfg: TrainConfig,
    out_dir: Path | str,
    *,
    seed: int | None = None,
    repeat: int = 1,
    dataset: str = "csv",
    cross: Mapping[str, Sequence[Sample] | ImageStore] | None = None,
    resume: bool = False,
    store: ImageStore | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train one network on ``samples[train_idx]`` and evaluate it on ``samples[test_idx]``.

    ``seed`` (default ``cfg.seed``) drives the initialisation, the crops, the batch order and dropout.
    ``cross`` maps a name to another dataset scored in full after the last epoch (metrics ``<name>_srcc`` ...).
    With ``resume`` a finished repeat in ``out_dir`` is returned as it is, and an interrupted one continues after
    its last finished epoch (its settings must match). ``store`` shares decoded images between repeats.
    ``on_epoch_end(record)`` is called on rank 0 after each epoch's files are written.
    """
    cfg.validate()
    cfg = cfg.for_dataset(dataset)
    seed = cfg.seed if seed is None else int(seed)
    run = _Repeat(cfg, Path(out_dir), seed=seed, repeat=repeat, dataset=dataset)
    if resume and run.result_file.is_file():
        return TrainResult.from_dict(json.loads(run.result_file.read_text()))
    configure_kernels(cfg.deterministic, run.device)
    run.build(samples, train_idx, test_idx, cross, store)
    start_epoch, elapsed = run.resume(resume)
    run.start()
    if cfg.eval_init and start_epoch == 0 and not run.history:
        run.evaluate_init()
    run.started = time.perf_counter() - elapsed
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        epoch_start = time.perf_counter()
        losses = run.train_epoch(epoch)
        record = run.end_epoch(epoch, losses, epoch_start)
        if run.d.main and on_epoch_end is not None:
            on_epoch_end(record)
    return run.finish()


# --------------------------------------------------------------------------------------- run_protocol


def run_protocol(
    samples: Sequence[Sample],
    cfg: TrainConfig,
    out_dir: Path | str,
    *,
    dataset: str = "csv",
    cross: Mapping[str, Sequence[Sample]] | None = None,
    resume: bool = False,
    on_repeat_end: Callable[[TrainResult], None] | None = None,
) -> ProtocolResult:
    """``cfg.repeats`` random 80/20 splits (seeds ``cfg.seed``, ``cfg.seed + 1``, ...), one :func:`train_one` each,
    and the medians of the final metrics, written to ``out_dir/summary.json`` (updated after every repeat).

    ``cross`` adds cross-dataset evaluation (Table II): each repeat's final model scores all of each named
    dataset. With ``resume``, finished repeats are read back and an interrupted one continues.
    """
    cfg.validate()
    cfg = cfg.for_dataset(dataset)  # the preset's per-dataset choices, recorded in config.json
    samples = list(samples)
    check_size(samples, dataset)
    d = init_distributed(cfg.device)
    out_dir = Path(out_dir)
    summary_file = out_dir / "summary.json"
    if not resume and (summary_file.exists() or any(out_dir.glob("repeat_*/state.json"))):
        raise TrainError(f"{out_dir} already holds a run; pass --resume to continue it, or choose another --out")
    config = cfg.loda_config()
    started = time.perf_counter()
    if d.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(
            out_dir / "config.json",
            {"dataset": dataset, "images": len(samples), "cross": sorted(cross or {}), "train": cfg.to_dict()},
        )
    store = ImageStore(samples, config.short_side, cache=_use_cache(cfg, len(samples), config.short_side))
    cross_stores = {
        name: ImageStore(list(c), config.short_side, cache=_use_cache(cfg, len(c), config.short_side))
        for name, c in (cross or {}).items()
    }
    fixed = _fixed_splits(cfg, samples, dataset)
    results: list[TrainResult] = []
    for k, seed in enumerate(repeat_seeds(cfg.repeats, cfg.seed), start=1):
        try:
            train_idx, test_idx = fixed[k - 1] if fixed else train_test_split(samples, cfg.train_fraction, seed)
        except ValueError as exc:
            raise TrainError(f"{dataset}: {exc}") from None
        result = train_one(
            samples,
            train_idx,
            test_idx,
            cfg,
            out_dir / f"repeat_{k}",
            seed=seed,
            repeat=k,
            dataset=dataset,
            cross=cross_stores,
            resume=resume,
            store=store,
        )
        results.append(result)
        summary = _summary(results, cfg, dataset, len(samples), time.perf_counter() - started)
        if d.main:
            write_json(summary_file, summary)
        if on_repeat_end is not None:
            on_repeat_end(result)
    return ProtocolResult(results=results, median=summary["median"], out_dir=out_dir, summary=summary)


def _fixed_splits(cfg: TrainConfig, samples: Sequence[Sample], dataset: str) -> list[tuple[list[int], list[int]]]:
    """The split file's splits (``--splits``), one per repeat, or none: the random splits then apply."""
    if not cfg.splits:
        return []
    try:
        meta = Path(cfg.split_meta).expanduser() if cfg.split_meta else None
        fixed = read_split_file(Path(cfg.splits).expanduser(), samples, meta)
    except ValueError as exc:
        raise TrainError(f"{dataset}: --splits: {exc}") from None
    if len(fixed) < cfg.repeats:
        raise TrainError(f"{dataset}: --splits {cfg.splits} holds {len(fixed)} split(s) for {cfg.repeats} repeat(s)")
    return fixed


def _summary(
    results: Sequence[TrainResult], cfg: TrainConfig, dataset: str, n_images: int, seconds: float
) -> dict[str, Any]:
    median = median_over_repeats([r.metrics for r in results])
    return {
        "dataset": dataset,
        "model": cfg.model,
        "method": cfg.method,
        "images": n_images,
        "repeats_done": len(results),
        "repeats_planned": cfg.repeats,
        "median": median,
        "mean_seconds_per_repeat": statistics.fmean(r.seconds for r in results),
        "seconds_this_session": round(seconds, 3),
        "repeats": [
            {"repeat": r.repeat, "seed": r.seed, "profile": r.profile, "trainable": r.trainable, **r.metrics}
            for r in results
        ],
        "config": cfg.to_dict(),
    }
