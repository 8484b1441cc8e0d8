"""The frozen backbones, built through timm, and where their pretrained weights come from.

Weights are looked for, in order: a file the user names; ``<search dir>/<timm name>.safetensors`` in the
directories the caller passes (the app passes its models folder); the timm / Hugging Face cache; and a download
from the Hugging Face hub when the machine is online. When none works the error names the missing weights and
every way to supply them. Files are read with safetensors or ``torch.load(weights_only=True)``: never unpickled.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import timm
import torch.nn as nn

from .errors import BackboneWeightsError


def hub_id(timm_name: str) -> str | None:
    """The Hugging Face hub repository timm downloads ``timm_name``'s weights from (None if unknown)."""
    cfg = timm.get_pretrained_cfg(timm_name, allow_unregistered=False)
    return getattr(cfg, "hf_hub_id", None) if cfg is not None else None


def _local_candidates(timm_name: str, search_dirs: Iterable[Path]) -> list[Path]:
    stem = timm_name.replace("/", "_")
    return [Path(d) / f"{stem}.safetensors" for d in search_dirs]


def cached_weights(timm_name: str, search_dirs: Iterable[Path] = ()) -> Path | None:
    """Where the weights already are on this machine (a search dir or the HF cache), without any download."""
    for candidate in _local_candidates(timm_name, search_dirs):
        if candidate.is_file():
            return candidate
    repo = hub_id(timm_name)
    if not repo:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return Path(found)
    return None


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
    **kwargs: Any,
) -> nn.Module:
    """Build a timm model, pretrained from the first source that has its weights.

    ``role`` ("ViT" / "CNN") and ``flag`` (the command-line option that names a file) only shape messages.
    """
    search_dirs = list(search_dirs)
    if not pretrained:
        return timm.create_model(timm_name, pretrained=False, **kwargs)
    source = Path(weights_file) if weights_file else cached_weights(timm_name, search_dirs)
    if weights_file and not source.is_file():
        raise BackboneWeightsError(f"The {role} weights file {source} does not exist.")
    try:
        if source is not None:
            return timm.create_model(timm_name, pretrained=True, pretrained_cfg_overlay={"file": str(source)}, **kwargs)
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
