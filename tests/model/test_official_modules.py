"""The authors' released modules (``qkv_bias=False``, ``head="normed"``, ``scale_init="normal"``): their
parameter counts, that they save, load and export like the defaults, and that the defaults are untouched."""

from __future__ import annotations

import pytest
import torch

from model import create_model, get_config
from model.configs import IMAGENET_MEAN, ConfigError, LodaConfig
from model.loda import CosineHead, NormedHead, count_parameters
from model.onnx_export import export_onnx
from model.profiles import load_model, save_model

OFFICIAL = {"qkv_bias": False, "head": "normed", "scale_init": "normal"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("modules", "trainable"), [({}, 8_929_793), (OFFICIAL, 8_927_488)], ids=["default", "official"]
)
def test_vit_base_r50_trainable_counts(modules, trainable):
    net = create_model("loda_vit_base_r50", pretrained=False, **modules)
    assert count_parameters(net)[0] == trainable


def test_official_modules_drop_the_qkv_and_head_biases():
    torch.manual_seed(0)
    default = create_model("loda_tiny")
    official = create_model("loda_tiny", **OFFICIAL)
    config = default.config
    assert isinstance(default.head, CosineHead) and isinstance(official.head, NormedHead)
    missing = len(default.injectors) * 3 * config.r + 1  # q, k, v biases of every injector, and the head's bias
    assert count_parameters(default)[0] - count_parameters(official)[0] == missing
    assert all(inj.attn.q.bias is None and inj.attn.v.bias is None for inj in official.injectors)
    assert torch.linalg.norm(official.head.weight).item() == pytest.approx(1.0)
    x = torch.rand(2, 3, config.img_size, config.img_size)
    assert official.eval()(x).abs().max().item() <= 1.0 + 1e-6  # a cosine without bias


def test_untruncated_scale_init_reaches_past_two_std():
    torch.manual_seed(0)
    truncated = torch.cat([i.scale.detach() for i in create_model("loda_tiny").injectors])
    plain = torch.cat([i.scale.detach() for i in create_model("loda_tiny", scale_init="normal").injectors])
    assert truncated.abs().max().item() <= 0.04
    assert plain.abs().max().item() > 0.04  # 256 draws of N(0, 0.02²): some lie beyond 2 std


def test_old_config_dicts_load_with_the_default_modules():
    old = get_config("loda_vit_base_r50").to_dict()
    for key in OFFICIAL:
        old.pop(key)
    config = LodaConfig.from_dict(old)
    assert (config.qkv_bias, config.head, config.scale_init) == (True, "cosine", "trunc_normal")
    assert config == get_config("loda_vit_base_r50")


def test_unknown_head_or_init_is_refused():
    with pytest.raises(ConfigError, match="head"):
        get_config("loda_tiny", head="mlp")
    with pytest.raises(ConfigError, match="scale_init"):
        get_config("loda_tiny", scale_init="zeros")


def test_official_network_saves_loads_and_exports_to_onnx(tmp_path):
    torch.manual_seed(1)
    net = create_model("loda_tiny", vit_mean=IMAGENET_MEAN, **OFFICIAL).eval()
    path = save_model(net, tmp_path / "official.safetensors", name="official-tiny")
    back = load_model(path).eval()
    assert back.config == net.config
    x = torch.rand(2, 3, net.config.img_size, net.config.img_size)
    assert torch.allclose(back(x), net(x), atol=1e-6)
    export_onnx(back, None, tmp_path / "official.onnx")  # verify=True compares ONNX Runtime with torch


def test_table_iii_configs_share_the_paper_network():
    for name in ("loda_vit_base_mae_r50", "loda_vit_base_clip_r50", "loda_vit_base_in1k_r50"):
        config = get_config(name)
        assert config.vit.startswith("vit_base_patch16") and config.cnn == "resnet50.a1_in1k"
        assert (config.r, config.heads, config.n_interactions) == (64, 4, 12)
    assert get_config("loda_vit_base_mae_r50").vit_mean == IMAGENET_MEAN


@pytest.mark.slow
@pytest.mark.parametrize("name", ["loda_vit_base_mae_r50", "loda_vit_base_clip_r50", "loda_vit_base_in1k_r50"])
def test_table_iii_networks_build_and_score(name):
    net = create_model(name, pretrained=False).eval()
    assert count_parameters(net)[0] == 8_929_793  # the same adapter on another ViT-B/16
    with torch.no_grad():
        assert net(torch.rand(1, 3, 224, 224)).shape == (1,)
