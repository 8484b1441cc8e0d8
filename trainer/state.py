"""A repeat's resume state: ``state.json`` + ``state_eE.safetensors`` after every epoch (trainable tensors and
BatchNorm buffers, AdamW moments, step, grad-scaler state, history; no pickle anywhere), and the fingerprint of
the settings that a resumed run must share with the interrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import TrainError
from .datasets import Sample

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["indices_hash", "load_state", "save_state", "state_tensors", "write_json"]


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def _is_complete(module: nn.Module) -> bool:
    """Whether resume state must hold every tensor (random backbones exist nowhere else; full fine-tuning)."""
    return not module.config.pretrained or getattr(module, "method", "loda") == "full"  # type: ignore[attr-defined]


def state_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors resume state holds: the trainable ones and every buffer, or everything (:func:`_is_complete`)."""
    state = module.state_dict()
    if _is_complete(module):
        return state
    keep = {n for n, p in module.named_parameters() if p.requires_grad} | {n for n, _ in module.named_buffers()}
    return {k: v for k, v in state.items() if k in keep}


def indices_hash(indices: Sequence[int], samples: Sequence[Sample]) -> str:
    """A digest of the images ``indices`` name (path and score), for the fingerprint."""
    h = hashlib.sha1()
    for i in indices:
        h.update(f"{samples[i].path}|{samples[i].score:.9g}\n".encode())
    return h.hexdigest()


def save_state(
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

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in state_tensors(module).items()}
    opt = optimizer.state_dict()
    for index, state in opt["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
    name = f"state_e{epoch}.safetensors"
    tmp = out_dir / f".{name}.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, out_dir / name)
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in opt["param_groups"]]
    write_json(
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


def load_state(
    out_dir: Path, module: nn.Module, optimizer: Any, scaler: Any, fingerprint: Mapping[str, Any]
) -> tuple[int, int, list[dict[str, Any]], float]:
    """Load the state :func:`save_state` wrote into ``module``, ``optimizer`` and ``scaler``; returns (epoch, step,
    history, seconds so far). :class:`TrainError` if it is unreadable, incomplete or was saved under another
    ``fingerprint``."""
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
    expected = state_tensors(module)
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
