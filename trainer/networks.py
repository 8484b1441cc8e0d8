"""The network a training run's config names (:func:`build_model`) and its warm start from an earlier profile
(:func:`init_from`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .data import TrainError
from .train_config import TrainConfig

if TYPE_CHECKING:
    from torch import nn

__all__ = ["build_model", "init_from"]

log = logging.getLogger("trainer")


def build_model(cfg: TrainConfig) -> nn.Module:
    """The network ``cfg`` names: the real LoDa (``method="loda"``), a Table V baseline on the same ViT or this
    project's CNN-only control (``cnn_head``, not a row of the paper)."""
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


def init_from(module: nn.Module, cfg: TrainConfig) -> None:
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
