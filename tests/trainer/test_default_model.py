"""Packaging a trained run as the self-contained default profile (trainer.default_model)."""

import json

import pytest
import torch

from model import create_model, get_config
from model.profiles import load_model, read_profile, save_model
from trainer.data import TrainError
from trainer.default_model import make_default
from trainer.pretrain import _save

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_default_profile_carries_the_network_and_says_what_it_was_trained_on(tmp_path):
    torch.manual_seed(3)
    net = create_model(get_config("loda_tiny"), pretrained=False).eval()
    trained = save_model(
        net, tmp_path / "run.safetensors", name="run", trained_on={"n_train": 80, "split_seed": 0}, calibration=(2, 1)
    )
    vit = tmp_path / "vit.safetensors"
    _save(net.vit, vit, {"held_out": {"type_accuracy": 0.8}})
    report = tmp_path / "report.json"
    by_type = {"webp": 0.9, "sensor_noise": 1.0}
    held_out = {"images": 20, "references": 4, "srcc": 0.93, "plcc": 0.94, "series_srcc": 0.95}
    report.write_text(json.dumps({**held_out, "series_srcc_by_type": by_type}))

    out = make_default(trained, tmp_path / "loda-default.safetensors", vit_weights=vit, report=report)
    profile = read_profile(out)
    assert profile.name == "loda-default" and profile.kind == "full" and profile.trained
    assert profile.metadata["metrics"] == {"srcc": 0.93, "plcc": 0.94, "series_srcc": 0.95}
    assert (
        profile.metadata["trained_on"]["n_train"] == 80 and "gcompris" in profile.metadata["trained_on"]["photo_pool"]
    )
    assert "(2 types x 5 levels" in profile.metadata["trained_on"]["summary"]
    assert profile.metadata["vit_pretraining"]["held_out"]["type_accuracy"] == 0.8
    assert profile.calibration == (2.0, 1.0)
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(load_model(out)(x), net(x))

    with pytest.raises(TrainError, match="pretrain-vit"):
        make_default(trained, tmp_path / "x.safetensors", vit_weights=trained, report=report)
