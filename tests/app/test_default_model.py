"""The shipped offline default model: loads with no network and no extra package, and ranks damage."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from loda_desktop.model_store import BUNDLED_MODELS, DEFAULT_PROFILE_NAME, resolve_model

SHIPPED = BUNDLED_MODELS / f"{DEFAULT_PROFILE_NAME}.safetensors"
DEMO = sorted((Path(__file__).resolve().parents[2] / "assets" / "demo").glob("*.jpg"))

pytestmark = [pytest.mark.bundled_model, pytest.mark.usefixtures("one_torch_thread")]


def test_the_shipped_profile_is_the_default_self_contained_and_documented():
    assert SHIPPED.is_file() and SHIPPED.stat().st_size <= 40 * 2**20
    profile = resolve_model("default")
    assert profile.path == SHIPPED and profile.name == DEFAULT_PROFILE_NAME
    assert profile.kind == "full" and profile.trained and profile.config.name == "loda_lite"
    meta = profile.metadata
    assert set(meta["metrics"]) >= {"srcc", "plcc", "series_srcc"}  # the held-out numbers the README shows
    assert meta["metrics"]["srcc"] == pytest.approx(meta["held_out"]["srcc"])
    assert "gcompris" in meta["trained_on"]["photo_pool"] and meta["held_out"]["references"] > 0
    assert meta["vit_pretraining"]["data"]["held_out_groups"] == meta["held_out"]["references"]


def test_it_loads_offline_without_the_weight_packages_and_blur_or_noise_lower_the_score(monkeypatch):
    from model import backbones
    from model.scorer import torch_scorer_from_profile

    def no_package(name):
        raise AssertionError(f"the shipped profile looked for {name}'s weights outside itself")

    monkeypatch.setattr(backbones, "package_weights", no_package)
    monkeypatch.setattr(backbones, "cached_weights", no_package)
    scorer = torch_scorer_from_profile(resolve_model("default"), device="cpu", crops=5)
    rng = np.random.default_rng(0)
    originals, blurred, noisy = [], [], []
    for path in DEMO:
        with Image.open(path) as img:
            img = img.convert("RGB")
        originals.append(img)
        blurred.append(img.filter(ImageFilter.GaussianBlur(4)))
        arr = np.asarray(img, dtype=np.float64) + rng.normal(0, 30, size=(img.height, img.width, 3))
        noisy.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
    scores = {}
    for label, images in (("original", originals), ("blurred", blurred), ("noisy", noisy)):
        results = scorer.score(images)
        assert all(r.ok for r in results), [r.error for r in results]
        scores[label] = np.array([r.score for r in results])
    assert np.all(scores["blurred"] < scores["original"]), scores
    assert np.all(scores["noisy"] < scores["original"]), scores
