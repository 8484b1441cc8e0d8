"""The LoDa network, its named configs, preprocessing, model profiles and scorers.

Public surface::

    from model import create_model, list_configs, get_config
    net = create_model("loda_vit_base_r50", pretrained=False, r=48)   # variants are data
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .configs import ConfigError, LodaConfig, get_config, list_configs

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .loda import LoDa

__all__ = ["ConfigError", "LodaConfig", "create_model", "get_config", "list_configs"]


def create_model(
    config: str | LodaConfig,
    *,
    pretrained: bool | None = None,
    vit_weights: Path | None = None,
    cnn_weights: Path | None = None,
    search_dirs: Iterable[Path] = (),
    **overrides: Any,
) -> LoDa:
    """Build a LoDa network from a config name (or config) with optional hyperparameter overrides.

    ``pretrained=None`` follows the config (pretrained backbones for the paper's configs, random for
    ``loda_tiny``). Pretrained weights come from the named files, the search dirs, the local cache or the
    hub, in that order (see :mod:`model.backbones`).
    """
    from .loda import LoDa

    cfg = get_config(config, **overrides) if isinstance(config, str) else config.replace(**overrides)
    return LoDa(cfg, pretrained=pretrained, vit_weights=vit_weights, cnn_weights=cnn_weights, search_dirs=search_dirs)
