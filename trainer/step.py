"""One optimisation step and its learning-rate schedule, shared by the paper's protocol (:mod:`trainer.train`) and
the fine-tuning on a photographer's ratings (:mod:`trainer.finetune`).

:class:`Stepper` computes the gradient of the whole batch's PLCC loss (Eq. 5, :mod:`trainer.losses`) however
the batch is split: into micro-batches (gradient accumulation) and across processes (DistributedDataParallel).
:func:`take_step` sets the learning rate, lets a stepper fill the gradients and steps the optimiser;
:func:`cosine_lr` is the schedule (cosine annealing per iteration from the base rate to 0, no warm-up).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from .runtime import Dist, amp_dtype, derive_seed, gather, rng_state, set_rng_state

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "FAINT_BLUR",
    "FAINT_NOISE",
    "PAIR_MARGIN",
    "PAIR_SHARE",
    "Stepper",
    "bn_buffers",
    "cosine_lr",
    "faint_copies",
    "take_step",
]


def cosine_lr(base: float, step: int, total: int) -> float:
    """The learning rate of step ``step`` (0-based) of ``total``: cosine annealing from ``base`` to 0."""
    return 0.5 * base * (1.0 + math.cos(math.pi * step / max(1, total)))


def take_step(optimizer: Any, scaler: Any, lr: float, compute: Callable[[], float]) -> float:
    """One optimiser step at learning rate ``lr``: ``compute()`` fills the gradients (a :class:`Stepper` call,
    say) and returns the loss, which this returns. ``scaler`` is a ``torch.amp.GradScaler`` (a disabled one
    steps the optimiser as it is)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss = compute()
    scaler.step(optimizer)
    scaler.update()
    return loss


def bn_buffers(module: nn.Module) -> list[torch.Tensor]:
    """The BatchNorm statistics of ``module`` (what a forward pass in training mode updates)."""
    suffixes = ("running_mean", "running_var", "num_batches_tracked")
    return [b for n, b in module.named_buffers() if n.rsplit(".", 1)[-1] in suffixes]


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
        g = torch.Generator().manual_seed(derive_seed(seed, first + i))
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


class Stepper:
    """The gradients of one step over a list of micro-batches: the whole batch's PLCC loss (plus the optional
    within-group order term, ``rank_weight``, and the faint-copy pair term, ``pair_weight``).

    ``net`` is what runs with a graph (``module`` itself, or its DistributedDataParallel wrapper); ``module`` the
    network (its BatchNorm buffers are restored between the two passes of an accumulated step). ``scaler``: a
    ``torch.amp.GradScaler`` (disabled unless float16). ``forward(model, x)`` replaces ``model(crops / 255)`` where
    a micro-batch holds something else than uint8 crops (fine-tuning's rows of cached frozen outputs)."""

    def __init__(
        self,
        net: nn.Module,
        module: nn.Module,
        device: torch.device,
        amp: bool,
        scaler: Any,
        d: Dist,
        rank_weight: float = 0.0,
        pair_weight: float = 0.0,
        forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    ):
        self.forward = forward
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
            out = self.forward(model, x) if self.forward is not None else model(x.float().div_(255.0))
        return out.float().reshape(-1)

    def __call__(self, micro: list[tuple[torch.Tensor, ...]], seed: int = 0) -> float:
        """One step's loss; ``seed`` draws the faint copies of the pair term (one per step: resumable)."""
        import torch

        from .losses import batch_loss_grad, pair_loss_grad, spread

        xs = [m[0].to(self.device, non_blocking=True) for m in micro]
        ys = torch.cat([m[1].to(self.device, non_blocking=True).float().reshape(-1) for m in micro])
        groups = None
        if self.rank_weight > 0 and all(len(m) > 2 for m in micro):
            groups = gather(torch.cat([m[2].to(self.device).reshape(-1) for m in micro]), self.dist)
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
            snapshot = [b.clone() for b in bn_buffers(self.module)]
            states = []
            with torch.no_grad():
                parts = []
                for x in xs:
                    states.append(rng_state(self.device))
                    parts.append(self._forward(self.module, x))
            for buf, saved in zip(bn_buffers(self.module), snapshot, strict=True):
                buf.copy_(saved)
            local = torch.cat(parts)
        mine = torch.cat(own).to(local.device) if own else None
        ranked = local if mine is None else local[mine]
        everyone = gather(ranked, self.dist)
        loss, grad = batch_loss_grad(everyone, gather(ys, self.dist), groups, self.rank_weight)
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
            set_rng_state(states[i], self.device)
            last = i == len(xs) - 1
            sync = nullcontext() if last or self.dist.world == 1 else self.net.no_sync()  # type: ignore[operator]
            with sync:
                pred = self._forward(self.net, x)
                self.scaler.scale((pred * grad[offset : offset + pred.numel()]).sum()).backward()
            offset += pred.numel()
        return float(loss)
