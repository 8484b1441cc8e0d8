"""Score the images of a ``loda make-synthetic`` table with the app's own scorer, for ``loda eval-synthetic``.

The scores come from :class:`~loda_desktop.engine.Engine` (backend auto, on the CPU), so the evaluation measures
the model exactly as the window and ``loda score`` run it. Importing this module imports no torch.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from trainer.datasets import read_csv_table
from trainer.splits import train_test_split
from trainer.synthetic import SyntheticError

from .engine import Engine
from .settings import Settings

__all__ = ["PREDICTION_COLUMNS", "score_synthetic_table"]

PREDICTION_COLUMNS = ["path", "group", "target", "prediction"]


def score_synthetic_table(
    table: Path,
    model: str,
    crops: int,
    held_out: tuple[float, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, str]:
    """Score the images of a synthetic table with ``model``: all of them, or with ``held_out`` = (train
    fraction, seed) only the photos ``loda train`` holds out with those settings. The predictions CSV
    (:data:`PREDICTION_COLUMNS`) goes next to the table; returns it and the model's name. ``progress(done,
    total)`` follows each image; an image that cannot be scored stops the run (:class:`SyntheticError`)."""
    samples = read_csv_table(table)
    tag = ""
    if held_out is not None:
        fraction, seed = held_out
        try:
            _, test = train_test_split(samples, fraction, seed)
        except ValueError as e:
            raise SyntheticError(f"{table}: cannot split it: {e}") from None
        samples = [samples[i] for i in test]
        tag = f"-heldout-seed{seed}"
    engine = Engine(Settings(model=model, crops=crops, device="cpu"))  # the app's scorer: backend auto
    profile, scorer = engine.profile, engine.scorer
    out = table.with_name(f"predictions-{profile.name}-{crops}crops{tag}.csv")
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PREDICTION_COLUMNS)
        for done, (k, result) in enumerate(scorer.iter_scores([s.path for s in samples]), start=1):
            if not result.ok:
                raise SyntheticError(f"cannot score {samples[k].path}: {result.error}")
            writer.writerow([str(samples[k].path), samples[k].group or "", samples[k].score, f"{result.score:.6f}"])
            if progress is not None:
                progress(done, len(samples))
    return out, profile.name
