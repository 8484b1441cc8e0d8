"""``loda finetune`` end to end: a rated folder (ratings in the catalog) or a CSV → a child profile that beats its
base on held-out ratings → ``loda score --model NAME`` scores with it."""

from __future__ import annotations

import csv

import pytest

from loda_desktop.catalog import Catalog
from loda_desktop.cli import main
from loda_desktop.paths import models_dir
from loda_desktop.settings import load_settings
from model.profiles import read_profile
from tests.rated_photos import TINY_ARGS, make_rated_photos, rate_in_catalog

FAST = [*TINY_ARGS, "--epochs", "15", "--batch", "8", "--lr", "2e-3", "--train-crops", "2", "--test-crops", "2"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture
def rated_folder(tmp_path):
    folder = tmp_path / "shoot"
    ratings = make_rated_photos(folder, n_contents=10)
    rate_in_catalog(ratings)
    return folder, ratings


def test_finetune_a_rated_folder_then_score_with_it(rated_folder, tmp_path, capsys):
    folder, _ = rated_folder
    code = main(["finetune", "--folder", str(folder), "--base", "loda_tiny", "--out", "my-taste", *FAST])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "held-out SRCC" in out
    path = models_dir() / "my-taste.safetensors"
    meta = read_profile(path).metadata
    # measured: -0.5367 → 0.9759 (same numbers as tests/trainer/test_finetune.py: same photos, split and seed)
    assert meta["metrics"]["srcc_after"] > meta["metrics"]["srcc_before"]
    assert meta["metrics"]["srcc_after"] > 0.8
    assert meta["parent"].startswith("loda_tiny@")
    assert meta["trained_on"]["source"] == "catalog"
    assert sum(meta["trained_on"]["ratings"].values()) == 40
    assert load_settings().model == "default"  # not activated unless asked

    ranking = tmp_path / "ranking.csv"
    assert main(["score", str(folder), "--model", "my-taste", "--crops", "2", "--csv", str(ranking)]) == 0
    with open(ranking, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40 and all(r["status"] == "ok" for r in rows)
    assert all(r["model"].startswith("my-taste@") for r in rows)
    # the fine-tuned model ranks the sharp photos above the blurred ones
    by_level = {lvl: [float(r["score"]) for r in rows if r["path"].endswith(f"blur{lvl}.jpg")] for lvl in range(4)}
    means = [sum(v) / len(v) for _, v in sorted(by_level.items())]
    assert means[0] > means[3]


def test_finetune_from_csv_and_activate(tmp_path, capsys):
    ratings = make_rated_photos(tmp_path / "shoot", n_contents=10)
    csv_file = tmp_path / "ratings.csv"
    csv_file.write_text("path,rating\n" + "".join(f"{p},{s}\n" for p, s in ratings.items()))
    code = main(
        [
            "finetune",
            "--ratings",
            str(csv_file),
            "--base",
            "loda_tiny",
            "--out",
            "csv-taste",
            "--activate",
            *FAST,
            "--epochs",
            "2",
        ]
    )
    assert code == 0, capsys.readouterr().err
    meta = read_profile(models_dir() / "csv-taste.safetensors").metadata
    assert meta["trained_on"]["source"] == "csv"
    assert load_settings().model == "csv-taste"


def test_too_few_ratings_is_a_one_line_error(rated_folder, capsys):
    folder, ratings = rated_folder
    with Catalog() as catalog:
        catalog.set_rating(list(ratings)[:25], 0)
    code = main(["finetune", "--folder", str(folder), "--base", "loda_tiny", "--out", "x", *TINY_ARGS])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("loda finetune: error: Rate at least 30 photos with at least 3 different star values")
    assert len(err.strip().splitlines()) == 1
    assert not (models_dir() / "x.safetensors").exists()
