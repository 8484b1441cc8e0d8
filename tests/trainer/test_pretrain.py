"""Quality-aware ViT pretraining (trainer.pretrain): held-out photos unseen, weights loadable as the ViT."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from model.backbones import BackboneWeightsError, create_backbone
from model.configs import get_config
from trainer import pretrain
from trainer.data import TrainError
from trainer.datasets import read_csv_table
from trainer.pretrain import PretrainConfig, pretrain_vit
from trainer.splits import train_test_split
from trainer.synthetic import make_synthetic

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    src = root / "refs"
    src.mkdir()
    rng = np.random.default_rng(0)
    for k in range(5):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC).save(src / f"ref{k}.png")
    return make_synthetic(src, root / "out", types=["gaussian_blur", "gaussian_noise", "webp"], levels=2, workers=1)


def test_pretrains_on_the_training_photos_only_and_writes_a_loadable_vit(synthetic_csv, tmp_path, monkeypatch):
    seen = set()
    original = pretrain._Crops.__getitem__

    def spy(self, item):
        seen.add(self.paths[item[0]])
        return original(self, item)

    monkeypatch.setattr(pretrain._Crops, "__getitem__", spy)
    cfg = PretrainConfig(model="loda_tiny", steps=4, batch=4, warmup=1, workers=0, eval_images=0)
    out = tmp_path / "vit.safetensors"
    record = pretrain_vit(synthetic_csv, out, cfg)

    samples = read_csv_table(synthetic_csv)
    train_idx, test_idx = train_test_split(samples, 0.8, 0)  # what `loda train --seed 0` holds out
    assert seen and seen <= {samples[i].path for i in train_idx}
    assert record["data"]["types"] == ["gaussian_blur", "gaussian_noise", "webp"]
    assert record["data"]["held_out_groups"] == len({samples[i].group for i in test_idx}) == 1

    with safe_open(str(out), framework="pt") as f:
        stored = json.loads(f.metadata()["loda_pretrain"])
        keys = set(f.keys())
    assert stored["config"] == "loda_tiny" and not any(k.startswith(("type_head", "level_head")) for k in keys)
    config = get_config("loda_tiny")
    vit = create_backbone(config.vit, role="ViT", pretrained=True, weights_file=out, num_classes=0, **config.vit_kwargs)
    with safe_open(str(out), framework="pt") as f:
        assert torch.equal(vit.state_dict()["blocks.0.attn.qkv.weight"], f.get_tensor("blocks.0.attn.qkv.weight"))


def test_the_loss_falls_on_an_easy_pretext(synthetic_csv, tmp_path):
    losses = []
    cfg = PretrainConfig(model="loda_tiny", steps=40, batch=8, lr=2e-3, warmup=5, workers=0, eval_images=0)
    pretrain_vit(synthetic_csv, tmp_path / "v.safetensors", cfg, progress=lambda s, t, loss: losses.append(loss))
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.2


def test_amp_runs_the_training_steps_in_bfloat16_and_records_it(synthetic_csv, tmp_path, monkeypatch):
    dtypes = {}
    forward = pretrain.PretrainNet.forward

    def spy(self, x):
        out = forward(self, x)
        dtypes.setdefault("train" if self.training else "eval", set()).add(out[0].dtype)
        return out

    monkeypatch.setattr(pretrain.PretrainNet, "forward", spy)
    for amp in (False, True):
        dtypes.clear()
        cfg = PretrainConfig(model="loda_tiny", steps=3, batch=4, warmup=1, workers=0, eval_images=4, amp=amp)
        record = pretrain_vit(synthetic_csv, tmp_path / f"v{amp}.safetensors", cfg)
        assert dtypes == {"train": {torch.bfloat16 if amp else torch.float32}, "eval": {torch.float32}}
        assert record["settings"]["amp"] is amp and np.isfinite(record["final_loss"])


def test_bad_input_is_a_clear_error(tmp_path, synthetic_csv):
    plain = tmp_path / "plain.csv"
    plain.write_text("path,score\n" + "".join(f"{p},{i}\n" for i, p in enumerate(["a.png", "b.png"])))
    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    with pytest.raises(TrainError, match="distortion"):
        pretrain_vit(plain, tmp_path / "v.safetensors", PretrainConfig(model="loda_tiny"))
    with pytest.raises(TrainError, match="steps"):
        pretrain_vit(synthetic_csv, tmp_path / "v.safetensors", PretrainConfig(model="loda_tiny", steps=0))
    negative = tmp_path / "negative.csv"
    negative.write_text("path,score,group,distortion,level\na.png,0.1,a,webp,1\nb.png,0.9,b,webp,-1\n")
    with pytest.raises(TrainError, match="levels start at 1"):
        pretrain_vit(negative, tmp_path / "v.safetensors", PretrainConfig(model="loda_tiny"))


def test_reference_photos_listed_as_themselves_are_left_out_of_the_pretext(tmp_path, synthetic_csv):
    with_refs = synthetic_csv.parent / "with-references.csv"
    lines = synthetic_csv.read_text().splitlines()
    metrics = ",1" * (lines[0].count(",") - 4)
    extra = [f"images/ref{k}/ref{k}__webp__1.png,1.0,ref{k},none,0{metrics}" for k in range(2)]
    with_refs.write_text("\n".join([lines[0], *extra, *lines[1:]]) + "\n")
    samples, types, levels, names = pretrain._labelled(with_refs)
    plain = pretrain._labelled(synthetic_csv)
    assert [s.path for s in samples] == [s.path for s in plain[0]] and names == plain[3] == sorted(names)
    assert "none" not in names and (types, levels) == (plain[1], plain[2])


def test_a_project_made_vit_is_never_fetched_from_the_hub(tmp_path):
    config = get_config("loda_lite")
    with pytest.raises(BackboneWeightsError, match="pretrain-vit"):
        create_backbone(
            config.vit,
            role="ViT",
            pretrained=True,
            hub=False,
            local_name=config.vit_local_name,
            search_dirs=[tmp_path],
            num_classes=0,
            **config.vit_kwargs,
        )
