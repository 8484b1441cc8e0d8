"""Fine-tuning on a photographer's ratings (trainer.finetune): ratings → samples, minimums, split, learning."""

from __future__ import annotations

import math

import pytest

from model.profiles import config_profile, read_profile
from tests.rated_photos import make_rated_photos
from trainer.finetune import (
    FinetuneCancelled,
    FinetuneConfig,
    FinetuneError,
    Rated,
    RatingMap,
    check_minimums,
    finetune,
    minimums_message,
    read_ratings_csv,
    samples_from_ratings,
    scene_split,
)

FAST = {"img_size": 64, "short_side": 72, "epochs": 15, "batch": 8, "lr": 2e-3, "train_crops": 2, "test_crops": 2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def rated(tmp_path_factory):
    return make_rated_photos(tmp_path_factory.mktemp("rated"), n_contents=10)


def test_stars_win_and_flags_map_on_unrated_photos(tmp_path):
    rated = [
        Rated(tmp_path / "a.jpg", 3, "reject"),
        Rated(tmp_path / "b.jpg", 0, "pick"),
        Rated(tmp_path / "c.jpg", 0, "reject"),
        Rated(tmp_path / "d.jpg", 0, None),
    ]
    scores = {s.path.name: s.score for s in samples_from_ratings(rated)}
    assert scores == {"a.jpg": 0.5, "b.jpg": 1.0, "c.jpg": 0.0}
    scores = {s.path.name: s.score for s in samples_from_ratings(rated, RatingMap(pick=4, reject=None))}
    assert scores == {"a.jpg": 0.5, "b.jpg": 0.75}


def test_minimums_explain_what_is_missing(tmp_path):
    few = samples_from_ratings([Rated(tmp_path / f"{i}.jpg", 4 + i % 2) for i in range(12)])
    message = minimums_message(few)
    assert message.startswith("Rate at least 30 photos with at least 3 different star values")
    assert "12 photos rated with 2 different values (4, 5)" in message
    with pytest.raises(FinetuneError, match="Rate at least 30 photos"):
        check_minimums(few)
    enough = samples_from_ratings([Rated(tmp_path / f"{i}.jpg", 1 + i % 3) for i in range(30)])
    assert minimums_message(enough) == ""
    assert "so far: 0 photos rated." in minimums_message([])


def test_ratings_csv(tmp_path):
    csv_file = tmp_path / "r.csv"
    csv_file.write_text("path,rating\na.jpg,5\n/abs/b.jpg,pick\nc.jpg,reject\n\nd.jpg,0\n")
    rows = read_ratings_csv(csv_file)
    assert rows[0] == Rated(tmp_path / "a.jpg", 5)
    assert rows[1].flag == "pick" and str(rows[1].path) == "/abs/b.jpg"
    assert rows[3].stars == 0
    csv_file.write_text("a.jpg,6\n")
    with pytest.raises(FinetuneError, match=r"line 1: the rating must be 0..5"):
        read_ratings_csv(csv_file)
    with pytest.raises(FinetuneError, match="cannot read the ratings file"):
        read_ratings_csv(tmp_path / "missing.csv")


def test_a_split_of_photos_from_distinct_scenes_is_stratified_by_rating(tmp_path):
    samples = samples_from_ratings([Rated(tmp_path / f"{i}.jpg", 1 + i % 4) for i in range(40)])
    scenes = list(range(40))
    train, test = scene_split(samples, scenes, 0.25, seed=0)
    assert sorted(train + test) == list(range(40)) and len(test) == 8  # 2 of each value (round(2.5) = 2)
    assert {round(samples[i].score * 4) for i in test} == {0, 1, 2, 3}
    assert scene_split(samples, scenes, 0.25, seed=0) == (train, test)


def test_finetune_raises_held_out_srcc_and_writes_a_child_profile(rated, tmp_path):
    samples = samples_from_ratings(Rated(p, stars) for p, stars in rated.items())
    base = config_profile("loda_tiny")
    seen = []
    result = finetune(
        base, samples, tmp_path / "mine.safetensors", name="mine", cfg=FinetuneConfig(**FAST), on_progress=seen.append
    )
    # measured: held-out SRCC -0.54 (random base) → 0.98 (best epoch 10 of 13), 8 held-out photos
    assert result.srcc_after > result.srcc_before
    assert result.srcc_after > 0.8
    assert (result.n_train, result.n_test) == (32, 8)
    profile = read_profile(result.path)
    assert profile.name == "mine" and profile.kind == "full"  # random backbones travel in the file
    assert profile.metadata["parent"] == base.key
    assert profile.metadata["trained_on"]["ratings"] == {"2": 10, "3": 10, "4": 10, "5": 10}
    assert profile.metadata["trained_on"]["base_name"] == "loda_tiny"
    metrics = profile.metadata["metrics"]
    assert metrics["srcc_before"] == pytest.approx(result.srcc_before)
    assert metrics["srcc_after"] == pytest.approx(result.srcc_after)
    assert profile.config.img_size == 64 and profile.config.short_side == 72
    assert profile.calibration[0] > 0
    phases = {p.phase for p in seen}
    assert {"evaluating", "training", "epoch", "saving"} <= phases
    epochs = [p for p in seen if p.phase == "epoch"]
    assert epochs[0].epoch == 0 and epochs[0].srcc == pytest.approx(result.srcc_before)
    steps = [p for p in seen if p.phase == "training"]
    assert all(p.eta_s is not None and p.eta_s >= 0 and math.isfinite(p.loss) for p in steps)
    assert steps[-1].step == len(steps)


def test_cancel_writes_nothing(rated, tmp_path):
    samples = samples_from_ratings(Rated(p, stars) for p, stars in rated.items())
    steps = []
    with pytest.raises(FinetuneCancelled):
        finetune(
            config_profile("loda_tiny"),
            samples,
            tmp_path / "x.safetensors",
            name="x",
            cfg=FinetuneConfig(**FAST),
            on_progress=steps.append,
            cancel=lambda: len(steps) > 4,
        )
    assert not list(tmp_path.iterdir())


def test_refuses_an_existing_name_and_too_few_ratings(rated, tmp_path):
    samples = samples_from_ratings(Rated(p, stars) for p, stars in rated.items())
    (tmp_path / "x.safetensors").write_bytes(b"")
    with pytest.raises(FinetuneError, match="already exists"):
        finetune(config_profile("loda_tiny"), samples, tmp_path / "x.safetensors", name="x")
    with pytest.raises(FinetuneError, match="Rate at least 30 photos"):
        finetune(config_profile("loda_tiny"), samples[:20], tmp_path / "y.safetensors", name="y")
    with pytest.raises(FinetuneError, match="invalid profile name"):
        finetune(config_profile("loda_tiny"), samples, tmp_path / "z.safetensors", name="../z")
