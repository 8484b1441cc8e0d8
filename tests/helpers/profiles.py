"""Model profiles shaped like the real ones, small enough for tests."""

from __future__ import annotations

from pathlib import Path


def write_default_like(path: Path, *, name: str = "loda-default", seed: int = 0, created: str = "now") -> Path:
    """A *full* profile shaped like the bundled ``loda-default``: its config says the backbones are pretrained,
    by this project (``vit_hub=False``, a local ViT file nobody has), so only the profile itself holds them. An
    adapter saved from it cannot rebuild its backbones on its own: the case that broke fine-tuning once.

    Random ``loda_tiny`` weights with 64-px crops of a 72-px short side, so it trains and scores in seconds.
    """
    import torch

    from model.configs import get_config
    from model.loda import LoDa
    from model.profiles import save_model

    config = get_config("loda_tiny").replace(
        pretrained=True, vit_hub=False, vit_local_name="project_vit.safetensors", img_size=64, short_side=72
    )
    torch.manual_seed(seed)
    net = LoDa(config, pretrained=False)
    net.config = config  # as load_model() does for a full profile: the backbones came from the file
    return save_model(
        net.eval(),
        path,
        name=name,
        kind="full",
        trained_on={"dataset": "test", "summary": "random weights shaped like the default model"},
        created=created,
    )
