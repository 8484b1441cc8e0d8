"""The shipped default model as a fine-tuning base, the way the README says to use it: ``loda finetune --base
default`` then ``loda score --model <out>``, each in a fresh process, offline, in a clean ``LODA_HOME``.

The default is a full profile whose ViT this project pretrained (nowhere to download it from); its fine-tunes
used to be saved as adapters that could not find their backbones again."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from model.profiles import read_profile
from tests.rated_photos import make_rated_photos

pytestmark = pytest.mark.bundled_model


def loda(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import sys; from loda_desktop.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)


def test_finetune_the_default_then_score_with_it_offline_in_fresh_processes(tmp_path):
    folder = tmp_path / "shoot"
    ratings = make_rated_photos(folder, n_contents=8)
    ratings_csv = tmp_path / "ratings.csv"
    ratings_csv.write_text("path,rating\n" + "".join(f"{p},{s}\n" for p, s in ratings.items()), encoding="utf-8")
    home = tmp_path / "clean-home"
    env = {k: v for k, v in os.environ.items() if k not in ("LODA_BUNDLED_MODELS", "LODA_AUTO_ONNX")}
    env |= {"LODA_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_HOME": str(home / "hf"), "OMP_NUM_THREADS": "1"}
    quick = ["--epochs", "1", "--batch", "8", "--train-crops", "1", "--test-crops", "1"]
    done = loda("finetune", "--ratings", str(ratings_csv), "--base", "default", "--out", "mine", *quick, env=env)
    assert done.returncode == 0, done.stderr
    profile = read_profile(home / "data" / "models" / "mine.safetensors")
    assert profile.kind == "full" and profile.metadata["parent"].startswith("loda-default@")
    assert profile.metadata["parent_digest"]

    out = tmp_path / "ranking.csv"
    done = loda("score", str(folder), "--model", "mine", "--crops", "1", "--csv", str(out), env=env)
    assert done.returncode == 0, done.stderr
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 32 and {r["status"] for r in rows} == {"ok"}
    assert {r["model"].split("@")[0] for r in rows} == {"mine"}
