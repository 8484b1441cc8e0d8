import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors import safe_open

from loda_desktop.cli import main
from trainer.datasets import read_csv_table
from trainer.splits import train_test_split


def test_make_pool_then_make_synthetic(tmp_path, capsys):
    src = tmp_path / "photos"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        small = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
        Image.fromarray(small).resize((600, 420), Image.Resampling.BICUBIC).save(src / f"p{i}.jpg")
    pool = tmp_path / "pool"
    assert main(["make-pool", str(src), str(pool), "--short-side", "192"]) == 0
    assert sorted(p.name for p in pool.iterdir()) == ["p0.png", "p1.png"]
    excluded = tmp_path / "excluded.txt"
    excluded.write_text("# drawings\np1  # not a photo\n")
    assert main(["make-pool", str(src), str(tmp_path / "pool2"), "--exclude", str(excluded)]) == 0
    assert [p.name for p in (tmp_path / "pool2").iterdir()] == ["p0.png"]
    assert main(["make-pool", str(src), str(tmp_path / "pool3"), "--exclude", str(tmp_path / "none.txt")]) == 1
    assert "exclusion list" in capsys.readouterr().err
    out = tmp_path / "syn"
    args = ["make-synthetic", str(pool), str(out), "--types", "gaussian_noise,jpeg2000", "--levels", "2"]
    assert main([*args, "--workers", "1"]) == 0
    with open(out / "synthetic.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2 and {r["group"] for r in rows} == {"p0", "p1"}
    assert "loda train --dataset csv" in capsys.readouterr().err
    # a model scores the whole table, then the same report as for loda train's held-out predictions
    assert main(["eval-synthetic", str(out / "synthetic.csv"), "--model", "loda_tiny", "--crops", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 8 and report["references"] == 2 and report["series"] == 4
    assert report["scored_with"] == {"model": "loda_tiny", "crops": 1}
    # --held-out scores only the photos loda train holds out with the same seed and fraction
    assert (
        main(["eval-synthetic", str(out / "synthetic.csv"), "--model", "loda_tiny", "--crops", "1", "--held-out"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 4 and report["references"] == 1 and report["series"] == 2
    samples = read_csv_table(out / "synthetic.csv")
    _, test = train_test_split(samples, 0.8, 0)
    with open(out / "predictions-loda_tiny-1crops-heldout-seed0.csv", newline="") as f:
        scored = [Path(r["path"]).name for r in csv.DictReader(f)]
    assert scored == [samples[i].path.name for i in test]
    predictions = str(out / "predictions-loda_tiny-1crops.csv")
    assert main(["eval-synthetic", str(out / "synthetic.csv"), predictions, "--held-out"]) == 1
    assert "leave PREDICTIONS out" in capsys.readouterr().err
    assert main(["eval-synthetic", str(out / "synthetic.csv"), predictions]) == 0  # made elsewhere: crops unknown
    assert "scored_with" not in json.loads(capsys.readouterr().out)
    # pretrain-vit --amp: bfloat16 training steps, recorded in the ViT file it writes
    vit = tmp_path / "vit.safetensors"
    args = ["pretrain-vit", str(out / "synthetic.csv"), str(vit), "--model", "loda_tiny", "--steps", "2"]
    assert main([*args, "--batch", "4", "--workers", "0", "--amp"]) == 0
    with safe_open(str(vit), framework="pt") as f:
        assert json.loads(f.metadata()["loda_pretrain"])["settings"]["amp"] is True


def test_make_synthetic_errors_are_one_line(tmp_path, capsys):
    assert main(["make-synthetic", str(tmp_path / "none"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "no such folder" in err and "Traceback" not in err
    (tmp_path / "refs").mkdir()
    Image.new("RGB", (300, 200)).save(tmp_path / "refs" / "a.png")
    assert main(["make-synthetic", str(tmp_path / "refs"), str(tmp_path / "out"), "--types", "sepia"]) == 1
    assert "unknown distortion" in capsys.readouterr().err
