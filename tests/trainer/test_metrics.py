"""Metrics against scipy on known inputs, the logistic mapping, degenerate inputs and run medians."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from trainer.metrics import evaluate, krcc, logistic_fit, median_over_repeats, plcc, rmse, srcc

PRED = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.95]
TARGET = [1.0, 2.5, 3.0, 4.0, 4.5, 1.5, 4.8]


def test_rank_correlations_of_monotone_and_reversed_transforms():
    x = np.linspace(-3, 3, 40)
    y = np.exp(x)  # monotone, far from linear
    assert srcc(x, y) == pytest.approx(1.0)
    assert krcc(x, y) == pytest.approx(1.0)
    assert srcc(x[::-1], y) == pytest.approx(-1.0)
    assert krcc(x[::-1], y) == pytest.approx(-1.0)


def test_rank_correlations_match_hand_values_and_scipy():
    # Ranks of PRED: 1 4 3 6 5 2 7; of TARGET: 1 3 4 5 6 2 7 -> sum d^2 = 4, rho = 1 - 6*4 / (7*48)
    assert srcc(PRED, TARGET) == pytest.approx(1 - 24 / 336)
    # 21 pairs, 2 discordant ((0.4, 0.35) and (0.8, 0.7)) -> tau = (19 - 2) / 21
    assert krcc(PRED, TARGET) == pytest.approx(17 / 21)
    assert srcc(PRED, TARGET) == pytest.approx(stats.spearmanr(PRED, TARGET).statistic)
    assert krcc(PRED, TARGET) == pytest.approx(stats.kendalltau(PRED, TARGET).statistic)


def test_raw_plcc_and_rmse_match_scipy_and_numpy():
    assert plcc(PRED, TARGET, fitted=False) == pytest.approx(stats.pearsonr(PRED, TARGET).statistic)
    diff = np.subtract(PRED, TARGET)
    assert rmse(PRED, TARGET, fitted=False) == pytest.approx(float(np.sqrt(np.mean(diff**2))))


def test_logistic_fit_of_a_sigmoidal_transform_beats_raw_pearson():
    rng = np.random.default_rng(0)
    pred = rng.uniform(-6, 6, 300)
    target = 100.0 / (1.0 + np.exp(-1.5 * pred)) + rng.normal(0, 0.5, 300)
    raw = plcc(pred, target, fitted=False)
    fitted = plcc(pred, target)
    assert raw < 0.96
    assert fitted > raw
    assert fitted == pytest.approx(1.0, abs=1e-3)
    assert rmse(pred, target) < rmse(pred, target, fitted=False)
    assert rmse(pred, target) == pytest.approx(0.5, abs=0.1)  # the noise level


def test_logistic_fit_handles_decreasing_relations_and_any_scale():
    rng = np.random.default_rng(1)
    pred = rng.uniform(0, 1e-3, 200)  # tiny prediction scale
    target = 5.0 - 4.0 / (1.0 + np.exp(-(pred - 5e-4) / 1e-4))  # decreasing
    mapped = logistic_fit(pred, target)
    assert mapped.shape == target.shape
    assert np.max(np.abs(mapped - target)) < 1e-3
    assert plcc(pred, target) == pytest.approx(1.0, abs=1e-6)


def test_logistic_fit_falls_back_when_the_logistic_cannot_fit():
    # Three points: fewer than the 4 or 5 parameters, so only the straight line can be fitted.
    mapped = logistic_fit([0.0, 1.0, 2.0], [1.0, 2.0, 4.0])
    slope, intercept = np.polyfit([0.0, 1.0, 2.0], [1.0, 2.0, 4.0], 1)
    assert mapped == pytest.approx(slope * np.array([0.0, 1.0, 2.0]) + intercept)
    # A relation no logistic captures well (a logit): the fit still returns finite values no worse than a line.
    x = np.linspace(0.01, 0.99, 200)
    y = np.log(x / (1 - x))
    mapped = logistic_fit(x, y)
    assert np.all(np.isfinite(mapped))
    line = np.polyval(np.polyfit(x, y, 1), x)
    assert np.sum((mapped - y) ** 2) <= np.sum((line - y) ** 2) * (1 + 1e-6)


def test_constant_predictions_give_nan_without_raising_or_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate(np.full(10, 0.5), np.arange(10.0))
        assert all(math.isnan(v) for v in result.values())
        assert np.all(np.isnan(logistic_fit(np.ones(4), [1.0, 2.0, 3.0, 4.0])))
        assert math.isnan(plcc([1, 1, 1], [1, 2, 3]))
        assert math.isnan(srcc([1.0], [2.0]))
        assert math.isnan(krcc([], []))
        assert all(math.isnan(v) for v in evaluate([0.1, np.nan, 0.3], [1, 2, 3]).values())
        flat = evaluate([0.1, 0.2, 0.3], [2.0, 2.0, 2.0])  # constant target
        assert math.isnan(flat["srcc"]) and math.isnan(flat["plcc"]) and flat["rmse"] == 0.0


def test_mismatched_lengths_are_a_value_error():
    with pytest.raises(ValueError, match="length"):
        srcc([1, 2, 3], [1, 2])


def test_evaluate_returns_json_serialisable_floats():
    result = evaluate(PRED, TARGET)
    assert set(result) == {"srcc", "plcc", "krcc", "rmse"}
    assert all(type(v) is float for v in result.values())
    assert json.loads(json.dumps(result)) == result
    assert result["srcc"] == pytest.approx(srcc(PRED, TARGET))
    assert result["plcc"] == pytest.approx(plcc(PRED, TARGET))
    assert result["rmse"] == pytest.approx(rmse(PRED, TARGET))
    assert result["plcc"] >= plcc(PRED, TARGET, fitted=False) - 1e-9


def test_median_over_repeats():
    runs = [
        {"srcc": 0.9, "plcc": 0.80, "krcc": 0.7, "rmse": 0.3, "dataset": "koniq10k"},
        {"srcc": 0.7, "plcc": 0.95, "krcc": 0.5, "rmse": 0.1, "dataset": "koniq10k"},
        {"srcc": 0.8, "plcc": 0.90, "krcc": 0.6, "rmse": 0.2, "dataset": "koniq10k"},
        {"srcc": 0.6, "plcc": 0.85, "krcc": 0.4, "rmse": 0.4, "dataset": "koniq10k"},
    ]
    assert median_over_repeats(runs) == pytest.approx({"srcc": 0.75, "plcc": 0.875, "krcc": 0.55, "rmse": 0.25, "n": 4})
    assert median_over_repeats(runs[:3])["srcc"] == pytest.approx(0.8)
    with_nan = [*runs, {"srcc": math.nan, "plcc": 0.9, "krcc": 0.5, "rmse": 0.2}]
    out = median_over_repeats(with_nan)
    assert math.isnan(out["srcc"]) and out["plcc"] == pytest.approx(0.9) and out["n"] == 5
    with pytest.raises(ValueError, match="at least one run"):
        median_over_repeats([])
    with pytest.raises(ValueError, match=r"run 1 has no 'rmse'"):
        median_over_repeats([{"rmse": 1.0}, {"srcc": 1.0}])
