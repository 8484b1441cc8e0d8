"""Hostile model profiles (issue 26, faults 6, 7 and 8): each is refused with one line naming the problem, before
any large allocation, network access or file access it asks for; a bad file in the models folder is listed as
broken and deletable and stops nothing else; a tampered copy never shares the real model's cached scores."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from loda_desktop.cli import main
from loda_desktop.engine import Engine
from loda_desktop.paths import models_dir
from loda_desktop.settings import Settings
from model import create_model
from model.profiles import FORMAT, ProfileError, build_metadata, load_model, read_profile, read_tensors, save_profile
from tests.app import test_fileops
from tests.app.badfiles import photo

home_trash = test_fileops.home_trash  # send2trash into this test's own trash

DTYPE_CODES = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64", np.dtype(np.float16): "F16"}


@pytest.fixture(scope="module")
def tiny():
    import torch

    torch.manual_seed(0)
    model = create_model("loda_tiny").eval()
    meta = build_metadata(model.config, name="tiny", kind="full")
    tensors = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return meta, tensors


def forge(path: Path, meta: dict | str, tensors: dict[str, np.ndarray], extra: dict | None = None) -> Path:
    """A safetensors file written by hand: any metadata text, any tensors, and header entries that ``extra``
    adds (which may claim data the file does not hold)."""
    header: dict = {"__metadata__": {"format": FORMAT, "loda": meta if isinstance(meta, str) else json.dumps(meta)}}
    blobs, offset = [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        code = DTYPE_CODES.get(array.dtype, "BOOL" if array.dtype == np.bool_ else str(array.dtype))
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header.update(extra or {})
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
    return path


def with_config(meta: dict, **changes) -> dict:
    out = json.loads(json.dumps(meta))
    out["config"].update(changes)
    return out


def with_calibration(meta: dict, scale) -> str:
    out = json.loads(json.dumps(meta))
    out["score"]["calibration"]["scale"] = scale
    return json.dumps(out)  # NaN and Infinity are written as JSON's non-standard literals, as Python reads them


HOSTILE_METADATA = {
    "nan_calibration": (lambda m: with_calibration(m, float("nan")), "calibration's scale must be a finite number"),
    "inf_calibration": (lambda m: with_calibration(m, float("inf")), "finite number"),
    "huge_calibration": (lambda m: with_calibration(m, 1e300), "within ±1e+06"),
    "string_calibration": (lambda m: with_calibration(m, "2"), "got '2'"),
    "bool_calibration": (lambda m: with_calibration(m, True), "got True"),
    "zero_calibration": (lambda m: with_calibration(m, 0), "scale is 0"),
    "score_not_an_object": (lambda m: {**m, "score": "high"}, "'score' must be an object"),
    "huge_depth": (lambda m: with_config(m, vit_kwargs={"depth": 100000}), "depth must be an integer from 1 to"),
    "huge_width": (lambda m: with_config(m, r=10**9), "r must be an integer from 1 to 1024"),
    "hub_vit": (lambda m: with_config(m, vit="hf-hub:attacker/evil-vit"), "vit must be a timm model name"),
    "hub_cnn": (lambda m: with_config(m, cnn="local-dir:/etc"), "cnn must be a timm model name"),
    "checkpoint_path": (
        lambda m: with_config(m, vit_kwargs={"checkpoint_path": "/etc/shadow"}),
        "vit_kwargs may only set depth, embed_dim, num_heads; 'checkpoint_path' is not allowed",
    ),
    "pretrained_cfg_overlay": (
        lambda m: with_config(m, vit_kwargs={"pretrained_cfg_overlay": {"file": "/x"}}),
        "'pretrained_cfg_overlay' is not allowed",
    ),
    "local_name_path": (lambda m: with_config(m, vit_local_name="../../x.safetensors"), "plain .safetensors file"),
    "nested_10000": (lambda m: '{"a":' * 10_000 + "1" + "}" * 10_000, "nested more than 32 levels"),
    "bool_version": (lambda m: {**m, "format_version": True}, "newer than this app"),
    "name_not_text": (lambda m: {**m, "name": ["x"]}, "'name' must be text"),
    "config_not_object": (lambda m: {**m, "config": "loda_tiny"}, "no usable 'config'"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_METADATA))
def test_hostile_metadata_is_one_line_error(tmp_path, tiny, case):
    meta, tensors = tiny
    make, expected = HOSTILE_METADATA[case]
    path = forge(tmp_path / f"{case}.safetensors", make(meta), tensors)
    with pytest.raises(ProfileError) as info:
        read_profile(path)
    message = str(info.value)
    assert expected in message and "\n" not in message and str(path) in message


def test_the_reference_file_is_fine(tmp_path, tiny):
    """The forger writes valid profiles: what the hostile cases change is what they are refused for."""
    meta, tensors = tiny
    path = forge(tmp_path / "fine.safetensors", meta, tensors)
    assert load_model(path).config.name == "loda_tiny"


def test_a_header_claiming_2_gib_is_refused_before_reading(tmp_path, tiny):
    meta, _tensors = tiny
    two_gib = {"evil": {"dtype": "F32", "shape": [2**29], "data_offsets": [0, 2**31]}}
    path = forge(tmp_path / "claims.safetensors", meta, {"w": np.zeros(4, np.float32)}, two_gib)
    assert path.stat().st_size < 10_000
    with pytest.raises(ProfileError, match=r"claims 2,147,483,648 bytes.*damaged, truncated or forged"):
        read_profile(path)


def test_an_undeclared_tensor_is_refused_before_it_is_read(tmp_path, tiny, monkeypatch):
    meta, tensors = tiny
    path = forge(tmp_path / "extra.safetensors", meta, {**tensors, "evil": np.zeros(1 << 18, np.float32)})
    import safetensors

    def never(*a, **k):  # no tensor may be read: the plan is refused from the header alone
        raise AssertionError("a tensor was read")

    monkeypatch.setattr(safetensors, "safe_open", never)
    with pytest.raises(ProfileError, match=r"1 unexpected \(e\.g\. 'evil', 1\.0 MiB, not read\)"):
        load_model(path)


@pytest.mark.parametrize(
    ("dtype", "name"),
    [(np.int64, "head.weight"), (np.float16, "head.weight"), (np.bool_, "head.weight")],
)
def test_wrong_dtypes_are_refused(tmp_path, tiny, dtype, name):
    meta, tensors = tiny
    bad = {**tensors, name: tensors[name].astype(dtype)}
    path = forge(tmp_path / "dtype.safetensors", meta, bad)
    with pytest.raises(ProfileError, match="a LoDa profile holds float32 tensors"):
        read_profile(path)


def test_nan_weights_are_refused(tmp_path, tiny):
    meta, tensors = tiny
    bad = {**tensors}
    bad["head.weight"] = np.full_like(tensors["head.weight"], np.nan)
    path = forge(tmp_path / "nan.safetensors", meta, bad)
    with pytest.raises(ProfileError, match="'head.weight' holds NaN or infinite values"):
        read_tensors(path)
    with pytest.raises(ProfileError, match="NaN"):
        load_model(path)


def test_an_unknown_backbone_is_refused_before_building(tmp_path, tiny):
    meta, tensors = tiny
    path = forge(tmp_path / "unknown.safetensors", with_config(meta, vit="vit_gigantic_patch99_999"), tensors)
    with pytest.raises(ProfileError, match="unknown ViT backbone: timm has no model named 'vit_gigantic_patch99_999'"):
        load_model(path)


def test_hostile_profile_through_loda_score_is_one_line(tmp_path, tiny, capsys):
    _meta, tensors = tiny
    bad = forge(tmp_path / "deep.safetensors", '{"a":' * 10_000 + "1" + "}" * 10_000, tensors)
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo(folder / "a.jpg", size=(300, 200))
    assert main(["score", str(folder), "--model", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"loda score: error: {bad}: the profile metadata is nested more than 32 levels deep"]


def test_a_broken_file_in_the_models_folder_is_listed_and_deletable(tmp_path, tiny, capsys, home_trash):
    meta, tensors = tiny
    folder = models_dir()
    save_profile(folder / "good.safetensors", tensors, meta)
    forge(folder / "bad.safetensors", '{"a":' * 10_000 + "}" * 10_000, tensors)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "bad.safetensors" in out and "BROKEN" in out and "nested more than 32 levels" in out
    assert main(["profiles", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "bad.safetensors" in out and "BROKEN" in out
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    photo(shoot / "a.jpg", size=(300, 200))
    assert main(["score", str(shoot), "--crops", "2"]) == 0  # the default model still resolves and scores
    assert main(["profiles", "delete", "bad.safetensors"]) == 0
    assert not (folder / "bad.safetensors").exists() and (folder / "good.safetensors").exists()
    assert os.listdir(home_trash / "files") == ["bad.safetensors"]


def test_a_tampered_copy_does_not_share_cached_scores(tmp_path, tiny):
    meta, tensors = tiny
    real = save_profile(tmp_path / "real" / "tiny.safetensors", tensors, meta)
    forged_tensors = {k: (v * 1.01 if v.dtype == np.float32 else v) for k, v in tensors.items()}
    fake = save_profile(tmp_path / "fake" / "tiny.safetensors", forged_tensors, meta)  # same name and stamp
    assert read_profile(real).key == read_profile(fake).key
    shoot = [photo(tmp_path / f"p{i}.jpg", size=(300, 200), seed=i) for i in range(3)]
    settings = {"crops": 2, "batch_size": 8}
    first = Engine(Settings(model=str(real), **settings))
    scores = {}
    first.score_paths(shoot, on_result=lambda r: scores.setdefault(r.path, r.score))
    tampered = Engine(Settings(model=str(fake), **settings))
    assert tampered.model_key != first.model_key
    summary = tampered.score_paths(shoot)
    assert (summary.scored, summary.cached) == (3, 0)  # its own scores, not the real model's
    again = []
    Engine(Settings(model=str(real), **settings)).score_paths(shoot, on_result=again.append)
    assert all(r.cached and r.score == scores[r.path] for r in again)  # the real model's scores untouched
