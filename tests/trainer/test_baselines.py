"""Table V baselines on the tiny config's random ViT: shapes, what trains, and a round trip through a file."""

from __future__ import annotations

import pytest
import torch

from model.configs import get_config
from trainer.baselines import BASELINES, create_baseline, load_baseline, save_baseline

SIZE = 64


@pytest.fixture(scope="module")
def config():
    return get_config("loda_tiny", img_size=SIZE, short_side=SIZE)


def trainable_names(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def build(method, config, **kw):
    torch.manual_seed(0)
    return create_baseline(method, config, **kw)


@pytest.mark.parametrize("method", BASELINES)
def test_forward_gives_one_finite_score_per_crop(method, config):
    model = build(method, config).eval()
    with torch.no_grad():
        out = model(torch.rand(3, 3, SIZE, SIZE))
    assert out.shape == (3,) and torch.all(torch.isfinite(out))
    assert model.config.img_size == SIZE
    assert set(map(id, model.trainable_parameters())) == {id(p) for p in model.parameters() if p.requires_grad}


def test_linear_probe_trains_the_head_only(config):
    assert trainable_names(build("linear", config)) == {"head.weight", "head.bias"}


def test_full_fine_tune_trains_every_vit_parameter_and_the_head(config):
    model = build("full", config)
    assert all(p.requires_grad for p in model.parameters())
    assert {"head.weight", "head.bias", "vit.cls_token", "vit.blocks.0.attn.qkv.weight"} <= trainable_names(model)


@pytest.mark.parametrize(
    ("method", "marker", "per_block"),
    [("adapter", ".after.", 8), ("lora", ".lora_", 2), ("vpt", "prompts", None)],
)
def test_efficient_methods_train_only_their_additions_and_the_head(method, marker, per_block, config):
    model = build(method, config)
    names = trainable_names(model) - {"head.weight", "head.bias"}
    assert names and all(marker in n for n in names)
    depth = len(model.vit.blocks)
    if per_block is not None:  # adapter: 2 adapters × (down, up) × (weight, bias); LoRA: A and B
        assert len(names) == per_block * depth
    else:
        assert model.prompts.shape == (depth, 10, model.embed_dim)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith("vit.") for n in frozen)


@pytest.mark.parametrize("method", ["adapter", "lora"])
def test_zero_initialised_additions_start_as_the_frozen_vit(method, config):
    plain = build("linear", config).eval()
    adapted = build(method, config).eval()
    x = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.allclose(plain.forward_features(x), adapted.forward_features(x), atol=1e-5)


def test_method_dim_sets_the_size_of_the_additions(config):
    assert build("adapter", config, dim=16).vit.blocks[0].mlp.after.down.out_features == 16
    assert build("lora", config, dim=4).vit.blocks[0].attn.qkv.lora_a.shape[0] == 4
    assert build("vpt", config, dim=3).prompts.shape[1] == 3
    with pytest.raises(ValueError, match="unknown baseline"):
        build("prefix", config)


def test_frozen_vit_stays_in_eval_mode_except_for_full_fine_tuning(config):
    assert not build("lora", config).train().vit.training
    assert build("full", config).train().vit.training


def test_backward_reaches_only_trainable_parameters(config):
    model = build("vpt", config).train()
    model(torch.rand(4, 3, SIZE, SIZE)).sum().backward()
    assert model.prompts.grad is not None and model.head.weight.grad is not None
    assert all(p.grad is None for p in model.vit.parameters())


def test_save_and_load_round_trip(config, tmp_path):
    model = build("adapter", config).eval()
    with torch.no_grad():
        model.vit.blocks[0].attn.after.up.weight.normal_()
    path = save_baseline(model, tmp_path / "b.safetensors", {"metrics": {"srcc": 0.5}})
    loaded, meta = load_baseline(path)
    assert meta["method"] == "adapter" and meta["metrics"] == {"srcc": 0.5}
    x = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.allclose(model(x), loaded(x), atol=1e-6)


def test_a_baseline_on_a_project_made_vit_looks_for_the_projects_file_not_the_hub(tmp_path):
    from model.backbones import BackboneWeightsError
    from model.configs import get_config
    from trainer.baselines import create_baseline

    with pytest.raises(BackboneWeightsError, match="pretrain-vit"):
        create_baseline("linear", get_config("loda_lite"), search_dirs=[tmp_path])
