"""IQA evaluation metrics: SRCC, KRCC, PLCC and RMSE after the VQEG logistic mapping, and run medians.

All correlations come from ``scipy.stats``; the logistic mapping is fitted with ``scipy.optimize.curve_fit``.

Degenerate input never raises: constant (or non-finite) predictions, constant targets or fewer than two
points give ``nan`` for the metrics that are undefined there (a constant prediction has no rank order and no
logistic mapping, so all four metrics are ``nan``). Inputs of different lengths are a programming error and
raise ValueError. This module imports neither torch nor Qt.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from numbers import Real

import numpy as np
from scipy import optimize, special, stats

__all__ = [
    "evaluate",
    "krcc",
    "logistic_fit",
    "median_over_repeats",
    "plcc",
    "rmse",
    "srcc",
]

_MAXFEV = 10_000


def _pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(pred, dtype=float).ravel()
    y = np.asarray(target, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"pred and target differ in length: {x.size} vs {y.size}")
    return x, y


def _degenerate(*arrays: np.ndarray) -> bool:
    """Fewer than two points, a non-finite value, or a constant array: correlations are undefined."""
    return any(a.size < 2 or not np.all(np.isfinite(a)) or np.ptp(a) == 0 for a in arrays)


def srcc(pred, target) -> float:
    """Spearman rank-order correlation (scipy.stats.spearmanr); nan on degenerate input."""
    x, y = _pair(pred, target)
    if _degenerate(x, y):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(x, y).statistic)


def krcc(pred, target) -> float:
    """Kendall rank-order correlation, tau-b (scipy.stats.kendalltau); nan on degenerate input."""
    x, y = _pair(pred, target)
    if _degenerate(x, y):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.kendalltau(x, y).statistic)


def _logistic5(x, b1, b2, b3, b4, b5):
    # b1 * (0.5 - 1 / (1 + exp(b2 * (x - b3)))) + b4 * x + b5, written with expit so it never overflows.
    return b1 * (0.5 - special.expit(-b2 * (x - b3))) + b4 * x + b5


def _logistic4(x, b1, b2, b3, b4):
    # (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2
    return (b1 - b2) * special.expit((x - b3) / (np.abs(b4) + 1e-12)) + b2


def _fit(func, x: np.ndarray, y: np.ndarray, p0: list[float]) -> np.ndarray | None:
    if x.size < len(p0):  # fewer points than parameters: curve_fit cannot fit it
        return None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(func, x, y, p0=p0, maxfev=_MAXFEV)
    except (RuntimeError, ValueError, TypeError, optimize.OptimizeWarning, FloatingPointError):
        return None
    mapped = func(x, *params)
    return mapped if np.all(np.isfinite(mapped)) else None


def logistic_fit(pred, target) -> np.ndarray:
    """Map ``pred`` onto ``target``'s scale with the VQEG logistic function; returns the mapped predictions.

    Fits the 5-parameter form ``b1 * (0.5 - 1 / (1 + exp(b2 * (x - b3)))) + b4 * x + b5`` with
    ``scipy.optimize.curve_fit``; if that does not converge (or ends worse than a straight line, i.e. in a
    poor local optimum), the 4-parameter form ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``; failing that,
    a least-squares line. Both inputs are standardised (zero mean, unit variance) before fitting, which the
    function families absorb exactly and which makes one initial guess work at any scale: b1 = ±range(y)
    (sign of the Pearson correlation), b2 = 1 (i.e. 1 / std(pred)), b3 = mean(pred), b4 = 0, b5 = mean(y);
    and [max(y), min(y), mean(x), std(x)] (swapped for a decreasing relation) for the 4-parameter form.

    Constant or non-finite predictions, or fewer than two points, give an all-``nan`` array; a constant
    target gives that constant.
    """
    x, y = _pair(pred, target)
    if x.size < 2 or not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)) or np.ptp(x) == 0:
        return np.full(x.shape, np.nan)
    if np.ptp(y) == 0:
        return y.copy()
    x_mean, x_std = x.mean(), x.std()
    y_mean, y_std = y.mean(), y.std()
    xs = (x - x_mean) / x_std
    ys = (y - y_mean) / y_std

    slope, intercept = np.polyfit(xs, ys, 1)
    linear = slope * xs + intercept
    linear_sse = float(np.sum((linear - ys) ** 2))
    sign = 1.0 if slope >= 0 else -1.0
    lo, hi = float(ys.min()), float(ys.max())

    mapped = linear
    candidates = (
        (_logistic5, [sign * (hi - lo), 1.0, 0.0, 0.0, 0.0]),
        (_logistic4, [hi, lo, 0.0, 1.0] if sign > 0 else [lo, hi, 0.0, 1.0]),
    )
    for func, p0 in candidates:
        fitted = _fit(func, xs, ys, p0)
        if fitted is not None and float(np.sum((fitted - ys) ** 2)) <= linear_sse * (1 + 1e-9) + 1e-12:
            mapped = fitted
            break
    return mapped * y_std + y_mean


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if _degenerate(x, y):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.pearsonr(x, y).statistic)


def plcc(pred, target, fitted: bool = True) -> float:
    """Pearson correlation (scipy.stats.pearsonr) after :func:`logistic_fit` (``fitted=False``: raw)."""
    x, y = _pair(pred, target)
    return _pearson(logistic_fit(x, y) if fitted else x, y)


def rmse(pred, target, fitted: bool = True) -> float:
    """Root-mean-square error after :func:`logistic_fit` (``fitted=False``: of the raw predictions)."""
    x, y = _pair(pred, target)
    mapped = logistic_fit(x, y) if fitted else x
    if mapped.size == 0 or not np.all(np.isfinite(mapped)) or not np.all(np.isfinite(y)):
        return math.nan
    return float(np.sqrt(np.mean((mapped - y) ** 2)))


def evaluate(pred, target) -> dict[str, float]:
    """``{"srcc", "plcc", "krcc", "rmse"}`` as Python floats (plcc and rmse after the logistic mapping).

    Plain floats, so ``json.dumps`` writes them (a ``nan`` is written as ``NaN``).
    """
    x, y = _pair(pred, target)
    mapped = logistic_fit(x, y)
    finite = mapped.size > 0 and bool(np.all(np.isfinite(mapped)))
    return {
        "srcc": srcc(x, y),
        "plcc": _pearson(mapped, y),
        "krcc": krcc(x, y),
        "rmse": float(np.sqrt(np.mean((mapped - y) ** 2))) if finite else math.nan,
    }


def _is_number(value: object) -> bool:
    return isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_))


def median_over_repeats(results: Iterable[Mapping[str, object]]) -> dict[str, float]:
    """Median of each numeric metric over repeated runs, plus ``n`` (the number of runs).

    Keys are those of the first run whose value is a number (strings, bools etc. are skipped); every run
    must have them all (ValueError otherwise, and for an empty list). A ``nan`` in any run makes that
    key's median ``nan``, so a failed run is never hidden.
    """
    runs = list(results)
    if not runs:
        raise ValueError("median_over_repeats needs at least one run")
    keys = [k for k, v in runs[0].items() if _is_number(v)]
    out: dict[str, float] = {}
    for key in keys:
        missing = [i for i, run in enumerate(runs) if key not in run]
        if missing:
            raise ValueError(f"run {missing[0]} has no {key!r} (every run needs the same metrics)")
        values = np.asarray([float(run[key]) for run in runs], dtype=float)  # type: ignore[arg-type]
        out[key] = math.nan if np.isnan(values).any() else float(np.median(values))
    out["n"] = len(runs)
    return out
