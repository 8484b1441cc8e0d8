"""Quality-aware pretraining of a ViT from scratch, for configs whose ViT the project makes itself (``loda_lite``).

LoDa freezes an ImageNet-pretrained ViT; no such ViT can be installed on a machine without internet, where the app's
default model is trained (docs/default-model.md), so the default model's transformer is pretrained here on the
synthetic distortion dataset of :mod:`trainer.synthetic` and then frozen. The pretext task is the one the generator
gives for free: from a random 224×224 crop, name the distortion type (23-way) and its level (5-way), two linear
heads on the CLS token, summed cross-entropies. The pseudo-MOS is never used, so the frozen ViT learns *what* went
wrong and *how badly*, and the LoDa adapter trained afterwards still has to learn how much each matters. Only the
training split's reference photos are used (the same grouped split, seed and fraction as ``loda train``), so the
held-out photos stay unseen by every trained part.

Training drops half of the patch tokens at random (timm's ``patch_drop_rate``), which halves the cost per step on
a CPU; the saved weights are those of a plain ViT at 224 px, with the config's shape. The output is a safetensors
file that ``loda train --vit-weights FILE`` (or the models folder, under the config's ``vit_local_name``) reads.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import TrainError

log = logging.getLogger(__name__)

__all__ = ["PretrainConfig", "pretrain_vit"]


@dataclass
class PretrainConfig:
    model: str = "loda_lite"
    steps: int = 600
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 50
    patch_drop: float = 0.5
    train_fraction: float = 0.8
    seed: int = 0
    workers: int = 1
    eval_images: int = 512
    amp: bool = False  # bfloat16 autocast for the training steps (faster here on a CPU with AVX-512 BF16)

    def validate(self) -> None:
        checks = [
            (self.steps >= 1, f"steps must be at least 1, got {self.steps}"),
            (self.batch >= 2, f"the batch must be at least 2, got {self.batch}"),
            (self.lr > 0 and math.isfinite(self.lr), f"the learning rate must be positive, got {self.lr}"),
            (0.0 <= self.patch_drop < 1.0, f"patch-drop must be in [0, 1), got {self.patch_drop}"),
            (0.0 < self.train_fraction < 1.0, f"the train fraction must be in (0, 1), got {self.train_fraction}"),
            (self.workers >= 0, f"workers must not be negative, got {self.workers}"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainError(message)


def _labelled(csv_path: Path) -> tuple[list[Any], list[int], list[int], list[str]]:
    """Samples (as ``loda train`` reads them), distortion-type indices, level indices (0-based), type names.

    Reference photos listed as themselves (level 0, ``make-synthetic --with-references``) are left out: the
    pretext task names a distortion and its level."""
    from .datasets import DatasetError, read_csv_table

    try:
        samples = read_csv_table(csv_path)
    except DatasetError as exc:
        raise TrainError(str(exc)) from None
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "distortion" not in rows[0] or "level" not in rows[0]:
        raise TrainError(f"{csv_path}: needs 'distortion' and 'level' columns (a `loda make-synthetic` table)")
    try:
        level_of = [int(r["level"]) for r in rows]
    except ValueError:
        raise TrainError(f"{csv_path}: the 'level' column must hold whole numbers") from None
    if min(level_of) < 0 or max(level_of) < 1:
        raise TrainError(f"{csv_path}: levels start at 1 (0 marks a reference photo)")
    keep = [i for i, lv in enumerate(level_of) if lv >= 1]  # level 0: an undamaged reference photo
    samples, rows = [samples[i] for i in keep], [rows[i] for i in keep]
    types = sorted({r["distortion"] for r in rows})
    index = {t: i for i, t in enumerate(types)}
    levels = [level_of[i] - 1 for i in keep]
    return samples, [index[r["distortion"]] for r in rows], levels, types


class _Crops(torch.utils.data.Dataset):
    """Random 224 crops with flips from the listed images, as uint8 (3, S, S) tensors plus both labels."""

    def __init__(self, paths: Sequence[Path], types: Sequence[int], levels: Sequence[int], config: Any, seed: int):
        self.paths, self.types, self.levels, self.seed = list(paths), types, levels, seed
        self.size, self.short_side = config.img_size, config.short_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        from model.preprocess import load_for_model, train_crops

        index, draw = item
        img = load_for_model(self.paths[index], self.short_side)
        rng = np.random.default_rng((self.seed, index, draw))
        crop = train_crops(img, 1, self.size, rng)[0]
        return torch.from_numpy(np.ascontiguousarray(crop)), self.types[index], self.levels[index]


class _Sampler(torch.utils.data.Sampler):
    def __init__(self, n: int, total: int, seed: int) -> None:
        self.n, self.total, self.seed = n, total, seed

    def __len__(self) -> int:
        return self.total

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        draw = 0
        while draw < self.total:
            for index in rng.permutation(self.n)[: self.total - draw]:
                yield int(index), draw
                draw += 1


class PretrainNet(nn.Module):
    """The config's ViT (no classifier) plus the two pretext heads."""

    def __init__(self, config: Any, n_types: int, n_levels: int, patch_drop: float) -> None:
        super().__init__()
        import timm

        self.vit = timm.create_model(
            config.vit,
            pretrained=False,
            num_classes=0,
            img_size=config.img_size,
            patch_drop_rate=patch_drop,
            **config.vit_kwargs,
        )
        self.type_head = nn.Linear(self.vit.embed_dim, n_types)
        self.level_head = nn.Linear(self.vit.embed_dim, n_levels)
        self.register_buffer("mean", torch.tensor(config.vit_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.vit_std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cls = self.vit((x.float() / 255.0 - self.mean) / self.std)
        return self.type_head(cls), self.level_head(cls)


def _lr(cfg: PretrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))


def _accuracy(net: PretrainNet, data: _Crops, indices: Sequence[int], batch: int) -> tuple[float, float]:
    """Type and level accuracy on one fixed random crop per image (patch drop is off in eval mode)."""
    net.eval()
    hits_t = hits_l = 0
    with torch.no_grad():
        for start in range(0, len(indices), batch):
            chunk = indices[start : start + batch]
            items = [data[(i, 0)] for i in chunk]
            x = torch.stack([it[0] for it in items])
            t, lv = net(x)
            hits_t += int((t.argmax(1) == torch.tensor([it[1] for it in items])).sum())
            hits_l += int((lv.argmax(1) == torch.tensor([it[2] for it in items])).sum())
    net.train()
    return hits_t / max(1, len(indices)), hits_l / max(1, len(indices))


def pretrain_vit(
    csv_path: Path | str,
    out_path: Path | str,
    cfg: PretrainConfig | None = None,
    *,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Pretrain ``cfg.model``'s ViT on a ``loda make-synthetic`` table and write its weights to ``out_path``.

    Returns the record stored in the file's metadata: settings, held-out type/level accuracy, seconds.
    """
    from model.configs import ConfigError, get_config

    from .splits import train_test_split

    cfg = cfg or PretrainConfig()
    cfg.validate()
    try:
        config = get_config(cfg.model)
    except ConfigError as exc:
        raise TrainError(str(exc)) from None
    csv_path, out_path = Path(csv_path), Path(out_path)
    samples, types, levels, names = _labelled(csv_path)
    try:
        train_idx, test_idx = train_test_split(samples, cfg.train_fraction, cfg.seed)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    torch.manual_seed(cfg.seed)
    net = PretrainNet(config, len(names), max(levels) + 1, cfg.patch_drop)
    data = _Crops([s.path for s in samples], types, levels, config, cfg.seed)
    sampler = _Sampler(len(train_idx), cfg.steps * cfg.batch, cfg.seed)
    mapped = _Mapped(data, train_idx)
    loader = torch.utils.data.DataLoader(
        mapped, batch_size=cfg.batch, sampler=sampler, num_workers=cfg.workers, drop_last=True
    )
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    net.train()
    started = time.perf_counter()
    losses: list[float] = []
    for step, (x, t, lv) in enumerate(loader):
        for group in optimizer.param_groups:
            group["lr"] = _lr(cfg, step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.amp):
            logits_t, logits_l = net(x)
        loss = F.cross_entropy(logits_t.float(), t) + F.cross_entropy(logits_l.float(), lv)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if progress:
            progress(step + 1, cfg.steps, float(np.mean(losses[-20:])))
    rng = np.random.default_rng(cfg.seed)
    held = sorted(rng.permutation(test_idx)[: cfg.eval_images].tolist())
    seen = sorted(rng.permutation(train_idx)[: cfg.eval_images].tolist())
    type_acc, level_acc = _accuracy(net, data, held, cfg.batch)
    train_type_acc, train_level_acc = _accuracy(net, data, seen, cfg.batch)
    record = {
        "what": f"{config.name} ViT pretrained from scratch: distortion type ({len(names)}) + level classification",
        "config": config.name,
        "settings": asdict(cfg),
        "data": {
            "csv": csv_path.name,
            "train_images": len(train_idx),
            "train_groups": len({samples[i].group for i in train_idx}),
            "held_out_groups": len({samples[i].group for i in test_idx}),
            "types": names,
        },
        "held_out": {"type_accuracy": round(type_acc, 4), "level_accuracy": round(level_acc, 4)},
        "train": {"type_accuracy": round(train_type_acc, 4), "level_accuracy": round(train_level_acc, 4)},
        "final_loss": round(float(np.mean(losses[-50:])), 4),
        "seconds": round(time.perf_counter() - started, 1),
    }
    _save(net.vit, out_path, record)
    return record


class _Mapped(torch.utils.data.Dataset):
    """``data`` seen through ``indices``: the sampler draws positions in the training split."""

    def __init__(self, data: _Crops, indices: Sequence[int]) -> None:
        self.data, self.indices = data, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        position, draw = item
        return self.data[(self.indices[position], draw)]


def _save(vit: nn.Module, path: Path, record: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in vit.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"format": "pt", "loda_pretrain": json.dumps(record, sort_keys=True)})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
