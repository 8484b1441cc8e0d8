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

    assert [st["profile"] for st in profile.metadata["training_stages"]] == ["run"]

    with pytest.raises(TrainError, match="pretrain-vit"):
        make_default(trained, tmp_path / "x.safetensors", vit_weights=trained, report=report)


def test_a_warm_started_run_records_every_training_stage(tmp_path):
    torch.manual_seed(3)
    net = create_model(get_config("loda_tiny"), pretrained=False).eval()
    first = save_model(
        net, tmp_path / "first.safetensors", name="first", trained_on={"n_train": 80}, extra={"training": {"epochs": 5}}
    )
    settings = {
        "epochs": 2,
        "lr": 2e-4,
        "rank_weight": 1.0,
        "pair_weight": 0.5,
        "init": str(first),
        "search_dirs": ["/somewhere"],
    }
    second = save_model(net, tmp_path / "second.safetensors", name="second", extra={"training": settings})
    vit = tmp_path / "vit.safetensors"
    _save(net.vit, vit, {"held_out": {"type_accuracy": 0.8}})
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"images": 20, "references": 4, "srcc": 0.9, "plcc": 0.9}))
    meta = read_profile(make_default(second, tmp_path / "d.safetensors", vit_weights=vit, report=report)).metadata
    stages = meta["training_stages"]
    assert [st["profile"] for st in stages] == ["first", "second"]
    assert stages[0]["settings"] == {"epochs": 5} and stages[0]["trained_on"]["n_train"] == 80
    assert stages[1]["settings"] == {
        "epochs": 2,
        "lr": 2e-4,
        "rank_weight": 1.0,
        "pair_weight": 0.5,
        "init": "first.safetensors",
    }
    first.unlink()  # an earlier stage that is gone is named by the later one, and the chain stops there
    meta = read_profile(make_default(second, tmp_path / "e.safetensors", vit_weights=vit, report=report)).metadata
    assert [st["profile"] for st in meta["training_stages"]] == ["second"]
