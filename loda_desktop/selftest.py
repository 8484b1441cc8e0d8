"""``--selftest``: score the bundled demo photos with the default model and check the answers, in one line.

A packaged app is checked where it will run (``packaging/build.py`` runs it on each bundle, a user can run it on
a machine where the window misbehaves): the default model resolves and loads (the bundled ONNX export in the
score-only app), every demo photo decodes and gets a finite score inside the model's declared range. Nothing is
written: no catalog, no settings, and the user's photos are not touched. No Qt here; the window's entry adds its
own image-plugin check (:mod:`loda_desktop.ui.app`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .engine import Engine
from .model_store import DEFAULT_MODEL
from .scan import is_supported
from .settings import Settings

__all__ = ["DEMO_DIR", "RANGE_SLACK", "SelftestResult", "demo_photos", "run_selftest"]

DEMO_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo"
# The calibration from raw output to score is linear and not clipped, so a score may leave the declared range a
# little; more than this fraction of the range means a broken model or preprocessing.
RANGE_SLACK = 0.1


@dataclass(frozen=True)
class SelftestResult:
    ok: bool
    line: str  # the one line printed: what was checked, or why it failed


def demo_photos(folder: Path = DEMO_DIR) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_supported(p))


def _fail(reason: str) -> SelftestResult:
    return SelftestResult(False, f"LoDa Desktop {__version__} self-test FAILED: {reason}")


def _range(profile_meta: dict) -> tuple[float, float] | None:
    declared = (profile_meta.get("score") or {}).get("range")
    if isinstance(declared, list | tuple) and len(declared) == 2:
        low, high = float(declared[0]), float(declared[1])
        slack = RANGE_SLACK * (high - low)
        return low - slack, high + slack
    return None


def run_selftest(folder: Path = DEMO_DIR, settings: Settings | None = None) -> SelftestResult:
    """Score every demo photo in ``folder`` with ``settings`` (the default model, backend auto by default)."""
    photos = demo_photos(folder)
    if not photos:
        return _fail(f"no demo photos in {folder}")
    started = time.perf_counter()
    try:
        engine = Engine(settings or Settings(model=DEFAULT_MODEL))
        if not engine.profile.trained:
            return _fail(f"the default model resolves to '{engine.profile.name}', which is untrained")
        scorer = engine.scorer
        results = [scorer.score_one(p) for p in photos]
    except Exception as exc:  # the answer itself: whatever stops scoring is what the self-test reports
        return _fail(f"{type(exc).__name__}: {exc}")
    bad = [f"{Path(r.source).name}: {r.error}" for r in results if not r.ok]
    if bad:
        return _fail("; ".join(bad))
    scores = [float(r.score) for r in results if r.score is not None]
    if len(scores) != len(photos) or not all(math.isfinite(s) for s in scores):
        return _fail(f"scores not finite: {scores}")
    bounds = _range(engine.profile.metadata)
    if bounds is not None and not all(bounds[0] <= s <= bounds[1] for s in scores):
        return _fail(f"scores {[round(s, 4) for s in scores]} outside the range {bounds}")
    return SelftestResult(
        True,
        f"LoDa Desktop {__version__} self-test ok: {len(scores)} demo photos scored {min(scores):.3f}-"
        f"{max(scores):.3f} by {engine.profile.name} on {scorer.describe()} in {time.perf_counter() - started:.1f} s",
    )
