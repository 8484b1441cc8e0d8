"""The held-out split of a fine-tune is by scene (trainer.scenes): near-identical frames never sit on both sides."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from model.profiles import config_profile, read_profile
from tests.rated_photos import make_rated_photos
from trainer.finetune import FinetuneConfig, finetune
from trainer.ratings import FinetuneError, Rated, samples_from_ratings, stars_of
from trainer.scenes import group_scenes, scene_split

FAST = {"img_size": 64, "short_side": 72, "epochs": 2, "batch": 8, "lr": 2e-3, "train_crops": 1, "test_crops": 1}

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def test_capture_times_chain_into_bursts_and_unknown_times_stay_apart():
    times = [0.0, 4.0, 8.5, 100.0, None, 104.9, float("nan"), 300.0]
    assert group_scenes(8, capture_times=times, seconds=5.0) == [0, 0, 0, 1, 2, 1, 3, 4]
    assert group_scenes(3, capture_times=[0.0, 5.0, 10.01], seconds=5.0) == [0, 0, 1]  # "within": 5 s links
    with pytest.raises(ValueError, match="2 capture times for 3 photos"):
        group_scenes(3, capture_times=[0.0, 1.0])


def test_features_link_look_alikes_above_the_threshold():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16), rng.normal(size=16)
    b -= (a @ b) / (a @ a) * a  # orthogonal to a: cosine 0
    near_a = a + 0.05 * rng.normal(size=16)
    features = np.stack([a, b, 3.0 * a, near_a, -a])  # 3a: the same direction, another scale
    assert group_scenes(5, features=features, similarity=0.9) == [0, 1, 0, 0, 2]
    assert group_scenes(5, features=features, similarity=0.99999) == [0, 1, 0, 2, 3]
    # times and looks together: b joins a's scene through a capture time next to near_a's
    assert group_scenes(5, capture_times=[None, 10.0, None, 12.0, None], features=features, similarity=0.9) == [
        0,
        0,
        0,
        0,
        1,
    ]


def _samples(tmp_path, stars):
    return samples_from_ratings(Rated(tmp_path / f"{i:03d}.jpg", s) for i, s in enumerate(stars))


def test_scene_split_keeps_scenes_whole_and_spans_the_ratings(tmp_path):
    # 30 scenes of 2 near-identical frames each (same rating), values 1..5
    stars = [1 + (i // 2) % 5 for i in range(60)]
    samples = _samples(tmp_path, stars)
    scenes = [i // 2 for i in range(60)]
    for seed in range(5):
        train, test = scene_split(samples, scenes, 0.25, seed)
        assert sorted(train + test) == list(range(60))
        held = {scenes[i] for i in test}
        assert not held & {scenes[i] for i in train}  # no scene on both sides
        assert len({stars_of(samples[i]) for i in test}) >= 2
        assert 10 <= len(test) <= 20  # about a quarter (15)
        assert scene_split(samples, scenes, 0.25, seed) == (train, test)  # deterministic
    assert scene_split(samples, scenes, 0.25, 0) != scene_split(samples, scenes, 0.25, 1)


def test_scene_split_holds_out_two_values_even_when_scenes_mix_them(tmp_path):
    # every scene mixes ratings (a burst rated 5, 4, 3, 2): whole scenes still give ≥ 2 values on each side
    samples = _samples(tmp_path, [5, 4, 3, 2] * 8)
    scenes = [i // 4 for i in range(32)]
    train, test = scene_split(samples, scenes, 0.25, 0)
    assert len(train) == 24 and len(test) == 8 and len({scenes[i] for i in test}) == 2
    assert {stars_of(samples[i]) for i in test} == {2, 3, 4, 5}


def test_too_few_scenes_is_a_clear_error(tmp_path):
    samples = _samples(tmp_path, [1 + i % 3 for i in range(30)])
    with pytest.raises(FinetuneError, match="form only 1 scene .* rate photos from more scenes"):
        scene_split(samples, [0] * 30, 0.25, 0)
    # two scenes, but one holds every 1-star and 2-star photo: no split has 2 values on each side
    stars = [1 + i % 3 for i in range(30)]
    scenes = [0 if s < 3 else 1 for s in stars]
    with pytest.raises(FinetuneError, match="form only 2 scenes"):
        scene_split(_samples(tmp_path, stars), scenes, 0.25, 0)


@pytest.fixture(scope="module")
def rated(tmp_path_factory):
    return make_rated_photos(tmp_path_factory.mktemp("rated"), n_contents=10)


def test_finetune_links_copies_and_bursts_and_reports_the_scene_split(rated, tmp_path):
    # every photo twice: a pixel-identical copy under another name (no capture time), and the original with a
    # capture time shared with one other original (a burst of two)
    ratings = {}
    times = {}
    for k, (path, stars) in enumerate(sorted(rated.items())):
        copy = tmp_path / f"copy_{path.name}"
        shutil.copyfile(path, copy)
        ratings[path] = ratings[copy] = stars
        times[path] = 1000.0 * (k // 2)
    samples = samples_from_ratings(Rated(p, s) for p, s in ratings.items())
    result = finetune(
        config_profile("loda_tiny"),
        samples,
        tmp_path / "mine.safetensors",
        name="mine",
        cfg=FinetuneConfig(**FAST),
        capture_times=times,
    )
    # 40 originals in 20 bursts of two, each with its 2 copies: 20 scenes of 4 photos
    assert result.n_scenes == 20 and result.split == "scene"
    assert result.n_test % 4 == 0 and result.n_test == 4 * result.n_test_scenes
    assert result.n_train + result.n_test == 80
    profile = read_profile(result.path)
    trained_on, metrics = profile.metadata["trained_on"], profile.metadata["metrics"]
    assert trained_on["split"] == metrics["split"] == "scene"
    assert trained_on["n_scenes"] == metrics["n_scenes"] == 20
    assert trained_on["n_test_scenes"] == metrics["n_test_scenes"] == result.n_test_scenes
    assert trained_on["n_test"] == metrics["n_test"] == result.n_test
    assert trained_on["capture_times"] == 40
    assert metrics["srcc_before"] == pytest.approx(result.srcc_before)
    assert metrics["srcc_after"] == pytest.approx(result.srcc_after)
