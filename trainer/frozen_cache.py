"""The frozen parts' outputs of a fine-tune's crops, computed once (:class:`FrozenCache`), and the crops worth
caching within a memory budget (:func:`build_caches`): the held-out crops, scored at every evaluation, and a bank
of training crops drawn once per photo, from which each epoch takes the next ``train_crops``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from model.loda import LoDa

    from .data import ImageStore
    from .finetune import FinetuneConfig

__all__ = ["Caches", "FrozenCache", "build_caches"]


class FrozenCache:
    """The frozen parts' outputs (:meth:`model.loda.LoDa.embed_tokens`, :meth:`~model.loda.LoDa.cnn_features`) for
    a fixed list of crops, computed once.

    Why: LoDa's injectors feed every ViT block, so the ViT blocks must run again each epoch, but with the CNN's
    BatchNorm frozen (``set_bn_adapt(False)``) the CNN's stage outputs and the ViT's patch tokens depend on the crop
    alone. On the default model the CNN is two thirds of a forward pass on a CPU (EfficientNet-Lite0's depthwise
    convolutions): reusing its outputs makes an evaluation about 3× and a training step about 1.6× cheaper
    (docs/training.md §9). :meth:`forward` gives ``module(crops)`` up to float rounding
    (``tests/trainer/test_finetune_cache.py``). Memory: :meth:`crop_bytes` per crop, float32 (728,320 bytes for
    the default model)."""

    def __init__(self, module: LoDa, chunks: Iterable[np.ndarray], *, batch: int = 32) -> None:
        """``chunks``: uint8 crops (k, 3, S, S), k ≥ 1, in row order (one photo's crops, say); they run through the
        frozen parts ``batch`` crops or more at a time."""
        import torch

        device = next(module.parameters()).device
        tokens: list[torch.Tensor] = []
        features: list[list[torch.Tensor]] = []
        pending: list[np.ndarray] = []

        def run() -> None:
            x = torch.from_numpy(np.concatenate(pending)).to(device).float().div_(255.0)
            tokens.append(module.embed_tokens(x))
            features.append(module.cnn_features(x))
            pending.clear()

        was_training = module.training
        module.eval()
        with torch.no_grad():
            for chunk in chunks:
                pending.append(np.asarray(chunk))
                if sum(len(c) for c in pending) >= batch:
                    run()
            if pending:
                run()
        module.train(was_training)
        self.tokens = torch.cat(tokens)
        self.features = [torch.cat(stage) for stage in zip(*features, strict=True)]

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @staticmethod
    def crop_bytes(module: LoDa) -> int:
        """Bytes one cached crop takes (measured on a blank crop)."""
        import torch

        size = module.config.img_size
        device = next(module.parameters()).device
        was_training = module.training
        module.eval()
        with torch.no_grad():
            x = torch.zeros(1, 3, size, size, device=device)
            parts = [module.embed_tokens(x), *module.cnn_features(x)]
        module.train(was_training)
        return sum(p.numel() * p.element_size() for p in parts)

    def forward(self, module: LoDa, rows: Any) -> Any:
        """Raw outputs (float32, shape (len(rows),)) of ``module`` for the cached crops ``rows`` (a LongTensor)."""
        return module.forward_cached(self.tokens[rows], [f[rows] for f in self.features]).float().reshape(-1)

    def image_means(self, module: LoDa, crops: int, batch: int) -> np.ndarray:
        """Mean raw output per image, rows ``k * crops ... (k + 1) * crops - 1`` being image k's crops: what
        :func:`trainer.data.predict` returns for the same crops. Leaves ``module`` in eval mode."""
        import torch

        module.eval()
        outs = []
        with torch.no_grad():
            for start in range(0, len(self), batch):
                rows = torch.arange(start, min(len(self), start + batch), device=self.tokens.device)
                outs.append(self.forward(module, rows).double().cpu().numpy())
        return np.concatenate(outs).reshape(-1, crops).mean(axis=1)


@dataclass
class Caches:
    """What :func:`build_caches` could fit: the held-out crops' cache and the training crop bank (``bank`` crops per
    training photo), each None when it did not fit."""

    test: FrozenCache | None
    bank: FrozenCache | None
    bank_size: int


def build_caches(
    module: LoDa,
    store: ImageStore,
    train_idx: Sequence[int],
    test_idx: Sequence[int],
    cfg: FinetuneConfig,
    test_crops: int,
    check: Callable[[], None] = lambda: None,
) -> Caches:
    """Cache the ``test_crops`` deterministic crops of each held-out photo if they fit in ``cfg.cache_mb`` MB, then
    a bank of random training crops (``cfg.bank_crops`` per photo; None: twice ``cfg.train_crops``, drawn from
    ``cfg.seed``) in what is left: a bank that does not fit shrinks, down to ``cfg.train_crops`` per photo, and is
    otherwise left out. ``check()`` runs before each photo (it raises to stop, e.g. when the user cancels)."""
    from model.preprocess import inference_crops
    from model.preprocess import train_crops as draw_train_crops

    config = module.config
    seed, train_crops, batch = cfg.seed, cfg.train_crops, cfg.eval_batch
    crop_bytes = FrozenCache.crop_bytes(module)
    budget = cfg.cache_mb * 2**20

    def held_out() -> Iterator[np.ndarray]:
        for i in test_idx:
            check()
            yield inference_crops(store.get(i), test_crops, config.img_size)  # already decoded at the short side

    def bank_of(bank: int) -> Iterator[np.ndarray]:
        for i in train_idx:
            check()
            rng = np.random.default_rng((seed, 0xBA, i))
            yield draw_train_crops(store.get(i), bank, config.img_size, rng)  # type: ignore[arg-type]

    test_cache = None
    if len(test_idx) * test_crops * crop_bytes <= budget:
        budget -= len(test_idx) * test_crops * crop_bytes
        test_cache = FrozenCache(module, held_out(), batch=batch)
    bank = 2 * train_crops if cfg.bank_crops is None else cfg.bank_crops
    bank = min(bank, budget // max(1, len(train_idx) * crop_bytes))
    bank_cache = FrozenCache(module, bank_of(bank), batch=batch) if bank >= train_crops else None
    return Caches(test=test_cache, bank=bank_cache, bank_size=bank)
