"""Where a training run executes: its processes (torchrun), its device, its mixed precision, its seeds.

Shared by :mod:`trainer.train` (the paper's protocol) and :mod:`trainer.finetune` (a photographer's ratings).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import TrainError

if TYPE_CHECKING:
    import torch

__all__ = [
    "Dist",
    "amp_dtype",
    "barrier",
    "configure_kernels",
    "derive_seed",
    "gather",
    "init_distributed",
    "resolve_train_device",
    "rng_state",
    "set_rng_state",
]


@dataclass(frozen=True)
class Dist:
    """This process's place among the processes torchrun started (one process: world 1, rank 0)."""

    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the process that evaluates and writes."""
        return self.rank == 0


def init_distributed(device: str = "auto") -> Dist:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1): NCCL on CUDA, else gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = device != "cpu" and torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(hours=2))
    return Dist(world=dist.get_world_size(), rank=dist.get_rank(), local_rank=local)


def barrier(d: Dist) -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def resolve_train_device(name: str, d: Dist) -> torch.device:
    """The device ``name`` means (``auto``, ``cpu``, ``cuda``, ...); under torchrun, this process's own GPU."""
    import torch

    from model.scorer import resolve_device

    try:
        device = resolve_device(name)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    if device.type == "cuda" and d.world > 1:
        device = torch.device("cuda", d.local_rank)
    return device


def configure_kernels(deterministic: bool, device: torch.device) -> None:
    """``deterministic``: ask PyTorch for deterministic kernels (cuBLAS needs a fixed workspace for that); else, on
    CUDA, let cuDNN pick its fastest kernels (the crop shapes are fixed)."""
    import torch

    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def derive_seed(*parts: int) -> int:
    """A seed drawn from ``parts`` (e.g. the run's seed, a purpose, an epoch), the same on every machine."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def rng_state(device: torch.device) -> tuple[Any, Any]:
    """The torch RNG states (CPU and ``device``'s GPU) that :func:`set_rng_state` puts back."""
    import torch

    return torch.get_rng_state(), (torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def set_rng_state(state: tuple[Any, Any], device: torch.device) -> None:
    """Put back what :func:`rng_state` returned."""
    import torch

    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def gather(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Every process's ``t`` concatenated in rank order (``t`` itself in a single process)."""
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
