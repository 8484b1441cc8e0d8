"""The fine-tuning baselines of Table V, on the same ViT as LoDa, so the comparison can be rerun.

Every method wraps the ViT a LoDa config names (``LodaConfig.vit``: ViT-B/16, ImageNet-21k, for the paper's
model) and ends in the same head as LoDa (dropout, then the cosine-normalised linear regressor on the final CLS
token), so the methods differ only in how the ViT is adapted:

==========  =================================================================================  ==================
method      what trains (besides the head)                                                      ``dim`` default
==========  =================================================================================  ==================
linear      nothing: linear probe of the frozen ViT                                             -
full        every ViT parameter (full fine-tuning)                                              -
adapter     Houlsby adapters: a bottleneck MLP (d → dim → d, GELU, residual) after the          64 (LoDa's r)
            attention and after the MLP of every block; up-projection zero-initialised
lora        LoRA on the fused qkv projection of every block: qkv(x) + (α/dim)·B·A·x,            8 (α = dim)
            A Kaiming-uniform, B zero-initialised
vpt         VPT-deep: ``dim`` learnable prompt tokens inserted after CLS before every block     10
            (replacing the previous block's prompt outputs), uniform Xavier-style init
cnn_head    a CNN-only control of this project's (no ViT at all; not a row of the paper's Table     -
            VI): LoDa's extractors on the frozen CNN, their tokens averaged, then the head
==========  =================================================================================  ==================

The paper does not give the baselines' hyperparameters; the defaults above are the usual ones from the Adapter
(Houlsby et al., 2019), LoRA (Hu et al., 2022) and VPT (Jia et al., 2022) papers. With zero-initialised additions
(adapter, LoRA) the network starts as the frozen ViT, like LoDa with s_i ≈ 0.

Each model takes RGB crops in [0, 1] (normalised inside with the ViT's mean/std), returns scores of shape (B,),
and answers ``trainable_parameters()``. It carries ``config`` (a :class:`model.configs.LodaConfig`) so the scorer
preprocesses for it exactly as for LoDa. ``--method loda`` is not here: it is the real LoDa from
:func:`model.create_model`.

Baseline weights are research artefacts, not app profiles: :func:`save_baseline` writes a safetensors file with
``format = "loda-baseline"`` metadata that :func:`load_baseline` reads back (the app's profile loader refuses it).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from model.configs import LodaConfig
from model.loda import create_cnn_branch, create_head, create_vit_branch

from .constants import BASELINES, METHODS

__all__ = [
    "BASELINES",
    "DEFAULT_DIM",
    "METHODS",
    "Adapter",
    "CNNRegressor",
    "LoRALinear",
    "ViTRegressor",
    "create_baseline",
    "load_baseline",
    "save_baseline",
]

DEFAULT_DIM = {"adapter": 64, "lora": 8, "vpt": 10}
BASELINE_FORMAT = "loda-baseline"


class Adapter(nn.Module):
    """Houlsby bottleneck: ``x + up(GELU(down(x)))``; ``up`` starts at zero, so the adapter starts as identity."""

    def __init__(self, dim: int, bottleneck: int) -> None:
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


class _Then(nn.Module):
    """``after(inner(x, ...))``: puts an adapter behind a timm sub-layer without changing its call signature."""

    def __init__(self, inner: nn.Module, after: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.after = after

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.after(self.inner(x, *args, **kwargs))


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update ``(alpha / rank) · B A``; B starts at zero."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None) -> None:
        super().__init__()
        self.base = base
        self.rank = rank
        self.scaling = (alpha if alpha is not None else rank) / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scaling


class ViTRegressor(nn.Module):
    """A ViT adapted by one of the Table V methods, with LoDa's head. Build it with :func:`create_baseline`."""

    def __init__(
        self,
        config: LodaConfig,
        method: str,
        *,
        dim: int | None = None,
        pretrained: bool | None = None,
        vit_weights: Path | None = None,
        search_dirs: Iterable[Path] = (),
    ) -> None:
        super().__init__()
        if method not in BASELINES or method == "cnn_head":
            raise ValueError(f"unknown baseline {method!r}; choose one of {', '.join(BASELINES)}")
        pretrained = config.pretrained if pretrained is None else pretrained
        self.config = config if pretrained == config.pretrained else config.replace(pretrained=pretrained)
        self.method = method
        self.dim = dim if dim is not None else DEFAULT_DIM.get(method)
        if self.dim is not None and self.dim < 1:
            raise ValueError(f"{method}: the size of the additions must be at least 1, got {self.dim}")
        self.vit = create_vit_branch(config, pretrained, vit_weights, search_dirs)
        for p in self.vit.parameters():
            p.requires_grad_(method == "full")
        embed_dim = self.vit.embed_dim
        self.embed_dim = embed_dim
        self.prompts: nn.Parameter | None = None
        if method == "adapter":
            for block in self.vit.blocks:
                block.attn = _Then(block.attn, Adapter(embed_dim, self.dim))
                block.mlp = _Then(block.mlp, Adapter(embed_dim, self.dim))
        elif method == "lora":
            for block in self.vit.blocks:
                block.attn.qkv = LoRALinear(block.attn.qkv, self.dim)
        elif method == "vpt":
            patch = self.vit.patch_embed.patch_size
            fan = 3 * int(patch[0]) * int(patch[1]) + embed_dim
            bound = math.sqrt(6.0 / fan)
            self.prompts = nn.Parameter(torch.empty(len(self.vit.blocks), self.dim, embed_dim).uniform_(-bound, bound))
        self.head_drop = nn.Dropout(config.dropout)
        self.head = create_head(config, embed_dim)
        for name, values in (("vit_mean", config.vit_mean), ("vit_std", config.vit_std)):
            self.register_buffer(name, torch.tensor(values).view(1, 3, 1, 1), persistent=False)

    # --- what trains -------------------------------------------------------------------------------------
    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def set_bn_adapt(self, adapt: bool) -> None:
        """The ViT has no BatchNorm: nothing to do (kept so every method answers the same calls)."""

    def train(self, mode: bool = True) -> ViTRegressor:
        super().train(mode)
        if self.method != "full":
            self.vit.eval()  # frozen: no dropout / drop-path inside the backbone
        return self

    # --- forward -----------------------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        vit = self.vit
        x = (x - self.vit_mean) / self.vit_std
        if self.prompts is None:
            return vit.forward_features(x)[:, 0]
        tokens = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(x))))
        prefix = vit.num_prefix_tokens
        n_prompts = self.prompts.shape[1]
        for i, block in enumerate(vit.blocks):
            prompt = self.prompts[i].unsqueeze(0).expand(tokens.shape[0], -1, -1).to(tokens.dtype)
            rest = tokens[:, prefix + (n_prompts if i else 0) :]
            tokens = block(torch.cat([tokens[:, :prefix], prompt, rest], dim=1))
        return vit.norm(tokens)[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Quality scores, shape (B,), for crops (B, 3, H, W) with values in [0, 1]."""
        return self.head(self.head_drop(self.forward_features(x)))


class CNNRegressor(nn.Module):
    """A CNN-only control (this project's; the paper's Table VI has no such row: its ablations are the full
    fine-tune, "ViT + Extractor" and LoDa): the frozen CNN, LoDa's extractors, their tokens' mean, LoDa's head."""

    method = "cnn_head"
    dim = None

    def __init__(
        self,
        config: LodaConfig,
        *,
        pretrained: bool | None = None,
        cnn_weights: Path | None = None,
        search_dirs: Iterable[Path] = (),
    ) -> None:
        super().__init__()
        pretrained = config.pretrained if pretrained is None else pretrained
        self.config = config if pretrained == config.pretrained else config.replace(pretrained=pretrained)
        self.cnn, self.extractors = create_cnn_branch(config, pretrained, cnn_weights, search_dirs)
        for p in self.cnn.parameters():
            p.requires_grad_(False)
        self.head_drop = nn.Dropout(config.dropout)
        self.head = create_head(config, config.r)
        for name, values in (("cnn_mean", config.cnn_mean), ("cnn_std", config.cnn_std)):
            self.register_buffer(name, torch.tensor(values).view(1, 3, 1, 1), persistent=False)
        self.bn_adapt = True

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def set_bn_adapt(self, adapt: bool) -> None:
        self.bn_adapt = adapt
        self.train(self.training)

    def train(self, mode: bool = True) -> CNNRegressor:
        super().train(mode)
        self.cnn.train(mode and self.bn_adapt)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.cnn((x - self.cnn_mean) / self.cnn_std)
        tokens = torch.cat([ext(f) for ext, f in zip(self.extractors, features, strict=True)], dim=1)
        return self.head(self.head_drop(tokens.mean(dim=1)))


def create_baseline(
    method: str,
    config: LodaConfig,
    *,
    dim: int | None = None,
    pretrained: bool | None = None,
    vit_weights: Path | None = None,
    cnn_weights: Path | None = None,
    search_dirs: Iterable[Path] = (),
) -> ViTRegressor | CNNRegressor:
    """A Table V baseline on ``config``'s ViT (pretrained as the config says unless ``pretrained`` is given), or
    this project's CNN-only control on its CNN."""
    if method == "cnn_head":
        return CNNRegressor(config, pretrained=pretrained, cnn_weights=cnn_weights, search_dirs=search_dirs)
    return ViTRegressor(
        config, method, dim=dim, pretrained=pretrained, vit_weights=vit_weights, search_dirs=search_dirs
    )


def save_baseline(
    model: ViTRegressor | CNNRegressor, path: Path | str, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write a baseline's weights (trainable tensors; all tensors when the ViT is random or fully fine-tuned)."""
    from safetensors.torch import save_file

    path = Path(path)
    full = model.method == "full" or not model.config.pretrained
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if full or k in trainable}
    meta = {
        "method": model.method,
        "dim": model.dim,
        "config": model.config.to_dict(),
        "complete": full,
        **dict(metadata or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"format": BASELINE_FORMAT, "loda": json.dumps(meta, sort_keys=True)})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_baseline(
    path: Path | str,
    *,
    vit_weights: Path | None = None,
    search_dirs: Iterable[Path] = (),
) -> tuple[ViTRegressor | CNNRegressor, dict[str, Any]]:
    """Rebuild a baseline written by :func:`save_baseline`; returns ``(model in eval mode, metadata)``."""
    from safetensors import safe_open

    path = Path(path)
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata() or {}
        if header.get("format") != BASELINE_FORMAT:
            raise ValueError(f"{path}: not a LoDa baseline checkpoint")
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    meta = json.loads(header["loda"])
    config = LodaConfig.from_dict(meta["config"])
    complete = bool(meta.get("complete"))
    model = create_baseline(
        meta["method"],
        config,
        dim=meta.get("dim"),
        pretrained=False if complete else None,
        vit_weights=vit_weights,
        search_dirs=search_dirs,
    )
    model.config = config
    missing, unexpected = model.load_state_dict(tensors, strict=complete)
    if unexpected or (not complete and set(missing) & {n for n, p in model.named_parameters() if p.requires_grad}):
        raise ValueError(f"{path}: the tensors do not match a {meta['method']} baseline of {config.name}")
    return model.eval(), meta
