"""Training crops, epoch plans and evaluation through the app's scorer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from model.preprocess import load_for_model
from model.scorer import TorchScorer
from trainer.data import ImageStore, TrainCrops, TrainError, epoch_plan, make_loader, predict
from trainer.datasets import Sample

SHORT, SIZE = 48, 40


def photo(path, seed, size=(64, 48)):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size, Image.Resampling.BICUBIC).save(path)
    return path


@pytest.fixture
def samples(tmp_path):
    return [Sample(photo(tmp_path / f"p{i}.png", i, (64 + 8 * i, 48)), score=i / 5) for i in range(6)]


def test_store_matches_the_scorers_preprocessing_and_caches_on_demand(samples):
    store = ImageStore(samples, SHORT, cache=True)
    assert np.array_equal(store.get(2), np.asarray(load_for_model(samples[2].path, SHORT)))
    assert store.source(0) == samples[0].path  # not decoded yet
    store.prefill(range(6))
    assert isinstance(store.source(0), np.ndarray) and store.cached_bytes > 0
    uncached = ImageStore(samples, SHORT, cache=False)
    uncached.prefill(range(6))
    assert uncached.source(0) == samples[0].path and uncached.cached_bytes == 0


def test_an_unreadable_image_is_a_train_error_naming_it(tmp_path, samples):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    store = ImageStore([*samples, Sample(bad, 0.5)], SHORT, cache=True)
    with pytest.raises(TrainError, match="bad.png"):
        store.prefill(range(7))


def test_crops_are_seeded_per_item_and_epoch(samples):
    store = ImageStore(samples, SHORT, cache=True)
    crops = TrainCrops(store, [1, 3, 4], crops=3, size=SIZE, seed=7)
    assert len(crops) == 9
    x, y = crops[4]  # image 3, crop slot 1
    assert x.dtype == torch.uint8 and x.shape == (3, SIZE, SIZE)
    assert y.dtype == torch.float32 and float(y) == pytest.approx(samples[3].score)
    again = TrainCrops(ImageStore(samples, SHORT), [1, 3, 4], crops=3, size=SIZE, seed=7)
    backwards = [again[i][0] for i in reversed(range(9))][::-1]  # any order, any store: the same crops
    assert all(torch.equal(crops[i][0], backwards[i]) for i in range(9))
    slots = [crops[i][0] for i in (3, 4, 5)]  # three crops of one image differ
    assert not torch.equal(slots[0], slots[1]) or not torch.equal(slots[1], slots[2])
    crops.set_epoch(1)
    assert any(not torch.equal(crops[i][0], backwards[i]) for i in range(9))


def test_an_image_listed_twice_gets_new_crops_for_its_second_copy(samples):
    store = ImageStore(samples, SHORT, cache=True)
    once = TrainCrops(store, [2, 5], crops=2, size=SIZE, seed=3)
    twice = TrainCrops(store, [2, 5, 2], crops=2, size=SIZE, seed=3)
    assert len(twice) == 6
    assert all(torch.equal(once[i][0], twice[i][0]) for i in range(4))  # first listings: the crops of a plain list
    assert float(twice[4][1]) == pytest.approx(samples[2].score)
    assert not torch.equal(twice[4][0], twice[0][0]) or not torch.equal(twice[5][0], twice[1][0])


def test_crops_can_carry_their_images_group(tmp_path):
    samples = [Sample(photo(tmp_path / f"g{i}.png", i), score=i / 3, group=("b", "a", None)[i]) for i in range(3)]
    store = ImageStore(samples, SHORT, cache=True)
    plain = TrainCrops(store, [0, 1, 2], crops=1, size=SIZE, seed=0)
    grouped = TrainCrops(store, [0, 1, 2], crops=1, size=SIZE, seed=0, with_groups=True)
    assert len(plain[0]) == 2
    assert [int(grouped[i][2]) for i in range(3)] == [1, 0, -1]  # groups numbered in sorted order; none is -1
    assert torch.equal(grouped[1][0], plain[1][0]) and grouped[1][2].dtype == torch.int64


def test_an_image_smaller_than_the_crop_is_a_train_error(samples):
    crops = TrainCrops(ImageStore(samples, 32), [0], crops=1, size=SIZE, seed=0)
    with pytest.raises(TrainError, match="smaller than the 40px crop"):
        crops[0]


def test_epoch_plan_drops_the_incomplete_batch_and_splits_it_exactly():
    plan = epoch_plan(50, batch=16, micro_batch=5, seed=1, epoch=2)
    assert len(plan.steps) == 3 and plan.batch == plan.share == 16
    assert [len(m) for m in plan.steps[0]] == [5, 5, 5, 1] and plan.micro_per_step == 4
    items = [i for step in plan.steps for mb in step for i in mb]
    assert len(items) == len(set(items)) == 48 and set(items) <= set(range(50))
    assert plan == epoch_plan(50, batch=16, micro_batch=5, seed=1, epoch=2)
    assert plan.steps != epoch_plan(50, batch=16, micro_batch=5, seed=1, epoch=3).steps


def test_epoch_plan_shares_each_batch_between_processes():
    whole = epoch_plan(40, batch=8, micro_batch=None, seed=0, epoch=1)
    ranks = [epoch_plan(40, batch=8, micro_batch=2, seed=0, epoch=1, world=2, rank=r) for r in (0, 1)]
    assert all(p.share == 4 and p.micro_per_step == 2 for p in ranks)
    for s, step in enumerate(whole.steps):
        joined = [i for p in ranks for mb in p.steps[s] for i in mb]
        assert joined == step[0]


def test_epoch_plan_small_epochs_and_bad_sizes():
    small = epoch_plan(7, batch=128, micro_batch=None, seed=0, epoch=1, world=2, rank=1)
    assert small.batch == 6 and small.share == 3 and len(small.steps) == 1
    with pytest.raises(ValueError, match="at least 2"):
        epoch_plan(10, batch=1, micro_batch=None, seed=0, epoch=1)
    with pytest.raises(ValueError, match="too small"):
        epoch_plan(1, batch=4, micro_batch=None, seed=0, epoch=1)
    with pytest.raises(ValueError, match="multiple"):
        epoch_plan(10, batch=5, micro_batch=None, seed=0, epoch=1, world=2)


def test_loader_yields_the_planned_micro_batches_with_or_without_workers(samples):
    store = ImageStore(samples, SHORT, cache=True)
    store.prefill(range(6))
    crops = TrainCrops(store, range(6), crops=2, size=SIZE, seed=3)
    plan = epoch_plan(len(crops), batch=4, micro_batch=2, seed=3, epoch=1)
    serial = list(make_loader(crops, plan.micro_batches))
    assert [len(x) for x, _ in serial] == [2] * 6
    assert torch.equal(serial[0][0][1], crops[plan.micro_batches[0][1]][0])
    parallel = list(make_loader(crops, plan.micro_batches, workers=2))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(serial, parallel, strict=True))


def test_predict_is_the_scorers_mean_of_crops_from_files_or_cache(samples, tiny_model_64):
    direct = TorchScorer(tiny_model_64, device="cpu", crops=3).score([s.path for s in samples[:4]])
    store = ImageStore(samples, SHORT, cache=False)
    from_files = predict(tiny_model_64, store, [0, 1, 2, 3], crops=3, batch_size=5)
    cached = ImageStore(samples, SHORT, cache=True)
    cached.prefill(range(6))
    from_cache = predict(tiny_model_64, cached, [0, 1, 2, 3], crops=3, batch_size=64)
    assert np.allclose(from_files, [r.score for r in direct], atol=1e-5)
    assert np.allclose(from_files, from_cache, atol=1e-5)
    assert not tiny_model_64.training


@pytest.fixture(scope="module")
def tiny_model_64():
    from model import create_model

    torch.manual_seed(0)
    return create_model("loda_tiny", img_size=SIZE, short_side=SHORT).eval()
