"""The fine-tune's cache of the frozen parts (trainer.frozen_cache.FrozenCache) gives the network's own numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.preprocess import prepare_inference, train_crops
from model.profiles import Profile, config_profile, load_model, resolve_profile
from tests.rated_photos import make_rated_photos
from trainer.data import ImageStore, predict
from trainer.finetune import FinetuneConfig, Rated, finetune, samples_from_ratings
from trainer.frozen_cache import FrozenCache

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def _tiny(img_size: int = 64, short_side: int = 72):
    base = config_profile("loda_tiny")
    meta = dict(base.metadata)
    meta["config"] = base.config.replace(img_size=img_size, short_side=short_side).to_dict()
    module = load_model(Profile(meta, None))
    module.set_bn_adapt(False)
    return module


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return make_rated_photos(tmp_path_factory.mktemp("rated"), n_contents=3)


def _check_cached_matches_module(module, photos, size):
    samples = samples_from_ratings(Rated(p, s) for p, s in photos.items())
    store = ImageStore(samples, module.config.short_side, cache=True)
    store.prefill(range(len(samples)))
    rng = np.random.default_rng(0)
    crops = np.concatenate([train_crops(store.get(i), 2, size, rng) for i in range(len(samples))])  # type: ignore[arg-type]
    cache = FrozenCache(module, [crops[:5], crops[5:]], batch=4)  # two forward batches: 5 and 19 crops
    assert len(cache) == len(crops)
    assert FrozenCache.crop_bytes(module) == sum(
        t[:1].numel() * t.element_size() for t in [cache.tokens, *cache.features]
    )
    module.eval()
    rows = torch.tensor([7, 0, 3, len(crops) - 1])
    with torch.no_grad():
        expected = module(torch.from_numpy(crops[rows.numpy()]).float().div_(255.0))
        got = cache.forward(module, rows)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # the held-out path: the mean over an image's test crops, as the app's scorer (trainer.data.predict) computes it
    k = 3
    test = FrozenCache(
        module,
        [prepare_inference(store.source(i), short_side=module.config.short_side, size=size, k=k) for i in range(6)],
    )
    ours = test.image_means(module, k, batch=4)
    theirs = predict(module, store, range(6), crops=k, batch_size=4)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    # and the cache is what is trained: a gradient reaches the adapter (and not the frozen backbones)
    module.train()
    cache.forward(module, rows).sum().backward()
    assert all(p.grad is not None for p in module.trainable_parameters())
    assert all(p.grad is None for p in module.cnn.parameters())


def test_cached_path_matches_the_network_tiny(photos):
    _check_cached_matches_module(_tiny(), photos, 64)


@pytest.mark.bundled_model
def test_cached_path_matches_the_network_default_model(photos):
    module = load_model(resolve_profile("loda-default", [ROOT / "assets" / "models"]))
    module.set_bn_adapt(False)
    _check_cached_matches_module(module, photos, module.config.img_size)


def test_without_cache_room_training_takes_fresh_crops_and_still_learns(tmp_path):
    rated = make_rated_photos(tmp_path / "rated", n_contents=10)
    samples = samples_from_ratings(Rated(p, s) for p, s in rated.items())
    fast = {"img_size": 64, "short_side": 72, "epochs": 6, "patience": 6, "batch": 8, "lr": 2e-3}
    fast |= {"train_crops": 2, "test_crops": 2}
    results = [
        finetune(
            config_profile("loda_tiny"),
            samples,
            tmp_path / f"{label}.safetensors",
            name=label,
            cfg=FinetuneConfig(**fast, **extra),
        )
        for label, extra in (("cached", {}), ("uncached", {"cache_mb": 0}))
    ]
    cached, uncached = results
    # the same split and the same base: the same held-out SRCC before training, by either path
    assert cached.srcc_before == pytest.approx(uncached.srcc_before, abs=1e-9)
    assert (cached.n_train, cached.n_test) == (uncached.n_train, uncached.n_test)
    for result in results:
        assert all(np.isfinite(h["train_loss"]) for h in result.history[1:])
        assert result.srcc_after > 0.8 > result.srcc_before  # measured: 0.049 → 0.976 by either path
