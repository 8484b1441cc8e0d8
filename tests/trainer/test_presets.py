"""The ``official`` preset and its individual switches: what each selects, that the default selects nothing
new, the LIVE label file, the crops per dataset, split files, and ``--vit``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from model import get_config
from model.configs import IMAGENET_MEAN, INCEPTION_MEAN
from trainer.cli import _config_from_args, add_train_parser
from trainer.datasets import LIVE_FOLDERS, Sample, load_dataset, read_live
from trainer.presets import TRAIN_CROPS
from trainer.splits import read_split_file
from trainer.train_config import TrainConfig, TrainError


def parse(*argv: str) -> TrainConfig:
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers())
    return _config_from_args(parser.parse_args(["train", "--dataset", "koniq10k", *argv]))


def test_default_preset_changes_nothing():
    cfg = parse()
    assert cfg.preset == "default"
    assert cfg.loda_config() == get_config("loda_vit_base_r50")
    assert cfg.live_label_file() == "dmos"
    for dataset in TRAIN_CROPS:
        assert cfg.for_dataset(dataset) is cfg  # crops and sizes stay the dataset's and the config's
    new = {"preset", "vit", "vit_norm", "modules", "live_labels", "splits"}
    assert not new & set(cfg.fingerprint())  # runs started before these settings existed still resume


def test_official_preset_selects_every_official_choice():
    cfg = parse("--preset", "official")
    config = cfg.loda_config()
    assert config.vit_mean == IMAGENET_MEAN and config.cnn_mean == IMAGENET_MEAN
    assert (config.qkv_bias, config.head, config.scale_init) == (False, "normed", "normal")
    assert cfg.live_label_file() == "realigned"
    assert cfg.for_dataset("tid2013").train_crops == 10
    assert cfg.for_dataset("livec").loda_config().short_side == 500  # LIVEC's 500×500 images, not resized
    koniq = cfg.for_dataset("koniq10k")
    assert koniq.train_crops is None and koniq.loda_config().short_side == 384  # TRAIN_CROPS["koniq10k"] = 3
    assert cfg.fingerprint()["preset"] == "official"


def test_switches_override_the_preset_one_by_one():
    cfg = parse("--preset", "official", "--vit-norm", "checkpoint", "--train-crops", "4", "--short-side", "400")
    config = cfg.loda_config()
    assert config.vit_mean == INCEPTION_MEAN and config.head == "normed"
    assert cfg.for_dataset("tid2013").train_crops == 4
    assert cfg.for_dataset("livec").loda_config().short_side == 400
    alone = parse("--vit-norm", "imagenet").loda_config()
    assert alone.vit_mean == IMAGENET_MEAN and alone.head == "cosine" and alone.qkv_bias
    modules = parse("--modules", "official").loda_config()
    assert modules.vit_mean == INCEPTION_MEAN and not modules.qkv_bias
    assert parse("--live-labels", "realigned").live_label_file() == "realigned"
    assert parse("--preset", "official", "--live-labels", "dmos").live_label_file() == "dmos"


def test_vit_by_name_takes_its_checkpoint_normalisation():
    config = parse("--vit", "vit_base_patch16_224.mae").loda_config()
    assert config.vit == "vit_base_patch16_224.mae" and config.vit_mean == IMAGENET_MEAN and config.vit_hub
    with pytest.raises(TrainError, match="--vit: timm has no"):
        parse("--vit", "no_such_vit").loda_config()


def test_vit_by_name_without_weights_is_the_clear_message():
    from model.errors import BackboneWeightsError
    from trainer.networks import build_model

    cfg = TrainConfig(vit="vit_base_patch16_224.mae", search_dirs=("/nonexistent/models",))
    with pytest.raises(BackboneWeightsError) as err:
        build_model(cfg)
    msg = str(err.value)
    assert "vit_base_patch16_224.mae" in msg and "--vit-weights" in msg
    assert "/nonexistent/models/vit_base_patch16_224.mae.safetensors" in msg


# ------------------------------------------------------------------------------------------ LIVE labels


def test_live_realigned_labels_come_from_dmos_new(tmp_path, write_image):
    from tests.trainer.test_datasets import cell_array

    n = sum(c for _, c in LIVE_FOLDERS)
    root = tmp_path / "live"
    for folder, count in LIVE_FOLDERS:
        for k in range(1, count + 1):
            write_image(root / folder / f"img{k}.bmp")
    orgs = np.zeros(n)
    orgs[0] = 1
    dmos = np.full(n, 50.0)
    realigned = np.linspace(0.0, 100.0, n)
    scipy.io.savemat(root / "dmos.mat", {"dmos": dmos.reshape(1, -1), "orgs": orgs.reshape(1, -1)})
    scipy.io.savemat(root / "dmos_realigned.mat", {"dmos_new": realigned.reshape(1, -1)})
    scipy.io.savemat(root / "refnames_all.mat", {"refnames_all": cell_array([f"r{i % 29}.bmp" for i in range(n)])})
    assert {s.score for s in read_live(root)} == {0.5}
    official = {s.path: s.score for s in load_dataset("live", root, live_labels="realigned")}
    assert len(official) == n - 1
    assert official[root / "jp2k" / "img2.bmp"] == pytest.approx(1.0 - realigned[1] / 100.0)
    assert official[root / "fastfading" / "img174.bmp"] == pytest.approx(0.0)
    (root / "dmos_realigned.mat").unlink()
    with pytest.raises(Exception, match="dmos_realigned.mat"):
        read_live(root, "realigned")


# ------------------------------------------------------------------------------------------ split files


def samples_at(root: Path) -> list[Sample]:
    return [Sample(root / folder / f"img{i}.bmp", i / 10) for folder in ("jp2k", "jpeg") for i in range(1, 6)]


def test_split_file_maps_names_to_samples(tmp_path):
    samples = samples_at(tmp_path)
    path = tmp_path / "splits.json"
    path.write_text(json.dumps({"repeats": [{"train": ["jp2k/img1.bmp", "JPEG/IMG2.BMP"], "test": ["jp2k/img3.bmp"]}]}))
    assert read_split_file(path, samples) == [([0, 6], [2])]
    path.write_text(json.dumps([{"train": ["img1.bmp"], "test": ["jp2k/img3.bmp"]}]))
    with pytest.raises(ValueError, match="matches several images"):
        read_split_file(path, samples)
    path.write_text(json.dumps([{"train": ["jp2k/img9.bmp"], "test": ["jp2k/img3.bmp"]}]))
    with pytest.raises(ValueError, match="not an image"):
        read_split_file(path, samples)
    path.write_text(json.dumps([{"train": ["jp2k/img3.bmp"], "test": ["jp2k/img3.bmp"]}]))
    with pytest.raises(ValueError, match="both sides"):
        read_split_file(path, samples)


def test_the_authors_split_pickle_is_read_through_their_meta_info_csv(tmp_path):
    import pickle

    samples = samples_at(tmp_path)
    meta = tmp_path / "meta_info_LIVEIQADataset.csv"
    rows = [(f"refimgs/r{i}.bmp", f"{folder}/img{i}.bmp", i) for folder in ("jp2k", "jpeg") for i in range(1, 6)]
    meta.write_text("ref_name,dist_name,mos\n" + "".join(f"{r},{d},{m}\n" for r, d, m in rows))
    path = tmp_path / "live_82_seed3407.pkl"
    path.write_bytes(pickle.dumps({0: {"train": [0, 6], "val": [], "test": [2]}, 1: {"train": [1], "test": [9]}}))
    assert read_split_file(path, samples, meta) == [([0, 6], [2]), ([1], [9])]

    path.write_bytes(pickle.dumps({0: {"train": [0], "test": [10]}}))  # row 10 does not exist
    with pytest.raises(ValueError, match=r"rows of .* \(0 to 9\)"):
        read_split_file(path, samples, meta)

    class Hostile:  # a pickle that would run code: os.system is named, so it is refused before anything runs
        def __reduce__(self):
            return (__import__("os").system, ("touch " + str(tmp_path / "ran"),))

    path.write_bytes(pickle.dumps({0: {"train": [Hostile()], "test": [1]}}))
    with pytest.raises(ValueError, match="refused"):
        read_split_file(path, samples, meta)
    assert not (tmp_path / "ran").exists()


def test_run_protocol_uses_the_split_file(tmp_path):
    from tests.trainer.test_train import FAST, make_set
    from trainer.train import run_protocol

    samples = make_set(tmp_path / "set", n_contents=4, levels=3)
    names = [s.path.name for s in samples]
    path = tmp_path / "splits.json"
    path.write_text(json.dumps({"repeats": [{"train": names[:8], "test": names[9:]}]}))
    cfg = TrainConfig(**{**FAST, "epochs": 1}, repeats=1, splits=str(path), preset="official")
    result = run_protocol(samples, cfg, tmp_path / "run")
    assert (result.results[0].n_train, result.results[0].n_test) == (8, 3)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert saved["preset"] == "official" and saved["splits"] == str(path)
    cfg = TrainConfig(**{**FAST, "epochs": 1}, repeats=2, splits=str(path))
    with pytest.raises(TrainError, match="holds 1 split"):
        run_protocol(samples, cfg, tmp_path / "run2")
