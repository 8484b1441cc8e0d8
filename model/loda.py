"""LoDa: a frozen ViT and a frozen CNN joined by a small trained adapter (Xu et al., CVPR 2024, Sec. III).

Data flow for a batch of 224×224 crops with RGB values in [0, 1]:

    CNN (frozen) ─ stage j ─> LocalDistortionExtractor_j ─> 7×7×r ─┐  (4 stages ⇒ 196 distortion tokens)
                                                                    ├─> LocalDistortionInjector_i before ViT
    ViT (frozen): patch embed + pos embed ─> [inject_i, block group i] × N ─> norm ─> CLS ─> dropout ─> head

Only the extractors, injectors (with their scale vectors s_i) and the head train. The network normalises its
input once per branch with each backbone's own mean and std, so callers feed plain [0, 1] RGB.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .backbones import create_backbone
from .configs import ConfigError, LodaConfig


class LocalDistortionExtractor(nn.Module):
    """One CNN stage → r-wide local distortion features on a pool×pool grid (Fig. 3a)."""

    def __init__(self, in_channels: int, r: int, pool: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, r, kernel_size=1, bias=True)
        self.act = nn.GELU()
        self.conv3 = nn.Conv2d(r, r, kernel_size=3, padding=1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv3(self.act(self.conv1(x))))
        return x.flatten(2).transpose(1, 2)  # (B, pool*pool, r)


class CrossAttention(nn.Module):
    """Multi-head cross-attention in width r: queries from the ViT tokens, keys/values from distortion tokens.
    ``qkv_bias=False`` is the authors' released module (their q/k/v projections have no bias)."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, n, d = query.shape
        m = context.shape[1]
        h = self.heads
        q = self.q(query).reshape(b, n, h, d // h).transpose(1, 2)
        k = self.k(context).reshape(b, m, h, d // h).transpose(1, 2)
        v = self.v(context).reshape(b, m, h, d // h).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


def init_scale(scale: torch.Tensor, how: str = "trunc_normal") -> None:
    """s_i near 0, so the network starts as the frozen ViT: N(0, 0.02²) cut at 2 std (``trunc_normal``, as timm
    initialises), or uncut (``normal``, the authors' released code)."""
    with torch.no_grad():
        if how == "normal":
            nn.init.normal_(scale, std=0.02)
        else:
            nn.init.trunc_normal_(scale, std=0.02, a=-0.04, b=0.04)


class LocalDistortionInjector(nn.Module):
    """Eq. 1–4: down-project ViT tokens, query the distortion tokens, up-project, add scaled by s_i."""

    def __init__(
        self, embed_dim: int, r: int, heads: int, *, qkv_bias: bool = True, scale_init: str = "trunc_normal"
    ) -> None:
        super().__init__()
        self.down = nn.Sequential(nn.Linear(embed_dim, r), nn.GELU(), nn.Linear(r, r))
        self.attn = CrossAttention(r, heads, qkv_bias)
        self.up = nn.Sequential(nn.Linear(r, embed_dim), nn.GELU(), nn.Linear(embed_dim, embed_dim))
        self.scale = nn.Parameter(torch.empty(embed_dim))
        init_scale(self.scale, scale_init)

    def forward(self, tokens: torch.Tensor, distortion_tokens: torch.Tensor) -> torch.Tensor:
        q = self.down(tokens)
        queried = self.attn(q, distortion_tokens) + q  # Eq. 1, residual on the query
        return tokens + self.scale * self.up(queried)  # Eq. 2


class AdditiveInjector(nn.Module):
    """Table VI's ablation "without injector": the distortion tokens, up-projected to the ViT's width (the same
    r→d→d MLP as the injector's) and scaled by s_i, are added position by position to the patch tokens."""

    def __init__(self, embed_dim: int, r: int, n_prefix: int, *, scale_init: str = "trunc_normal") -> None:
        super().__init__()
        self.n_prefix = n_prefix
        self.up = nn.Sequential(nn.Linear(r, embed_dim), nn.GELU(), nn.Linear(embed_dim, embed_dim))
        self.scale = nn.Parameter(torch.empty(embed_dim))
        init_scale(self.scale, scale_init)

    def forward(self, tokens: torch.Tensor, distortion_tokens: torch.Tensor) -> torch.Tensor:
        prefix, patches = tokens[:, : self.n_prefix], tokens[:, self.n_prefix :]
        if patches.shape[1] != distortion_tokens.shape[1]:
            raise ValueError(
                f"the additive ablation needs as many distortion tokens ({distortion_tokens.shape[1]}) as patch"
                f" tokens ({patches.shape[1]})"
            )
        return torch.cat([prefix, patches + self.scale * self.up(distortion_tokens)], dim=1)


class CosineHead(nn.Module):
    """Single-layer regressor on the CLS token with a cosine-normalised weight (the authors' head)."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features))
        self.bias = nn.Parameter(torch.zeros(1))
        nn.init.trunc_normal_(self.weight, std=0.02, a=-0.04, b=0.04)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) @ F.normalize(self.weight, dim=0) + self.bias


class NormedHead(nn.Module):
    """The authors' released head (``NormedLinear``): the cosine of the CLS token and a weight vector, no bias.
    The weight starts uniform in [-1, 1] rescaled to unit norm, as theirs does. Without a bias the output is
    bounded by ±1; the PLCC loss ignores scale and offset, and the saved score calibration restores them."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features))
        with torch.no_grad():
            self.weight.uniform_(-1.0, 1.0)
            self.weight.div_(self.weight.norm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) @ F.normalize(self.weight, dim=0)


DETAIL_STAGES = 3  # the CNN stages whose statistics the detail head reads: the finest, where 1-px damage shows


class DetailHead(nn.Module):
    """This project's detail head (not in the paper): scores a crop taken at the camera's resolution, where a
    missed focus of 1 px, a 5-px shake or sensor grain is still visible. Its input is, per channel of the first
    :data:`DETAIL_STAGES` stages of the frozen CNN, the mean and the log standard deviation over the crop (fine-scale
    texture statistics); ``shift`` / ``scale`` standardise that input (set from the training data and saved with the
    weights), then a one-hidden-layer MLP gives a raw score in the main head's units, so the profile's calibration
    applies to both. It reads nothing the adapter computes: training or fine-tuning the adapter (with the CNN's
    BatchNorm frozen, as fine-tuning keeps it) leaves it exact. Trained apart, on features computed once
    (``trainer.detail``); frozen everywhere else."""

    def __init__(self, in_features: int, hidden: int) -> None:
        super().__init__()
        self.register_buffer("shift", torch.zeros(in_features))
        self.register_buffer("scale", torch.ones(in_features))
        self.fc1 = nn.Linear(in_features, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1((x - self.shift) * self.scale))).squeeze(-1)


def detail_inputs(cnn_features: list[torch.Tensor]) -> torch.Tensor:
    """The detail head's input: each fine CNN stage's per-channel mean and log standard deviation over the crop."""
    parts = []
    for f in cnn_features[:DETAIL_STAGES]:
        flat = f.flatten(2)
        mean = flat.mean(-1)
        std = (flat - mean.unsqueeze(-1)).pow(2).mean(-1).add(1e-6).sqrt()
        parts += [mean, std.add(1e-3).log()]
    return torch.cat(parts, dim=1)


def create_head(config: LodaConfig, in_features: int) -> nn.Module:
    """The head ``config.head`` names (LoDa and the baselines share it, so they differ only before it)."""
    return NormedHead(in_features) if config.head == "normed" else CosineHead(in_features)


def interaction_layers(depth: int, n_interactions: int) -> list[int]:
    """Indices of the ViT blocks before which an injector acts: the first block of each of N equal groups."""
    if n_interactions > depth or depth % n_interactions:
        raise ConfigError(f"n_interactions={n_interactions} must divide the ViT depth {depth} into equal groups")
    step = depth // n_interactions
    return list(range(0, depth, step))


def create_vit_branch(
    config: LodaConfig, pretrained: bool, vit_weights: Path | None, search_dirs: Iterable[Path]
) -> nn.Module:
    """The frozen ViT without classifier (a project-made one, ``vit_hub=False``, is never fetched from the hub)."""
    return create_backbone(
        config.vit,
        role="ViT",
        pretrained=pretrained,
        weights_file=vit_weights,
        search_dirs=list(search_dirs),
        flag="--vit-weights",
        hub=config.vit_hub,
        local_name=config.vit_local_name or None,
        num_classes=0,
        img_size=config.img_size,
        **config.vit_kwargs,
    )


def create_cnn_branch(
    config: LodaConfig, pretrained: bool, cnn_weights: Path | None, search_dirs: Iterable[Path]
) -> tuple[nn.Module, nn.ModuleList]:
    """The frozen CNN (its ``cnn_out_indices`` stages) and one local distortion extractor per stage."""
    cnn = create_backbone(
        config.cnn,
        role="CNN",
        pretrained=pretrained,
        weights_file=cnn_weights,
        search_dirs=list(search_dirs),
        flag="--cnn-weights",
        features_only=True,
        out_indices=config.cnn_out_indices,
        **config.cnn_kwargs,
    )
    extractors = nn.ModuleList(LocalDistortionExtractor(c, config.r, config.pool) for c in cnn.feature_info.channels())
    return cnn, extractors


class LoDa(nn.Module):
    """The LoDa network. Build it with :func:`model.create_model` rather than directly."""

    def __init__(
        self,
        config: LodaConfig,
        *,
        pretrained: bool | None = None,
        vit_weights: Path | None = None,
        cnn_weights: Path | None = None,
        search_dirs: Iterable[Path] = (),
    ) -> None:
        super().__init__()
        pretrained = config.pretrained if pretrained is None else pretrained
        # the config records how the backbones were made, so a saved adapter knows it can rebuild them
        self.config = config if pretrained == config.pretrained else config.replace(pretrained=pretrained)
        search_dirs = list(search_dirs)
        self.vit = create_vit_branch(config, pretrained, vit_weights, search_dirs)
        self.cnn, self.extractors = create_cnn_branch(config, pretrained, cnn_weights, search_dirs)
        embed_dim = self.vit.embed_dim
        self.embed_dim = embed_dim
        self.inject_at = interaction_layers(len(self.vit.blocks), config.n_interactions)
        if config.injector == "add":
            n_prefix = self.vit.num_prefix_tokens
            self.injectors = nn.ModuleList(
                AdditiveInjector(embed_dim, config.r, n_prefix, scale_init=config.scale_init) for _ in self.inject_at
            )
        else:
            self.injectors = nn.ModuleList(
                LocalDistortionInjector(
                    embed_dim, config.r, config.heads, qkv_bias=config.qkv_bias, scale_init=config.scale_init
                )
                for _ in self.inject_at
            )
        self.head_drop = nn.Dropout(config.dropout)
        self.head = create_head(config, embed_dim)
        self.detail_head = None
        if config.detail_hidden:
            channels = self.cnn.feature_info.channels()[:DETAIL_STAGES]
            self.detail_head = DetailHead(2 * sum(channels), config.detail_hidden)
        for name, values in (
            ("vit_mean", config.vit_mean),
            ("vit_std", config.vit_std),
            ("cnn_mean", config.cnn_mean),
            ("cnn_std", config.cnn_std),
        ):
            self.register_buffer(name, torch.tensor(values).view(1, 3, 1, 1), persistent=False)
        self.bn_adapt = True
        self.freeze_backbones()

    # --- what trains -------------------------------------------------------------------------------------
    def freeze_backbones(self) -> None:
        for p in self.vit.parameters():
            p.requires_grad_(False)
        for p in self.cnn.parameters():
            p.requires_grad_(False)
        if self.detail_head is not None:  # trained apart (trainer.detail), never with the adapter
            for p in self.detail_head.parameters():
                p.requires_grad_(False)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def adapter_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors an adapter-only profile holds: every trainable tensor plus the CNN's BatchNorm buffers
        (the authors let those running statistics adapt while training, so they are part of the result), and the
        detail head's when the config has one."""
        trainable = {n for n, p in self.named_parameters() if p.requires_grad}
        bn_buffers = {
            f"cnn.{n}"
            for n, _ in self.cnn.named_buffers()
            if n.rsplit(".", 1)[-1] in {"running_mean", "running_var", "num_batches_tracked"}
        }
        state = self.state_dict()
        return {k: v for k, v in state.items() if k in trainable or k in bn_buffers or k.startswith("detail_head.")}

    def set_bn_adapt(self, adapt: bool) -> None:
        """``True`` (the paper's choice): the frozen CNN's BatchNorm statistics follow the training data.
        ``False``: BatchNorm stays in eval mode (steadier for small-data fine-tuning)."""
        self.bn_adapt = adapt
        self.train(self.training)

    def train(self, mode: bool = True) -> LoDa:
        super().train(mode)
        self.vit.eval()  # frozen: no dropout / drop-path inside the backbone
        self.cnn.train(mode and self.bn_adapt)
        return self

    # --- forward -----------------------------------------------------------------------------------------
    def cnn_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The frozen CNN's stage outputs for crops ``x`` in [0, 1]. With its BatchNorm in eval mode (``eval()``, or
        ``set_bn_adapt(False)``) they depend on the crop alone: fine-tuning computes them once per crop and feeds
        them to :meth:`forward_cached` in every epoch (``trainer.finetune``)."""
        return self.cnn((x - self.cnn_mean) / self.cnn_std)

    def embed_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen ViT's tokens before its first block (patch + position embedding, prefix tokens): they depend
        on the crop alone (the injectors act from the first block on), so they can be cached like
        :meth:`cnn_features`."""
        vit = self.vit
        return vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed((x - self.vit_mean) / self.vit_std))))

    def distortion_tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.distortion_from(self.cnn_features(x))

    def distortion_from(self, features: list[torch.Tensor]) -> torch.Tensor:
        """The distortion tokens from the CNN's stage outputs (:meth:`cnn_features`): the extractors train."""
        return torch.cat([ext(f) for ext, f in zip(self.extractors, features, strict=True)], dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The final CLS token of the ViT, with local distortion injected before each interaction point."""
        return self.features_from(self.embed_tokens(x), self.cnn_features(x))

    def features_from(self, tokens: torch.Tensor, cnn_features: list[torch.Tensor]) -> torch.Tensor:
        """:meth:`forward_features` from the frozen parts' outputs (:meth:`embed_tokens`, :meth:`cnn_features`)."""
        distortion = self.distortion_from(cnn_features)
        vit = self.vit
        injector_at = dict(zip(self.inject_at, self.injectors, strict=True))
        for i, block in enumerate(vit.blocks):
            injector = injector_at.get(i)
            if injector is not None:
                tokens = injector(tokens, distortion)
            tokens = block(tokens)
        tokens = vit.norm(tokens)
        return tokens[:, 0]

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_drop(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Quality scores, shape (B,), for crops of shape (B, 3, H, W) with values in [0, 1]."""
        return self.forward_head(self.forward_features(x))

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Everything the app reads from one pass over crops ``x``: the quality score (B,) as :meth:`forward`, the
        detail score (B,) (:class:`DetailHead`, or the same score when the config has none) and an embedding (B, C):
        the last CNN stage averaged over the crop, which the app compares to group a burst's frames."""
        cnn = self.cnn_features(x)
        cls_token = self.features_from(self.embed_tokens(x), cnn)
        score = self.forward_head(cls_token)
        detail = score if self.detail_head is None else self.detail_head(detail_inputs(cnn))
        return score, detail, cnn[-1].mean((2, 3))

    def forward_cached(self, tokens: torch.Tensor, cnn_features: list[torch.Tensor]) -> torch.Tensor:
        """:meth:`forward` from cached :meth:`embed_tokens` and :meth:`cnn_features` of the same crops."""
        return self.forward_head(self.features_from(tokens, cnn_features))


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, frozen) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return trainable, frozen
