"""``loda train`` through a plain argparse harness (the way the app's CLI registers it)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from model.profiles import load_model, read_profile
from trainer.cli import TrainError, _config_from_args, add_train_parser, main

SMALL = ["--model", "loda_tiny", "--img-size", "32", "--short-side", "40", "--batch", "8", "--train-crops", "1",
         "--test-crops", "2", "--calib-images", "8", "--no-progress", "--device", "cpu"]  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loda")
    sub = p.add_subparsers(dest="command")
    add_train_parser(sub)
    return p


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


@pytest.fixture
def ratings(tmp_path):
    """A ratings table of 16 photos: 4 contents × 4 blur levels, relative paths, a group column."""
    rng = np.random.default_rng(0)
    rows = ["path,score,group"]
    for i in range(4):
        base = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((56, 40))
        for level in range(4):
            name = f"photos/c{i}_{level}.png"
            (tmp_path / "photos").mkdir(exist_ok=True)
            base.filter(ImageFilter.GaussianBlur(level)).save(tmp_path / name)
            rows.append(f"{name},{5 - level},c{i}")
    table = tmp_path / "ratings.csv"
    table.write_text("\n".join(rows) + "\n")
    return table


def test_train_on_a_csv_writes_metrics_and_a_loadable_profile(ratings, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--dataset", "csv", "--csv", str(ratings), *SMALL, "--epochs", "2", "--repeats", "1"]
    assert run([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "Medians over 1 repeat(s)" in printed.out and "SRCC" in printed.out
    assert "loda train: csv (16 images)" in printed.err
    records = json.loads((out / "repeat_1" / "metrics.json").read_text())
    assert [r["epoch"] for r in records] == [1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["median"]["n"] == 1 and summary["config"]["batch"] == 8
    net = load_model(out / "repeat_1" / "epoch_2.safetensors")
    assert net.config.name == "loda_tiny" and net.config.img_size == 32
    assert read_profile(out / "repeat_1" / "epoch_2.safetensors").metadata["trained_on"]["dataset"] == "csv"

    with pytest.raises(TrainError, match="--resume"):
        run([*argv, "--out", str(out)])
    assert run([*argv, "--out", str(out), "--resume"]) == 0  # finished: read back, nothing retrained


def test_the_papers_knobs_reach_the_config(tmp_path):
    args = parser().parse_args(
        ["train", "--dataset", "koniq10k", "--root", str(tmp_path), "--r", "48", "--heads", "2",
         "--n-interactions", "6", "--pool", "5", "--train-crops", "3", "--test-crops", "9", "--batch", "64",
         "--micro-batch", "16", "--lr", "1e-4", "--weight-decay", "0.05", "--seed", "3", "--method", "adapter",
         "--method-dim", "32", "--bn", "frozen", "--epochs", "4", "--repeats", "2", "--device", "cpu",
         "--init", "runs/a/repeat_1/epoch_3.safetensors", "--rank-weight", "0.5", "--pair-weight", "2"]
    )  # fmt: skip
    cfg = _config_from_args(args)
    assert (cfg.r, cfg.heads, cfg.n_interactions, cfg.pool) == (48, 2, 6, 5)
    assert (cfg.train_crops, cfg.test_crops, cfg.batch, cfg.micro_batch) == (3, 9, 64, 16)
    assert (cfg.lr, cfg.weight_decay, cfg.seed, cfg.epochs, cfg.repeats) == (1e-4, 0.05, 3, 4, 2)
    assert (cfg.method, cfg.method_dim, cfg.bn, cfg.workers) == ("adapter", 32, "frozen", 0)
    assert cfg.init == str(Path("runs/a/repeat_1/epoch_3.safetensors")) and cfg.rank_weight == 0.5
    assert cfg.pair_weight == 2.0
    loda = cfg.loda_config()
    assert (loda.name, loda.r, loda.heads, loda.n_interactions, loda.pool, loda.test_crops) == (
        "loda_vit_base_r50",
        48,
        2,
        6,
        5,
        9,
    )
    defaults = _config_from_args(parser().parse_args(["train", "--dataset", "livec", "--device", "cpu"]))
    assert (defaults.epochs, defaults.batch, defaults.lr, defaults.weight_decay, defaults.repeats) == (
        10, 128, 3e-4, 0.01, 10
    )  # fmt: skip
    assert defaults.bn == "adapt" and defaults.method == "loda" and defaults.model == "loda_vit_base_r50"
    assert defaults.rank_weight == defaults.pair_weight == 0.0 and defaults.init is None  # the paper's loss


def test_argument_errors_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["train", "--dataset", "csv", "--batch", "0"])
    assert exc.value.code == 2 and "must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--dataset", "imagenet"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset", "koniq10k"], "needs --root"),
        (["--dataset", "koniq10k", "--root", "{tmp}/nowhere"], "dataset folder not found"),
        (["--dataset", "csv"], "needs --csv"),
        (["--dataset", "csv", "--csv", "{tmp}/missing.csv"], "ratings table not found"),
        (["--dataset", "csv", "--csv", "{tmp}/garbage.csv"], "no 'path' or 'image' column"),
        (["--dataset", "csv", "--csv", "{tmp}/few.csv"], "too few"),
        (["--dataset", "csv", "--csv", "{ratings}", "--model", "loda_huge"], "unknown model config"),
        (["--dataset", "csv", "--csv", "{ratings}", "--test-root", "{tmp}"], "need --test-dataset"),
        (["--dataset", "csv", "--csv", "{ratings}", "--init", "{tmp}/gone.safetensors"], "--init: no such file"),
        (["--dataset", "csv", "--csv", "{ratings}", "--model", "loda_tiny", "--init", "{tmp}/garbage.csv"], "--init: "),
        (["--dataset", "csv", "--csv", "{ratings}", "--test-dataset", "livec", "--test-root", "{tmp}/x"], "not found"),
    ],
)
def test_bad_input_is_one_line_without_traceback(extra, message, ratings, tmp_path, capsys):
    (tmp_path / "garbage.csv").write_text("name;value\nx;1\n")
    (tmp_path / "few.csv").write_text("path,score\n" + "".join(f"photos/c0_{i}.png,{i}\n" for i in range(4)))
    argv = [a.format(tmp=tmp_path, ratings=ratings) for a in ["train", *extra, "--out", "{tmp}/out", "--no-progress"]]
    with pytest.raises(TrainError, match=message):
        run(argv)
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("loda train: error:") and message in err[0]


def test_cross_dataset_and_a_baseline_from_the_command_line(ratings, tmp_path, capsys):
    out = tmp_path / "cross"
    argv = ["train", "--dataset", "csv", "--csv", str(ratings), *SMALL, "--epochs", "1", "--repeats", "1",
            "--test-dataset", "csv", "--test-csv", str(ratings), "--method", "linear", "--out", str(out)]  # fmt: skip
    assert run(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {"srcc", "csv_srcc", "csv_plcc"} <= set(summary["median"]) and summary["method"] == "linear"
    assert "csv" in capsys.readouterr().out


def test_loda_train_through_the_apps_command_line(ratings, tmp_path, capsys):
    """The real `loda` entry point: training runs, and a bad dataset is a one-line error (exit 1)."""
    from loda_desktop.cli import main as loda_main

    out = tmp_path / "via_loda"
    argv = ["train", "--dataset", "csv", "--csv", str(ratings), *SMALL, "--epochs", "1", "--repeats", "1"]
    assert loda_main([*argv, "--out", str(out)]) == 0
    assert (out / "summary.json").is_file()
    capsys.readouterr()
    assert loda_main(["train", "--dataset", "koniq10k", "--root", str(tmp_path / "nowhere"), *SMALL]) == 1
    err = capsys.readouterr().err
    assert "loda train: error:" in err and "Traceback" not in err
