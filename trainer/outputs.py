"""What a repeat writes besides its resume state: ``metrics.csv`` / ``metrics.json``, the held-out predictions
(:data:`PREDICTIONS_NAME`), and a model profile with its score calibration (fitted on training images only).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .datasets import Sample
from .state import write_json
from .train_config import METRIC_KEYS, TrainConfig

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "PREDICTIONS_NAME",
    "calibrate",
    "fit_calibration",
    "last_calibration",
    "save_profile",
    "write_metrics",
    "write_predictions",
]

PREDICTIONS_NAME = "test_predictions.csv"


def write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    """``metrics.json`` and ``metrics.csv``: one record per epoch (a column per key any record has)."""
    write_json(out_dir / "metrics.json", history)
    columns: list[str] = []
    for record in history:
        columns += [k for k in record if k not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for record in history:
        writer.writerow(["" if record.get(c) is None else record.get(c) for c in columns])
    tmp = out_dir / ".metrics.csv.tmp"
    tmp.write_text(buffer.getvalue())
    os.replace(tmp, out_dir / "metrics.csv")


def write_predictions(path: Path, samples: Sequence[Sample], raw: np.ndarray) -> None:
    """``path, group, target, prediction`` per held-out image (raw network output, before calibration)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "group", "target", "prediction"])
        for sample, value in zip(samples, raw, strict=True):
            writer.writerow([str(sample.path), sample.group or "", f"{sample.score:.6f}", f"{value:.6f}"])
    os.replace(tmp, path)


def fit_calibration(raw: Sequence[float], labels: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``(scale, offset)`` with ``scale * raw + offset ≈ labels`` (the normalised [0, 1] scores).

    Constant or non-finite outputs give ``(0, mean(labels))``: every image gets the average score.
    """
    x = np.asarray(raw, dtype=float)
    y = np.asarray(labels, dtype=float)
    if x.size < 2 or not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        return 0.0, float(np.mean(y)) if y.size else 0.0
    scale, offset = np.polyfit(x, y, 1)
    return float(scale), float(offset)


def calibrate(
    score: Callable[[list[int]], np.ndarray],
    samples: Sequence[Sample],
    train_idx: Sequence[int],
    *,
    seed: int,
    n_images: int,
) -> tuple[float, float]:
    """Fit the score calibration (:func:`fit_calibration`) on at most ``n_images`` of the training images
    ``samples[train_idx]``, drawn from ``seed``: no test image is used. ``score(indices)`` gives the network's raw
    outputs for ``samples[indices]`` (:func:`trainer.data.predict` on the test crops)."""
    rng = np.random.default_rng((seed, 0xCA1))
    n = min(len(train_idx), n_images)
    chosen = sorted(rng.choice(np.asarray(train_idx), size=n, replace=False).tolist())
    return fit_calibration(score(chosen), [samples[i].score for i in chosen])


def last_calibration(out_dir: Path, record: Mapping[str, Any]) -> tuple[float, float]:
    """The calibration saved in the profile ``record`` names (identity if there is none)."""
    profile = record.get("profile")
    if not profile or not (out_dir / profile).is_file():
        return (1.0, 0.0)
    from safetensors import safe_open

    with safe_open(str(out_dir / profile), framework="numpy") as f:
        meta = json.loads((f.metadata() or {}).get("loda", "{}"))
    cal = meta.get("score", {}).get("calibration", {})
    return float(cal.get("scale", 1.0)), float(cal.get("offset", 0.0))


def save_profile(
    module: nn.Module,
    path: Path,
    cfg: TrainConfig,
    record: Mapping[str, Any],
    calibration: tuple[float, float],
    dataset: str,
    repeat: int,
    seed: int,
    train_idx: Sequence[int],
    test_idx: Sequence[int],
) -> None:
    """Write the model profile of ``record``'s epoch (a baseline's weights for a baseline method) to ``path``."""
    epoch = int(record["epoch"])
    metrics = {k: v for k, v in record.items() if k.endswith(METRIC_KEYS) and isinstance(v, int | float)}
    trained_on = {
        "dataset": dataset,
        "summary": f"{dataset}, {len(train_idx)} images (80/20 split seed {seed}), epoch {epoch} of {cfg.epochs}",
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "split_seed": seed,
        "repeat": repeat,
        "epoch": epoch,
        "epochs": cfg.epochs,
        "method": cfg.method,
    }
    name = f"{module.config.name}-{dataset}-{cfg.method}-r{repeat}-e{epoch}"  # type: ignore[attr-defined]
    if cfg.method == "loda":
        from model.profiles import save_model

        save_model(
            module,  # type: ignore[arg-type]
            path,
            name=name,
            trained_on=trained_on,
            metrics=metrics,
            calibration=calibration,
            score_range=(0.0, 1.0),
            notes="score = calibration of the raw output to the training labels normalised to [0, 1]",
            extra={"training": cfg.to_dict()},
        )
    else:
        from .baselines import save_baseline

        save_baseline(
            module,  # type: ignore[arg-type]
            path,
            {"name": name, "trained_on": trained_on, "metrics": metrics, "calibration": list(calibration)},
        )
