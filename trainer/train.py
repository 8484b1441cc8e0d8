"""The paper's training and evaluation protocol (Xu et al., CVPR 2024, Sec. IV-A), as a library.

One call reproduces a Table I cell (:func:`run_protocol`); one repeat is :func:`train_one`, which the app also uses
to fine-tune on a photographer's ratings.

Protocol (every default is the paper's):

- split: 80/20 at random by seed (:func:`trainer.splits.train_test_split`), grouped by reference image for the
  synthetic datasets so no content is both trained on and tested; repeat ``k`` (1-based) uses seed
  ``seed + k - 1`` for its split and its training;
- training: ``train_crops`` random 224×224 crops per image and epoch (3 KonIQ-10k, 1 FLIVE, 5 LIVEC; the others in
  :data:`trainer.datasets.TRAIN_CROPS`), random flips, each crop inheriting its image's score; PLCC-induced loss
  (Eq. 5, :mod:`trainer.losses`); AdamW, lr 3e-4, weight decay 0.01 on the trainable parameters only; batch 128;
  cosine annealing per iteration from lr to 0 over all iterations, no warm-up; 10 epochs; an epoch drops its
  incomplete last batch (an epoch smaller than one batch is one batch);
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
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import ImageStore, TrainCrops, TrainError, epoch_plan, estimate_cache_bytes, make_loader, predict
from .datasets import TRAIN_CROPS, Sample, train_crops_for_size
from .metrics import evaluate, median_over_repeats
from .splits import repeat_seeds, train_test_split

if TYPE_CHECKING:
    import torch
    from torch import nn

    from model.configs import LodaConfig

__all__ = [
    "METRIC_KEYS",
    "MIN_IMAGES",
    "ProtocolResult",
    "TrainConfig",
    "TrainError",
    "TrainResult",
    "build_model",
    "check_size",
    "fit_calibration",
    "init_distributed",
    "run_protocol",
    "train_one",
]

log = logging.getLogger("trainer")

METRIC_KEYS = ("srcc", "plcc", "krcc", "rmse")
MIN_IMAGES = 10
CACHE_AUTO_BYTES = 4 << 30
METHODS = ("loda", "linear", "full", "adapter", "lora", "vpt", "cnn_head")  # = baselines.METHODS, without torch

# Settings that do not change the numbers a run produces: they may differ between a run and its resume.
_NOT_IN_FINGERPRINT = frozenset(
    {
        "device",
        "amp",
        "workers",
        "cache",
        "eval_batch",
        "eval_every",
        "eval_init",
        "progress",
        "profiles",
        "repeats",
        "vit_weights",
        "cnn_weights",
        "init",
        "search_dirs",
        "deterministic",
    }
)


@dataclass
class TrainConfig:
    """Everything that defines a training run; the defaults are the paper's.

    ``None`` for a model hyperparameter (``r``, ``heads``, ``injector``, ``n_interactions``, ``pool``, ``dropout``,
    ``img_size``, ``short_side``, ``test_crops``) keeps the named config's value. ``train_crops=None`` takes
    the dataset's count (:data:`trainer.datasets.TRAIN_CROPS`, else the paper's size rule). ``micro_batch``
    splits each batch for gradient accumulation. ``bn``: ``adapt`` lets the frozen CNN's BatchNorm statistics
    follow the training data (the authors' choice), ``frozen`` keeps them. ``method_dim``: the size of a
    baseline's additions (see :mod:`trainer.baselines`). ``cache``: ``auto`` keeps the resized images in memory
    when they fit in 4 GiB. ``profiles``: ``all`` writes a profile every epoch, ``last`` only after the last.
    ``rank_weight``: the weight of :func:`trainer.losses.within_group_order_loss` added to the paper's PLCC loss
    (0, the paper's loss alone). ``pair_weight``: the weight of :func:`trainer.losses.faint_copy_order_loss` on
    faint copies of a quarter of each batch's crops (:func:`faint_copies`; 0, none). ``init``: a profile of the
    same network (an earlier run's ``epoch_N.safetensors``) whose trained tensors the run starts from instead of a
    random initialisation (a warm start; the optimiser and schedule start afresh).
    """

    model: str = "loda_vit_base_r50"
    method: str = "loda"
    r: int | None = None
    heads: int | None = None
    injector: str | None = None
    n_interactions: int | None = None
    pool: int | None = None
    dropout: float | None = None
    img_size: int | None = None
    short_side: int | None = None
    epochs: int = 10
    batch: int = 128
    micro_batch: int | None = None
    lr: float = 3e-4
    weight_decay: float = 0.01
    rank_weight: float = 0.0
    pair_weight: float = 0.0
    train_crops: int | None = None
    test_crops: int | None = None
    train_fraction: float = 0.8
    repeats: int = 10
    seed: int = 0
    bn: str = "adapt"
    method_dim: int | None = None
    device: str = "auto"
    amp: bool | None = None
    workers: int = 0
    cache: str = "auto"
    eval_every: int = 1
    eval_init: bool = False
    eval_batch: int = 64
    calib_images: int = 64
    profiles: str = "all"
    vit_weights: str | None = None
    cnn_weights: str | None = None
    init: str | None = None
    search_dirs: tuple[str, ...] = ()
    progress: bool = True
    deterministic: bool = False

    def validate(self) -> None:
        """Raise :class:`TrainError` for a setting that cannot work."""
        checks = [
            (self.method in METHODS, f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}"),
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.repeats >= 1, f"repeats must be at least 1, got {self.repeats}"),
            (self.batch >= 2, f"the batch must hold at least 2 crops (PLCC needs two), got {self.batch}"),
            (self.micro_batch is None or self.micro_batch >= 1, f"micro-batch must be ≥ 1, got {self.micro_batch}"),
            (self.lr > 0 and math.isfinite(self.lr), f"the learning rate must be positive, got {self.lr}"),
            (self.weight_decay >= 0, f"weight decay must not be negative, got {self.weight_decay}"),
            (self.rank_weight >= 0, f"the rank weight must not be negative, got {self.rank_weight}"),
            (self.pair_weight >= 0, f"the pair weight must not be negative, got {self.pair_weight}"),
            (self.train_crops is None or self.train_crops >= 1, f"train crops must be ≥ 1, got {self.train_crops}"),
            (self.test_crops is None or self.test_crops >= 1, f"test crops must be ≥ 1, got {self.test_crops}"),
            (0.0 < self.train_fraction < 1.0, f"the train fraction must be in (0, 1), got {self.train_fraction}"),
            (self.seed >= 0, f"the seed must not be negative, got {self.seed}"),
            (self.bn in ("adapt", "frozen"), f"bn must be 'adapt' or 'frozen', got {self.bn!r}"),
            (self.cache in ("auto", "on", "off"), f"cache must be auto, on or off, got {self.cache!r}"),
            (self.profiles in ("all", "last"), f"profiles must be 'all' or 'last', got {self.profiles!r}"),
            (self.eval_every >= 0, f"eval-every must not be negative, got {self.eval_every}"),
            (self.eval_batch >= 1, f"the evaluation batch must be at least 1, got {self.eval_batch}"),
            (self.calib_images >= 2, f"calibration needs at least 2 images, got {self.calib_images}"),
            (self.workers >= 0, f"workers must not be negative, got {self.workers}"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainError(message)
        for name in ("vit_weights", "cnn_weights", "init"):
            value = getattr(self, name)
            if value and not Path(value).expanduser().is_file():
                raise TrainError(f"--{name.replace('_', '-')}: no such file: {value}")
        if self.init and self.method != "loda":
            raise TrainError(f"--init starts LoDa from a LoDa profile; it does not apply to --method {self.method}")
        if self.init:
            from model.profiles import ProfileError, read_profile

            try:
                read_profile(Path(self.init).expanduser())
            except ProfileError as exc:
                raise TrainError(f"--init: {exc}") from None
        self.loda_config()  # unknown config / invalid hyperparameters

    def model_overrides(self) -> dict[str, Any]:
        keys = ("r", "heads", "injector", "n_interactions", "pool", "dropout", "img_size", "short_side", "test_crops")
        out = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.img_size is not None and self.short_side is None:
            from model.configs import get_config

            try:
                base = get_config(self.model)
            except ValueError:
                return out
            if base.short_side < self.img_size:  # a bigger crop than the config's short side: follow it
                out["short_side"] = self.img_size
        return out

    def loda_config(self) -> LodaConfig:
        """The network's config with the overrides applied (:class:`TrainError` if unknown or invalid)."""
        from model.configs import ConfigError, get_config

        try:
            return get_config(self.model, **self.model_overrides())
        except ConfigError as exc:
            raise TrainError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["search_dirs"] = list(self.search_dirs)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "search_dirs" in kwargs:
            kwargs["search_dirs"] = tuple(kwargs["search_dirs"])
        return cls(**kwargs)

    def fingerprint(self) -> dict[str, Any]:
        """The settings that determine a run's numbers (compared on resume)."""
        return {k: v for k, v in self.to_dict().items() if k not in _NOT_IN_FINGERPRINT}


@dataclass
class TrainResult:
    """One repeat: the last epoch's metrics (the reported ones) and everything around them."""

    repeat: int
    seed: int
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    calibration: tuple[float, float]
    profile: str | None
    n_train: int
    n_test: int
    trainable: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["calibration"] = list(self.calibration)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainResult:
        d = dict(data)
        d["calibration"] = tuple(d["calibration"])
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


@dataclass
class ProtocolResult:
    """All repeats of a protocol run and the medians of their final metrics."""

    results: list[TrainResult]
    median: dict[str, float]
    out_dir: Path
    summary: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        """The medians as a small text table (one row per test set)."""
        rows = [("test split", "")]
        rows += [(name, f"{name}_") for name in sorted({k.rsplit("_", 1)[0] for k in self.median if "_" in k})]
        lines = [f"{'':<16}" + "".join(f"{k.upper():>8}" for k in METRIC_KEYS)]
        for label, prefix in rows:
            values = [self.median.get(prefix + k, math.nan) for k in METRIC_KEYS]
            lines.append(f"{label:<16}" + "".join(f"{v:>8.4f}" for v in values))
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Dist:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> _Dist:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1): NCCL on CUDA, else gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = device != "cpu" and torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(hours=2))
    return _Dist(world=dist.get_world_size(), rank=dist.get_rank(), local_rank=local)


def _barrier(d: _Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def _device(cfg: TrainConfig, d: _Dist) -> torch.device:
    import torch

    from model.scorer import resolve_device

    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    if device.type == "cuda" and d.world > 1:
        device = torch.device("cuda", d.local_rank)
    return device


def _derive_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def _write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    _write_json(out_dir / "metrics.json", history)
    columns: list[str] = []
    for record in history:
        columns += [k for k in record if k not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for record in history:
        writer.writerow(["" if record.get(c) is None else record.get(c) for c in columns])
    tmp = out_dir / ".metrics.csv.tmp"
    tmp.write_text(buffer.getvalue())
    os.replace(tmp, out_dir / "metrics.csv")


PREDICTIONS_NAME = "test_predictions.csv"


def _write_predictions(path: Path, samples: Sequence[Sample], raw: np.ndarray) -> None:
    """``path, group, target, prediction`` per held-out image (raw network output, before calibration)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "group", "target", "prediction"])
        for sample, value in zip(samples, raw, strict=True):
            writer.writerow([str(sample.path), sample.group or "", f"{sample.score:.6f}", f"{value:.6f}"])
    os.replace(tmp, path)


def _clean_error(exc: BaseException) -> str:
    """A DataLoader worker's re-raised error carries the worker's traceback; keep its last line."""
    text = str(exc).strip()
    if text.startswith("Caught "):
        last = text.splitlines()[-1]
        return last.split(": ", 1)[1] if ": " in last else last
    return text


def fit_calibration(raw: Sequence[float], labels: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``(scale, offset)`` with ``scale * raw + offset ≈ labels`` (the normalised [0, 1] scores).

    Constant or non-finite outputs give ``(0, mean(labels))``: every image gets the average score.
    """
    x = np.asarray(raw, dtype=float)
    y = np.asarray(labels, dtype=float)
    if x.size < 2 or not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        return 0.0, float(np.mean(y)) if y.size else 0.0
    scale, offset = np.polyfit(x, y, 1)
    return float(scale), float(offset)


def build_model(cfg: TrainConfig) -> nn.Module:
    """The network ``cfg`` names: the real LoDa (``method="loda"``), a Table V baseline on the same ViT or the
    CNN-only ablation of Table VI (``cnn_head``)."""
    config = cfg.loda_config()
    vit = Path(cfg.vit_weights).expanduser() if cfg.vit_weights else None
    cnn = Path(cfg.cnn_weights).expanduser() if cfg.cnn_weights else None
    dirs = [Path(p) for p in cfg.search_dirs]
    if cfg.method == "loda":
        from model import create_model
        from model.configs import ConfigError

        try:
            net = create_model(config, vit_weights=vit, cnn_weights=cnn, search_dirs=dirs)
        except ConfigError as exc:  # e.g. N that does not divide the ViT's depth
            raise TrainError(str(exc)) from None
        net.set_bn_adapt(cfg.bn == "adapt")
        return net
    from .baselines import create_baseline

    try:
        net = create_baseline(
            cfg.method, config, dim=cfg.method_dim, vit_weights=vit, cnn_weights=cnn, search_dirs=dirs
        )
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    net.set_bn_adapt(cfg.bn == "adapt")
    return net


def _init_from(module: nn.Module, cfg: TrainConfig) -> None:
    """Load the trained tensors of the profile ``cfg.init`` into ``module`` (a warm start): the profile must
    describe the same network, and :func:`model.profiles.load_tensors` checks every tensor's name and shape. A full
    profile (random backbones) brings its backbones too: they exist nowhere else."""
    from model.profiles import ProfileError, load_tensors, read_profile

    path = Path(cfg.init).expanduser()  # type: ignore[arg-type]
    try:
        profile = read_profile(path)
        ours, theirs = module.config, profile.config  # type: ignore[attr-defined]
        shape = ("vit", "cnn", "cnn_out_indices", "r", "heads", "n_interactions", "pool", "injector", "vit_kwargs")
        if any(getattr(ours, k) != getattr(theirs, k) for k in shape):
            raise TrainError(f"--init: {path} holds a '{theirs.name}' network built unlike this run's '{ours.name}'")
        load_tensors(module, profile)  # type: ignore[arg-type]
    except ProfileError as exc:
        raise TrainError(f"--init: {exc}") from None
    log.info("initialised the trained part from %s", path)


def _is_complete(module: nn.Module) -> bool:
    """Whether resume state must hold every tensor (random backbones exist nowhere else; full fine-tuning)."""
    return not module.config.pretrained or getattr(module, "method", "loda") == "full"  # type: ignore[attr-defined]


def _state_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    state = module.state_dict()
    if _is_complete(module):
        return state
    keep = {n for n, p in module.named_parameters() if p.requires_grad} | {n for n, _ in module.named_buffers()}
    return {k: v for k, v in state.items() if k in keep}


def _bn_buffers(module: nn.Module) -> list[torch.Tensor]:
    suffixes = ("running_mean", "running_var", "num_batches_tracked")
    return [b for n, b in module.named_buffers() if n.rsplit(".", 1)[-1] in suffixes]


def _rng_state(device: torch.device) -> tuple[Any, Any]:
    import torch

    return torch.get_rng_state(), (torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def _set_rng_state(state: tuple[Any, Any], device: torch.device) -> None:
    import torch

    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _gather(t: torch.Tensor, d: _Dist) -> torch.Tensor:
    if d.world == 1:
        return t
    import torch
    import torch.distributed as dist

    parts = [torch.empty_like(t) for _ in range(d.world)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def amp_dtype(device: torch.device) -> torch.dtype:
    """Mixed precision's type: bfloat16 on a CPU and on a GPU that has it (Ampere and later; float32's range, so
    no loss scaling), else float16 with a GradScaler. float16's scaler skips every step whose gradients overflow,
    and it starts high: a short run on an H100 skipped all its steps and never moved a weight."""
    import torch

    if device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


# the pair term (``pair_weight``): the share of each batch's crops (per process) that get a faint copy, and the margin
# by which a copy must score below its source, in standard deviations of the batch's predictions
PAIR_SHARE = 0.25
PAIR_MARGIN = 0.05
# faint damage, in 0–255 units at the training crops' scale (the app's 384-px short side): noise of σ 15 and 30
# on a 1,600 × 1,067 photo measures σ 4.4 and 8.8 once the app has downscaled it (2.8×); a blur of σ 0.4–1 px
# here is one of about 1–3 px there
FAINT_NOISE = (2.0, 8.0)
FAINT_BLUR = (0.4, 1.0)


def faint_copies(x: torch.Tensor, seed: int, first: int = 0) -> torch.Tensor:
    """Copies of the uint8 crops ``x`` (n, 3, H, W), each with faint damage drawn from ``seed`` and its place
    (``first`` + its index, so that a batch split in parts gets the same copies): two in three get
    grey grain of a random σ in :data:`FAINT_NOISE` plus colour grain of half that σ, clipped to 0–255 the way a
    sensor's noise is on a dark photo; the others a Gaussian blur of a random σ in :data:`FAINT_BLUR`. uint8 on
    the CPU."""
    import torch
    from torchvision.transforms.v2.functional import gaussian_blur

    src = x.detach().cpu().float()
    out = torch.empty_like(src)
    for i in range(src.shape[0]):
        g = torch.Generator().manual_seed(_derive_seed(seed, first + i))
        u = torch.rand(2, generator=g).tolist()
        if u[0] < 2 / 3:
            sigma = FAINT_NOISE[0] + u[1] * (FAINT_NOISE[1] - FAINT_NOISE[0])
            grey = torch.randn((1, *src.shape[2:]), generator=g) * sigma
            colour = torch.randn(src.shape[1:], generator=g) * (sigma / 2)
            out[i] = src[i] + grey + colour
        else:
            sigma = FAINT_BLUR[0] + u[1] * (FAINT_BLUR[1] - FAINT_BLUR[0])
            radius = max(1, math.ceil(3 * sigma))
            out[i] = gaussian_blur(src[i], kernel_size=[2 * radius + 1] * 2, sigma=[sigma, sigma])
    return out.round_().clamp_(0, 255).to(torch.uint8)


class _Stepper:
    """One optimisation step over a list of micro-batches with the whole batch's PLCC gradient."""

    def __init__(
        self,
        net: nn.Module,
        module: nn.Module,
        device: torch.device,
        amp: bool,
        scaler: Any,
        d: _Dist,
        rank_weight: float = 0.0,
        pair_weight: float = 0.0,
    ):
        self.rank_weight = rank_weight
        self.pair_weight = pair_weight
        self.net = net
        self.module = module
        self.device = device
        self.amp = amp
        self.amp_dtype = amp_dtype(device)
        self.scaler = scaler
        self.dist = d

    def _forward(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        import torch

        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
            out = model(x.float().div_(255.0))
        return out.float().reshape(-1)

    def __call__(self, micro: list[tuple[torch.Tensor, ...]], seed: int = 0) -> float:
        """One step's loss; ``seed`` draws the faint copies of the pair term (one per step: resumable)."""
        import torch

        from .losses import batch_loss_grad, pair_loss_grad, spread

        xs = [m[0].to(self.device, non_blocking=True) for m in micro]
        ys = torch.cat([m[1].to(self.device, non_blocking=True).float().reshape(-1) for m in micro])
        groups = None
        if self.rank_weight > 0 and all(len(m) > 2 for m in micro):
            groups = _gather(torch.cat([m[2].to(self.device).reshape(-1) for m in micro]), self.dist)
        # positions in the concatenated predictions: the batch's own crops, and each faint copy with its source
        # (the first quarter of the batch's crops get copies, each drawn from its place: however it is split)
        own, sources, copies, offset, first = [], [], [], 0, 0
        if self.pair_weight > 0:
            wanted = max(1, round(sum(x.shape[0] for x in xs) * PAIR_SHARE))
            for i, x in enumerate(xs):
                n = x.shape[0]
                k = min(n, max(0, wanted - first))
                if k:
                    xs[i] = torch.cat([x, faint_copies(x[:k], seed, first=first).to(x.device)])
                own.append(torch.arange(offset, offset + n))
                sources.append(torch.arange(offset, offset + k))
                copies.append(torch.arange(offset + n, offset + n + k))
                offset += n + k
                first += n
        single = len(xs) == 1
        if single:
            pred = self._forward(self.net, xs[0])
            local = pred.detach()
        else:
            # pass 1: the whole share's predictions without a graph; BatchNorm buffers and RNG are put back so
            # that pass 2 repeats exactly the same computation (same dropout masks) with a graph.
            snapshot = [b.clone() for b in _bn_buffers(self.module)]
            states = []
            with torch.no_grad():
                parts = []
                for x in xs:
                    states.append(_rng_state(self.device))
                    parts.append(self._forward(self.module, x))
            for buf, saved in zip(_bn_buffers(self.module), snapshot, strict=True):
                buf.copy_(saved)
            local = torch.cat(parts)
        mine = torch.cat(own).to(local.device) if own else None
        ranked = local if mine is None else local[mine]
        everyone = _gather(ranked, self.dist)
        loss, grad = batch_loss_grad(everyone, _gather(ys, self.dist), groups, self.rank_weight)
        share = ranked.numel()
        # DDP averages gradients over processes: scale by the world size to get the whole batch's gradient.
        grad = grad[self.dist.rank * share : (self.dist.rank + 1) * share] * self.dist.world
        if mine is not None:
            # the pair term is each process's own mean (DDP's average of them is the batch's mean), in units of
            # the whole batch's prediction deviation
            s_idx, c_idx = torch.cat(sources).to(local.device), torch.cat(copies).to(local.device)
            pair, pair_grad = pair_loss_grad(local, s_idx, c_idx, spread(everyone), PAIR_MARGIN)
            full = torch.zeros_like(local)
            full[mine] = grad
            grad = full + self.pair_weight * pair_grad
            loss = loss + self.pair_weight * pair
        if single:
            self.scaler.scale((pred * grad).sum()).backward()
            return float(loss)
        offset = 0
        for i, x in enumerate(xs):
            _set_rng_state(states[i], self.device)
            last = i == len(xs) - 1
            sync = nullcontext() if last or self.dist.world == 1 else self.net.no_sync()  # type: ignore[operator]
            with sync:
                pred = self._forward(self.net, x)
                self.scaler.scale((pred * grad[offset : offset + pred.numel()]).sum()).backward()
            offset += pred.numel()
        return float(loss)


def _cosine_lr(base: float, step: int, total: int) -> float:
    return 0.5 * base * (1.0 + math.cos(math.pi * step / max(1, total)))


def _train_crops(cfg: TrainConfig, dataset: str, n_images: int) -> int:
    if cfg.train_crops is not None:
        return cfg.train_crops
    return TRAIN_CROPS.get(dataset, train_crops_for_size(n_images))


def _use_cache(cfg: TrainConfig, n_images: int, short_side: int) -> bool:
    if cfg.cache == "auto":
        return estimate_cache_bytes(n_images, short_side) <= CACHE_AUTO_BYTES
    return cfg.cache == "on"


def _indices_hash(indices: Sequence[int], samples: Sequence[Sample]) -> str:
    h = hashlib.sha1()
    for i in indices:
        h.update(f"{samples[i].path}|{samples[i].score:.9g}\n".encode())
    return h.hexdigest()


def _metrics_of(prefix: str, values: Mapping[str, float]) -> dict[str, float]:
    return {f"{prefix}{k}": float(values[k]) for k in METRIC_KEYS}


# ------------------------------------------------------------------------------------------ train_one


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
    import torch

    cfg.validate()
    seed = cfg.seed if seed is None else int(seed)
    d = init_distributed(cfg.device)
    device = _device(cfg, d)
    # on by default with CUDA; on a CPU only when asked (bfloat16 paid off here on a CPU with AVX-512 BF16)
    amp = bool(cfg.amp if cfg.amp is not None else device.type == "cuda")
    out_dir = Path(out_dir)
    if d.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    result_file = out_dir / "result.json"
    if resume and result_file.is_file():
        return TrainResult.from_dict(json.loads(result_file.read_text()))
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop shapes: let cuDNN pick its fastest kernels

    train_idx, test_idx = list(train_idx), list(test_idx)
    if len(train_idx) < 2 or len(test_idx) < 2:
        raise TrainError(
            f"{dataset}: {len(train_idx)} training and {len(test_idx)} test image(s); each side needs at least 2"
        )
    draws = [i for i in train_idx for _ in range(max(1, samples[i].weight))]  # a weight-w image is drawn w times
    config = cfg.loda_config()
    crops = _train_crops(cfg, dataset, len(samples))
    test_crops = cfg.test_crops or config.test_crops
    if store is None:
        store = ImageStore(samples, config.short_side, cache=_use_cache(cfg, len(samples), config.short_side))
    fingerprint = {
        **cfg.fingerprint(),
        "seed": seed,
        "dataset": dataset,
        "train": _indices_hash(draws, samples),
        "test": _indices_hash(test_idx, samples),
        "cross": sorted(cross or {}),
    }

    torch.manual_seed(_derive_seed(seed, 1))
    module = build_model(cfg).to(device)
    if cfg.init:
        _init_from(module, cfg)
    params = module.trainable_parameters()  # type: ignore[operator]
    n_trainable = sum(p.numel() for p in params)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and amp_dtype(device) == torch.float16)
    # decode (and cache) only once the network exists: a missing backbone file fails before minutes of decoding
    store.prefill([*train_idx, *test_idx], workers=max(2, cfg.workers), progress=cfg.progress and d.main)

    start_epoch, step, history, elapsed = 0, 0, [], 0.0
    state_file = out_dir / "state.json"
    if resume and state_file.is_file():
        start_epoch, step, history, elapsed = _load_state(out_dir, module, optimizer, scaler, fingerprint)
        log.info("resuming repeat %d after epoch %d of %d", repeat, start_epoch, cfg.epochs)
    elif not resume and d.main and (state_file.exists() or result_file.exists()):
        raise TrainError(f"{out_dir} already holds a run; pass --resume to continue it, or choose another --out")

    net: nn.Module = module
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)

    data = TrainCrops(store, draws, crops=crops, size=config.img_size, seed=seed, with_groups=cfg.rank_weight > 0)
    n_items = len(data)
    try:
        plan0 = epoch_plan(n_items, batch=cfg.batch, micro_batch=cfg.micro_batch, seed=seed, epoch=1, world=d.world)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    total_steps = cfg.epochs * len(plan0.steps)
    stepper = _Stepper(net, module, device, amp, scaler, d, rank_weight=cfg.rank_weight, pair_weight=cfg.pair_weight)
    cross_stores = {
        name: (c if isinstance(c, ImageStore) else ImageStore(c, config.short_side, cache=False))
        for name, c in (cross or {}).items()
    }
    targets = np.asarray([samples[i].score for i in test_idx])
    device_name = str(device)
    show = cfg.progress and d.main
    log.info(
        "repeat %d: %s (%s) with %s trainable parameters; %d train (%d draws) / %d test images, %d crops each, "
        "batch %d (%d per process, micro-batches of %d), %d steps per epoch, %s%s",
        repeat,
        config.name,
        cfg.method,
        f"{n_trainable:,}",
        len(train_idx),
        len(draws),
        len(test_idx),
        crops,
        plan0.batch,
        plan0.share,
        len(plan0.steps[0][0]) if plan0.steps else 0,
        len(plan0.steps),
        device_name,
        " AMP" if amp else "",
    )

    def evaluate_on(
        indices: Sequence[int], st: ImageStore, labels: np.ndarray, desc: str, keep: Path | None = None
    ) -> dict[str, float]:
        raw = predict(
            module,
            st,
            indices,
            crops=test_crops,
            batch_size=cfg.eval_batch,
            device=device_name,
            amp=amp,
            decode_workers=max(2, cfg.workers),
            progress=show,
            desc=desc,
        )
        if keep is not None:  # the held-out predictions, for analyses beyond the summary metrics
            _write_predictions(keep, [st.samples[i] for i in indices], raw)
        return evaluate(raw, labels)

    if cfg.eval_init and start_epoch == 0 and not history:
        record: dict[str, Any] = {"epoch": 0, "step": 0, "train_loss": None, "lr": cfg.lr}
        if d.main:
            record.update(_metrics_of("", evaluate_on(test_idx, store, targets, "evaluating (init)")))
            history.append(record)
            _write_metrics(out_dir, history)
        _barrier(d)

    calibration = (1.0, 0.0)
    profile_path: str | None = None
    started = time.perf_counter() - elapsed
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        epoch_start = time.perf_counter()
        torch.manual_seed(_derive_seed(seed, 2, epoch))
        plan = epoch_plan(
            n_items, batch=cfg.batch, micro_batch=cfg.micro_batch, seed=seed, epoch=epoch, world=d.world, rank=d.rank
        )
        data.set_epoch(epoch)
        loader = make_loader(data, plan.micro_batches, workers=cfg.workers, pin_memory=device.type == "cuda")
        net.train()
        losses: list[float] = []
        per_step = plan.micro_per_step
        bar = _progress(len(plan.steps), f"repeat {repeat} epoch {epoch}/{cfg.epochs}", show)
        pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        try:
            for batch in loader:
                pending.append(batch)
                if len(pending) < per_step:
                    continue
                lr = _cosine_lr(cfg.lr, step, total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.zero_grad(set_to_none=True)
                losses.append(stepper(pending, seed=_derive_seed(seed, 3, step)))
                scaler.step(optimizer)
                scaler.update()
                pending = []
                step += 1
                bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{lr:.2e}", refresh=False)
                bar.update(1)
        except TrainError as exc:
            raise TrainError(_clean_error(exc)) from None
        finally:
            bar.close()
        last = epoch == cfg.epochs
        record = {
            "epoch": epoch,
            "step": step,
            "train_loss": float(np.mean(losses)) if losses else None,
            "lr": _cosine_lr(cfg.lr, step, total_steps),
        }
        if d.main:
            if cfg.eval_every and (last or epoch % cfg.eval_every == 0):
                keep = out_dir / PREDICTIONS_NAME if last else None
                metrics = evaluate_on(test_idx, store, targets, f"evaluating epoch {epoch}", keep)
                record.update(_metrics_of("", metrics))
            if last:
                for name, st in cross_stores.items():
                    all_idx = list(range(len(st.samples)))
                    st.prefill(all_idx, workers=max(2, cfg.workers), progress=show)
                    labels = np.asarray([s.score for s in st.samples])
                    record.update(_metrics_of(f"{name}_", evaluate_on(all_idx, st, labels, f"scoring {name}")))
            if last or cfg.profiles == "all":
                calibration = _calibrate(
                    module, store, samples, train_idx, cfg, seed, test_crops, device_name, amp, progress=show
                )
                path = out_dir / f"epoch_{epoch}.safetensors"
                _save_profile(module, path, cfg, record, calibration, dataset, repeat, seed, train_idx, test_idx)
                record["profile"] = path.name
                profile_path = str(path)
            record["seconds"] = round(time.perf_counter() - epoch_start, 3)
            history.append(record)
            _write_metrics(out_dir, history)
            _save_state(out_dir, module, optimizer, scaler, epoch, step, history, fingerprint, started)
        _barrier(d)
        if d.main and on_epoch_end is not None:
            on_epoch_end(record)

    if not d.main:  # rank 0 alone evaluates and writes; the others read its result
        _barrier(d)
        return TrainResult.from_dict(json.loads(result_file.read_text()))
    final = history[-1]
    metrics = {k: float(v) for k, v in final.items() if k.endswith(METRIC_KEYS) and isinstance(v, int | float)}
    result = TrainResult(
        repeat=repeat,
        seed=seed,
        metrics=metrics,
        history=history,
        calibration=calibration if profile_path else _last_calibration(out_dir, final),
        profile=profile_path or (str(out_dir / final["profile"]) if final.get("profile") else None),
        n_train=len(train_idx),
        n_test=len(test_idx),
        trainable=n_trainable,
        seconds=round(time.perf_counter() - started, 3),
    )
    _write_json(result_file, result.to_dict())
    _barrier(d)
    return result


def _progress(total: int, desc: str, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not show, leave=False, dynamic_ncols=True)


def _calibrate(
    module: nn.Module,
    store: ImageStore,
    samples: Sequence[Sample],
    train_idx: Sequence[int],
    cfg: TrainConfig,
    seed: int,
    crops: int,
    device: str,
    amp: bool,
    *,
    progress: bool = False,
) -> tuple[float, float]:
    """Fit the score calibration on (at most ``calib_images``) training images: no test image is used."""
    rng = np.random.default_rng((seed, 0xCA1))
    n = min(len(train_idx), cfg.calib_images)
    chosen = sorted(rng.choice(np.asarray(train_idx), size=n, replace=False).tolist())
    raw = predict(
        module,
        store,
        chosen,
        crops=crops,
        batch_size=cfg.eval_batch,
        device=device,
        amp=amp,
        decode_workers=max(2, cfg.workers),
        progress=progress,
        desc="calibrating",
    )
    return fit_calibration(raw, [samples[i].score for i in chosen])


def _last_calibration(out_dir: Path, record: Mapping[str, Any]) -> tuple[float, float]:
    profile = record.get("profile")
    if not profile or not (out_dir / profile).is_file():
        return (1.0, 0.0)
    from safetensors import safe_open

    with safe_open(str(out_dir / profile), framework="numpy") as f:
        meta = json.loads((f.metadata() or {}).get("loda", "{}"))
    cal = meta.get("score", {}).get("calibration", {})
    return float(cal.get("scale", 1.0)), float(cal.get("offset", 0.0))


def _save_profile(
    module: nn.Module,
    path: Path,
    cfg: TrainConfig,
    record: Mapping[str, Any],
    calibration: tuple[float, float],
    dataset: str,
    repeat: int,
    seed: int,
    train_idx: Sequence[int],
    test_idx: Sequence[int],
) -> None:
    epoch = int(record["epoch"])
    metrics = {k: v for k, v in record.items() if k.endswith(METRIC_KEYS) and isinstance(v, int | float)}
    trained_on = {
        "dataset": dataset,
        "summary": f"{dataset}, {len(train_idx)} images (80/20 split seed {seed}), epoch {epoch} of {cfg.epochs}",
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "split_seed": seed,
        "repeat": repeat,
        "epoch": epoch,
        "epochs": cfg.epochs,
        "method": cfg.method,
    }
    name = f"{module.config.name}-{dataset}-{cfg.method}-r{repeat}-e{epoch}"  # type: ignore[attr-defined]
    if cfg.method == "loda":
        from model.profiles import save_model

        save_model(
            module,  # type: ignore[arg-type]
            path,
            name=name,
            trained_on=trained_on,
            metrics=metrics,
            calibration=calibration,
            score_range=(0.0, 1.0),
            notes="score = calibration of the raw output to the training labels normalised to [0, 1]",
            extra={"training": cfg.to_dict()},
        )
    else:
        from .baselines import save_baseline

        save_baseline(
            module,  # type: ignore[arg-type]
            path,
            {"name": name, "trained_on": trained_on, "metrics": metrics, "calibration": list(calibration)},
        )


def _save_state(
    out_dir: Path,
    module: nn.Module,
    optimizer: Any,
    scaler: Any,
    epoch: int,
    step: int,
    history: list[dict[str, Any]],
    fingerprint: Mapping[str, Any],
    started: float,
) -> None:
    """Everything needed to resume after ``epoch``: tensors (safetensors) first, then the JSON that names them."""
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in _state_tensors(module).items()}
    opt = optimizer.state_dict()
    for index, state in opt["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
    name = f"state_e{epoch}.safetensors"
    tmp = out_dir / f".{name}.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, out_dir / name)
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in opt["param_groups"]]
    _write_json(
        out_dir / "state.json",
        {
            "format": "loda-train-state",
            "version": 1,
            "epoch": epoch,
            "step": step,
            "tensors": name,
            "optimizer": {"param_groups": groups},
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "history": history,
            "seconds": time.perf_counter() - started,
            "fingerprint": dict(fingerprint),
        },
    )
    for old in out_dir.glob("state_e*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)


def _load_state(
    out_dir: Path, module: nn.Module, optimizer: Any, scaler: Any, fingerprint: Mapping[str, Any]
) -> tuple[int, int, list[dict[str, Any]], float]:
    from safetensors.torch import load_file

    try:
        state = json.loads((out_dir / "state.json").read_text())
        tensors = load_file(str(out_dir / state["tensors"]))
    except (OSError, ValueError, KeyError) as exc:
        raise TrainError(f"cannot resume from {out_dir}: the saved state is unreadable ({exc})") from None
    saved = state.get("fingerprint", {})
    changed = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} → {fingerprint.get(k)!r}" for k in changed[:6])
        raise TrainError(f"cannot resume {out_dir}: it was started with other settings ({details})")
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = _state_tensors(module)
    missing = sorted(set(expected) - set(model_state))
    if missing:
        raise TrainError(f"cannot resume {out_dir}: the saved state lacks {len(missing)} tensor(s), e.g. {missing[0]}")
    module.load_state_dict(model_state, strict=False)
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            opt_state.setdefault(int(index), {})[name] = value
    groups = state["optimizer"]["param_groups"]
    for g in groups:
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
    if state.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(state["scaler"])
    return int(state["epoch"]), int(state["step"]), list(state["history"]), float(state.get("seconds", 0.0))


# --------------------------------------------------------------------------------------- run_protocol


def check_size(samples: Sequence[Sample], dataset: str) -> None:
    """:class:`TrainError` unless there are at least :data:`MIN_IMAGES` images to split into train and test."""
    if len(samples) < MIN_IMAGES:
        raise TrainError(
            f"{dataset}: {len(samples)} image(s) are too few to train and test; need at least {MIN_IMAGES}"
        )


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
        _write_json(
            out_dir / "config.json",
            {"dataset": dataset, "images": len(samples), "cross": sorted(cross or {}), "train": cfg.to_dict()},
        )
    store = ImageStore(samples, config.short_side, cache=_use_cache(cfg, len(samples), config.short_side))
    cross_stores = {
        name: ImageStore(list(c), config.short_side, cache=_use_cache(cfg, len(c), config.short_side))
        for name, c in (cross or {}).items()
    }
    results: list[TrainResult] = []
    for k, seed in enumerate(repeat_seeds(cfg.repeats, cfg.seed), start=1):
        try:
            train_idx, test_idx = train_test_split(samples, cfg.train_fraction, seed)
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
            _write_json(summary_file, summary)
        if on_repeat_end is not None:
            on_repeat_end(result)
    return ProtocolResult(results=results, median=summary["median"], out_dir=out_dir, summary=summary)


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
