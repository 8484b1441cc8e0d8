"""The PLCC-induced loss of the LoDa paper (Eq. 5) and its exact gradient for split batches.

Eq. 5, for predictions ŷ and labels y of one batch of m crops::

    L = (1 - PLCC(ŷ, y)) / 2,   PLCC = Σ (ŷ_i - mean ŷ)(y_i - mean y) / sqrt(Σ (ŷ_i - mean ŷ)² · Σ (y_i - mean y)²)

so L is in [0, 1]: 0 for a perfect positive linear relation, 1/2 for none, 1 for a perfect negative one. The loss
is invariant to the scale and offset of the predictions, which is why a trained network's raw output needs a
calibration before it reads as a score (see :mod:`trainer.train`).

Robustness (no branch, no host synchronisation, so it is safe under CUDA graphs and AMP):

- fewer than two values, or constant labels: the correlation is undefined; the loss is the constant 1/2
  ("no correlation") and its gradient is zero, so such a batch does not move the network;
- constant predictions (with varying labels): the loss is 1/2 with a finite gradient, thanks to a small ``eps``
  added under the square root of the prediction variance;
- an empty batch gives a zero loss attached to the graph.

Gradient accumulation and several GPUs: the PLCC of a batch is not a sum over its samples, so the mean of
per-micro-batch PLCC losses is *not* the batch's PLCC (it is a noisier estimate, and it needs at least two
samples per micro-batch). :mod:`trainer.train` therefore computes the exact gradient of the whole batch's loss:
it gathers the predictions of every micro-batch (and every GPU) without a graph, obtains ``dL/dŷ`` for the whole
batch with :func:`plcc_grad`, and back-propagates each micro-batch's slice of that gradient through a second
forward pass of that micro-batch. Up to floating-point rounding the update is then the one a single batch of
that size would give, whatever the micro-batch size, except for BatchNorm statistics when the CNN's BatchNorm
adapts (each micro-batch normalises with its own statistics, as with any accumulation or DDP without
SyncBatchNorm).

An optional ordering term (not in the paper; ``loda train --rank-weight``) adds, for every two images of the same
group in a batch (two damaged copies of one reference photo), a hinge that asks the better-labelled one to score
higher by the gap of their labels, both measured in standard deviations of the batch
(:func:`within_group_order_loss`). PLCC over a batch of many photos barely notices that one photo's clean copy
and its mildest damage are swapped; this term does. Like PLCC it ignores the scale and offset of the predictions.

A second optional term (``loda train --pair-weight``) needs no label: some crops of each batch are copied with
faint noise or blur added on the fly (:func:`trainer.train.faint_copies`), and a hinge asks each copy to score
below its source by a small margin, in standard deviations of the batch's predictions
(:func:`faint_copy_order_loss`). The copies are not part of the PLCC term. This is the pairwise ranking of
synthetically degraded images of RankIQA (Liu et al., ICCV 2017), aimed at damage too faint for the
full-reference labels to separate from the clean photo.
"""

from __future__ import annotations

import torch

__all__ = [
    "batch_loss_grad",
    "faint_copy_order_loss",
    "pair_loss_grad",
    "plcc",
    "plcc_grad",
    "plcc_loss",
    "spread",
    "within_group_order_loss",
]

EPS = 1e-6


def plcc(pred: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Pearson correlation of two 1-D tensors, differentiable; 0 where it is undefined (see the module doc)."""
    pred = pred.reshape(-1).float()
    target = target.reshape(-1).to(pred)
    if pred.numel() != target.numel():
        raise ValueError(f"pred and target differ in length: {pred.numel()} vs {target.numel()}")
    if pred.numel() == 0:
        return pred.sum() * 0.0
    vp = pred - pred.mean()
    vt = target - target.mean()
    pred_norm = torch.sqrt((vp * vp).sum() + eps * eps)
    target_norm = vt.norm().clamp_min(eps)
    return (vp * vt).sum() / (pred_norm * target_norm)


def plcc_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. 5: ``(1 - PLCC(pred, target)) / 2``, a scalar in [0, 1]; computed in float32 even under autocast."""
    if pred.numel() == 0:
        return pred.sum().float() * 0.0
    return (1.0 - plcc(pred, target, eps)) / 2.0


def plcc_grad(pred: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, dloss/dpred)`` of :func:`plcc_loss` for a whole batch, without touching ``pred``'s graph.

    Used to split one batch over micro-batches or GPUs exactly: back-propagating ``(pred_k * grad_k).sum()`` for
    each part ``k`` gives the gradient of the whole batch's loss.
    """
    leaf = pred.detach().reshape(-1).float().requires_grad_(True)
    with torch.enable_grad():
        loss = plcc_loss(leaf, target.detach().reshape(-1), eps)
        (grad,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), grad


def spread(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """The deviation ``sqrt(mean((x - mean x)²) + eps²)``, the unit of the ordering terms."""
    centred = x - x.mean()
    return torch.sqrt((centred * centred).mean() + eps * eps)


def _standardise(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    return (x - x.mean()) / spread(x, eps)


def within_group_order_loss(
    pred: torch.Tensor, target: torch.Tensor, groups: torch.Tensor, cap: float = 0.5, eps: float = EPS
) -> torch.Tensor:
    """Mean hinge ``max(0, min(Δt, cap) - Δz)`` over the pairs ``(i, j)`` of one group with ``t_i > t_j``, where
    ``z`` and ``t`` are the batch's predictions and labels standardised (zero mean, unit deviation) and
    ``Δ = value_i - value_j``; negative group ids belong to no group. A perfectly linear prediction costs nothing;
    a swapped pair costs at least its label gap (at most ``cap``). 0 (attached to the graph) without pairs."""
    pred = pred.reshape(-1).float()
    target = target.reshape(-1).to(pred)
    groups = groups.reshape(-1).to(pred.device)
    if pred.numel() < 2:
        return pred.sum() * 0.0
    z, t = _standardise(pred, eps), _standardise(target, eps)
    gap_t = t[:, None] - t[None, :]
    pairs = (groups[:, None] == groups[None, :]) & (groups[:, None] >= 0) & (gap_t > 1e-6)
    hinge = torch.relu(gap_t.clamp(max=cap) - (z[:, None] - z[None, :]))
    n = pairs.sum()
    return torch.where(pairs, hinge, torch.zeros_like(hinge)).sum() / n.clamp_min(1).to(hinge)


def batch_loss_grad(
    pred: torch.Tensor,
    target: torch.Tensor,
    groups: torch.Tensor | None = None,
    rank_weight: float = 0.0,
    eps: float = EPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, dloss/dpred)`` of ``plcc_loss + rank_weight * within_group_order_loss`` for a whole batch (the
    second term only with ``groups`` and a positive weight), without touching ``pred``'s graph; see
    :func:`plcc_grad`."""
    if groups is None or rank_weight <= 0:
        return plcc_grad(pred, target, eps)
    leaf = pred.detach().reshape(-1).float().requires_grad_(True)
    with torch.enable_grad():
        y = target.detach().reshape(-1)
        loss = plcc_loss(leaf, y, eps) + rank_weight * within_group_order_loss(leaf, y, groups.detach(), eps=eps)
        (grad,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), grad


def faint_copy_order_loss(
    source: torch.Tensor, copy: torch.Tensor, scale: torch.Tensor | float, margin: float = 0.05
) -> torch.Tensor:
    """Mean hinge ``max(0, margin - (source_i - copy_i) / scale)``: each damaged copy must score below its source
    by ``margin`` units of ``scale`` (the batch's prediction deviation, treated as a constant). 0 (attached to
    the graph) without pairs."""
    source, copy = source.reshape(-1).float(), copy.reshape(-1).float()
    if source.numel() != copy.numel():
        raise ValueError(f"sources and copies differ in number: {source.numel()} vs {copy.numel()}")
    if source.numel() == 0:
        return source.sum() * 0.0
    return torch.relu(margin - (source - copy) / scale).mean()


def pair_loss_grad(
    pred: torch.Tensor, sources: torch.Tensor, copies: torch.Tensor, scale: torch.Tensor | float, margin: float = 0.05
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, dloss/dpred)`` of :func:`faint_copy_order_loss` over ``pred[sources]`` and ``pred[copies]`` (index
    tensors into ``pred``), without touching ``pred``'s graph; see :func:`plcc_grad`."""
    leaf = pred.detach().reshape(-1).float().requires_grad_(True)
    scale = torch.as_tensor(scale, dtype=leaf.dtype, device=leaf.device).detach()
    with torch.enable_grad():
        loss = faint_copy_order_loss(leaf[sources], leaf[copies], scale, margin)
        (grad,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), grad
