"""What defines a training run and what it returns: :class:`TrainConfig` (every setting, the paper's defaults),
:class:`TrainResult` (one repeat) and :class:`ProtocolResult` (all repeats and their medians).

Importing this module imports no torch: the command line builds and checks a config before torch is loaded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .constants import METHODS
from .data import TrainError
from .datasets import Sample
from .presets import LIVE_LABELS, MODULES, PRESETS, VIT_NORMS, Preset, module_overrides

if TYPE_CHECKING:
    from model.configs import LodaConfig

__all__ = [
    "METRIC_KEYS",
    "MIN_IMAGES",
    "ProtocolResult",
    "TrainConfig",
    "TrainError",
    "TrainResult",
    "check_size",
]

METRIC_KEYS = ("srcc", "plcc", "krcc", "rmse")
MIN_IMAGES = 10

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
# Settings added after runs were first written: left out of the fingerprint while at their default, so a run
# started before they existed still resumes.
_NEWER_DEFAULTS: dict[str, Any] = {
    "preset": "default",
    "vit": None,
    "vit_norm": None,
    "modules": None,
    "live_labels": None,
    "splits": None,
    "split_meta": None,
}


@dataclass
class TrainConfig:
    """Everything that defines a training run; the defaults are the paper's.

    ``None`` for a model hyperparameter (``r``, ``heads``, ``injector``, ``n_interactions``, ``pool``, ``dropout``,
    ``img_size``, ``short_side``, ``test_crops``) keeps the named config's value. ``train_crops=None`` takes
    the dataset's count (:data:`trainer.presets.TRAIN_CROPS`, else the paper's size rule). ``micro_batch``
    splits each batch for gradient accumulation. ``bn``: ``adapt`` lets the frozen CNN's BatchNorm statistics
    follow the training data (the authors' choice), ``frozen`` keeps them. ``method_dim``: the size of a
    baseline's additions (see :mod:`trainer.baselines`). ``cache``: ``auto`` keeps the resized images in memory
    when they fit in 4 GiB. ``profiles``: ``all`` writes a profile every epoch, ``last`` only after the last.
    ``rank_weight``: the weight of :func:`trainer.losses.within_group_order_loss` added to the paper's PLCC loss
    (0, the paper's loss alone). ``pair_weight``: the weight of :func:`trainer.losses.faint_copy_order_loss` on
    faint copies of a quarter of each batch's crops (:func:`faint_copies`; 0, none). ``init``: a profile of the
    same network (an earlier run's ``epoch_N.safetensors``) whose trained tensors the run starts from instead of a
    random initialisation (a warm start; the optimiser and schedule start afresh).

    ``preset`` (:data:`trainer.presets.PRESETS`): ``default``, this project's protocol, or ``official``, the
    authors' released code's choices; ``vit_norm``, ``modules``, ``live_labels`` (``None``: the preset's) and
    ``train_crops`` / ``short_side`` (``None``: the preset's for the dataset, :meth:`for_dataset`) set them one
    by one. ``vit`` swaps the ViT for another timm checkpoint (Table III) with that checkpoint's normalisation.
    ``splits``: a split file (:func:`trainer.splits.read_split_file`) whose fixed splits replace the random ones;
    with ``split_meta`` (the authors' meta-info CSV) it is the authors' own split pickle.
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
    preset: str = "default"
    vit: str | None = None
    vit_norm: str | None = None
    modules: str | None = None
    live_labels: str | None = None
    splits: str | None = None
    split_meta: str | None = None

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
            (self.preset in PRESETS, f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}"),
            (self.vit_norm in (None, *VIT_NORMS), f"vit-norm must be one of {', '.join(VIT_NORMS)}"),
            (self.modules in (None, *MODULES), f"modules must be one of {', '.join(MODULES)}"),
            (self.live_labels in (None, *LIVE_LABELS), f"live-labels must be one of {', '.join(LIVE_LABELS)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainError(message)
        if self.split_meta and not self.splits:
            raise TrainError("--split-meta goes with --splits (the authors' split file it numbers the rows of)")
        for name in ("vit_weights", "cnn_weights", "init", "splits", "split_meta"):
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
                base = None  # an unknown model: loda_config() says so
            if base is not None and base.short_side < self.img_size:  # a bigger crop than the config's: follow it
                out["short_side"] = self.img_size
        return {**out, **self._preset_overrides()}

    @property
    def _preset(self) -> Preset:
        """The preset's choices (an unknown name is refused by :meth:`validate`; the default stands in until then)."""
        return PRESETS.get(self.preset, PRESETS["default"])

    def _preset_overrides(self) -> dict[str, Any]:
        """The config fields ``vit``, ``vit_norm`` and ``modules`` (or the preset) set; none for the defaults."""
        from model.configs import IMAGENET_MEAN, IMAGENET_STD

        preset = self._preset
        out: dict[str, Any] = {}
        if self.vit:  # a timm checkpoint of its own: fetched from the hub, built as timm defines it
            out.update(vit=self.vit, vit_hub=True, vit_local_name="", vit_kwargs={})
            from model.backbones import pretrained_normalisation

            try:
                norm = pretrained_normalisation(self.vit)
            except ValueError as exc:
                raise TrainError(f"--vit: {exc}") from None
            if norm is not None:
                out.update(vit_mean=norm[0], vit_std=norm[1])
        if (self.vit_norm or preset.vit_norm) == "imagenet":
            out.update(vit_mean=IMAGENET_MEAN, vit_std=IMAGENET_STD)
        return {**out, **module_overrides(self.modules or preset.modules)}

    def live_label_file(self) -> str:
        """Which LIVE labels the run reads (:func:`trainer.datasets.read_live`)."""
        return self.live_labels or self._preset.live_labels

    def for_dataset(self, dataset: str) -> TrainConfig:
        """This config with the preset's per-dataset choices filled in where the run left them unset (``official``:
        10 training crops for TID2013, LIVEC at its native 500 px). The ``default`` preset fills nothing."""
        preset = self._preset
        fill = {
            "train_crops": preset.train_crops.get(dataset) if self.train_crops is None else None,
            "short_side": preset.short_side.get(dataset) if self.short_side is None else None,
        }
        fill = {k: v for k, v in fill.items() if v is not None}
        return dataclasses.replace(self, **fill) if fill else self

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
        return {
            k: v
            for k, v in self.to_dict().items()
            if k not in _NOT_IN_FINGERPRINT and not (k in _NEWER_DEFAULTS and v == _NEWER_DEFAULTS[k])
        }


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


def check_size(samples: Sequence[Sample], dataset: str) -> None:
    """:class:`TrainError` unless there are at least :data:`MIN_IMAGES` images to split into train and test."""
    if len(samples) < MIN_IMAGES:
        raise TrainError(
            f"{dataset}: {len(samples)} image(s) are too few to train and test; need at least {MIN_IMAGES}"
        )
