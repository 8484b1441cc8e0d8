"""An ONNX export shipped beside its profile (what ``packaging/build.py`` makes of the default model) is used by
backend ``auto`` without exporting, and only while it was made from that very profile by this export version."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loda_desktop import model_store
from loda_desktop.engine import Engine
from loda_desktop.model_store import (
    SOURCE_KEY,
    onnx_export_path,
    resolve_model,
    shipped_onnx_export,
    write_shipped_export,
)
from loda_desktop.paths import cache_dir
from loda_desktop.settings import Settings
from model.onnx_scorer import read_onnx_metadata

from .badfiles import photo

pytestmark = pytest.mark.auto_onnx


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A loda_tiny profile file (random weights, seed 0) with its stamped export beside it."""
    import torch

    from model import create_model
    from model.profiles import save_model

    folder = tmp_path_factory.mktemp("shipped")
    torch.manual_seed(0)
    path = save_model(create_model("loda_tiny", pretrained=False), folder / "tiny.safetensors", name="tiny")
    with pytest.MonkeyPatch.context() as mp:  # module scope runs before the autouse per-test isolation
        mp.setenv("LODA_HOME", str(folder / "home"))
        out = write_shipped_export(resolve_model(str(path)))
    return path, out


def no_export(*args, **kwargs):
    raise AssertionError("exported, although an export was shipped")


def test_the_stamp_names_the_profile_digest_and_the_export_version(shipped):
    from model.profiles import file_digest

    path, out = shipped
    assert out == path.with_suffix(".onnx") and not list(out.parent.glob(".*.onnx"))
    stamp = json.loads(read_onnx_metadata(out)[SOURCE_KEY])
    assert stamp == {"sha256": file_digest(path), "cache_version": model_store.ONNX_CACHE_VERSION, "file": path.name}
    profile = resolve_model(str(path))
    assert shipped_onnx_export(profile) == out == onnx_export_path(profile)


def test_backend_auto_scores_with_the_shipped_export_without_exporting(shipped, tmp_path, monkeypatch):
    path, out = shipped
    photos = [photo(tmp_path / f"p{i}.jpg", size=(480, 360), seed=i) for i in range(3)]
    monkeypatch.setattr(model_store, "export_here", no_export)
    monkeypatch.setattr(model_store, "_export_in_child", no_export)
    settings = Settings(model=str(path), backend="auto", device="cpu", crops=3, batch_size=8)
    auto = Engine(settings)
    assert not auto.prepares_onnx  # the window has nothing to announce
    assert auto.scorer.backend == "onnx" and auto.scorer.model_path == out
    assert not (cache_dir() / "onnx").exists() or not list((cache_dir() / "onnx").glob("*.onnx"))
    torch_engine = Engine(Settings(model=str(path), backend="torch", device="cpu", crops=3, batch_size=8))
    assert auto.model_key == torch_engine.model_key
    onnx_scores = [r.score for r in auto.scorer.score(photos)]
    torch_scores = [r.score for r in torch_engine.scorer.score(photos)]
    assert np.allclose(onnx_scores, torch_scores, atol=1e-4)


def test_an_export_of_another_profile_or_version_is_ignored(shipped, tmp_path, monkeypatch):
    import shutil

    path, out = shipped
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    shutil.copy(out, copy.with_suffix(".onnx"))
    profile = resolve_model(str(copy))
    assert shipped_onnx_export(profile) == copy.with_suffix(".onnx")  # same bytes: the same profile

    monkeypatch.setattr(model_store, "ONNX_CACHE_VERSION", model_store.ONNX_CACHE_VERSION + 1)
    assert shipped_onnx_export(profile) is None  # made by an older export: its graph lacks what is new
    monkeypatch.undo()

    with open(copy, "r+b") as f:  # other weights, same name, size and metadata
        f.seek(-4, 2)
        f.write(b"\x00\x00\x80\x3f")
    profile = resolve_model(str(copy))
    assert shipped_onnx_export(profile) is None
    assert onnx_export_path(profile).parent == cache_dir() / "onnx"  # exported into the cache as before


def test_an_unstamped_or_damaged_file_beside_the_profile_is_ignored(shipped, tmp_path):
    import shutil

    from model.profiles import file_digest

    path, _ = shipped
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    beside = copy.with_suffix(".onnx")
    beside.write_bytes(b"not an onnx file")
    assert shipped_onnx_export(resolve_model(str(copy))) is None
    assert file_digest(copy)  # the profile itself is still readable
