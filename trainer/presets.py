"""Protocol choices that are not the network's hyperparameters, and the two presets that bundle them.

``default`` is this project's protocol, unchanged since the first release (every profile and run so far used
it). ``official`` selects every choice where the authors' released code differs from it, so an engineer can
reproduce their runs rather than this project's reading of the paper (``docs/training.md`` §10 lists each
difference and its individual switch):

========================  ==========================================  ==============================================
choice                    ``default``                                 ``official``
========================  ==========================================  ==============================================
ViT input normalisation   the checkpoint's own (timm: 0.5 / 0.5 for   ImageNet mean / std for both backbones
                          the paper's ViT-B)
module details            q/k/v bias, cosine head with a bias,        no q/k/v bias, bias-free ``NormedLinear``
                          s_i from a truncated N(0, 0.02²)            head, s_i from an untruncated N(0, 0.02²)
LIVE labels               ``dmos.mat`` (``dmos``)                     ``dmos_realigned.mat`` (``dmos_new``)
TID2013 training crops    5                                           10
LIVEC input size          short side resized to 384                   native 500×500 (short side 500: no resize)
========================  ==========================================  ==============================================

``TRAIN_CROPS`` follows the paper's rule that the number of random 224×224 training crops per image shrinks
as the dataset grows (1 for FLIVE's 39,810 images, 3 for KonIQ-10k's 10,073, 5 for LIVEC's 1,162): the
paper's three values are used as given; KADID-10k (10,125) and SPAQ (11,125) are KonIQ-sized and get 3;
LIVE (779) and TID2013 (3,000) are small like LIVEC and get 5; a user's ratings CSV (usually tens to hundreds
of photos) gets 5. :func:`train_crops_for_size` applies the same rule to any size.

This module imports neither torch nor Qt (the command line reads it before torch is loaded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "LIVE_LABELS",
    "MODULES",
    "PRESETS",
    "TRAIN_CROPS",
    "VIT_NORMS",
    "Preset",
    "module_overrides",
    "train_crops_for_size",
]

# Random training crops per image (see the module docstring for the reasoning).
TRAIN_CROPS: dict[str, int] = {
    "koniq10k": 3,
    "flive": 1,
    "livec": 5,
    "kadid10k": 3,
    "spaq": 3,
    "live": 5,
    "tid2013": 5,
    "csv": 5,
}

# "checkpoint": the ViT's own normalisation (its config's vit_mean / vit_std, timm's for --vit NAME);
# "imagenet": ImageNet mean / std, which the authors' code feeds both backbones.
VIT_NORMS = ("checkpoint", "imagenet")
# "project": q/k/v bias, cosine head with bias, truncated s_i init; "official": the authors' released modules.
MODULES = ("project", "official")
# "dmos": LIVE Release 2's dmos.mat; "realigned": dmos_realigned.mat (variable dmos_new), the authors' labels.
LIVE_LABELS = ("dmos", "realigned")


def train_crops_for_size(n_images: int) -> int:
    """The paper's size rule: 1 crop from 20,000 images up, 3 from 5,000 up, else 5."""
    if n_images >= 20_000:
        return 1
    if n_images >= 5_000:
        return 3
    return 5


def module_overrides(modules: str) -> dict[str, object]:
    """The :class:`model.configs.LodaConfig` fields a ``modules`` choice sets (none for ``project``)."""
    if modules == "official":
        return {"qkv_bias": False, "head": "normed", "scale_init": "normal"}
    return {}


@dataclass(frozen=True)
class Preset:
    """One protocol: the choices a run takes unless it sets them itself. ``train_crops`` / ``short_side`` map a
    dataset to its value where the preset departs from :data:`TRAIN_CROPS` / the model config's short side."""

    name: str
    vit_norm: str
    modules: str
    live_labels: str
    train_crops: Mapping[str, int] = field(default_factory=dict)
    short_side: Mapping[str, int] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "default": Preset("default", vit_norm="checkpoint", modules="project", live_labels="dmos"),
    "official": Preset(
        "official",
        vit_norm="imagenet",
        modules="official",
        live_labels="realigned",
        train_crops={"tid2013": 10},
        short_side={"livec": 500},
    ),
}
