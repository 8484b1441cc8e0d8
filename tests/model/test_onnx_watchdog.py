"""Hostile ONNX files and misbehaving models (issue 26, faults 9 and 11): a graph that never ends is stopped
after the batch timeout with a clear error, a graph that ignores its input or answers in another shape is refused
at load, a NaN score is that photo's error, and work folders of killed exports are cleaned up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper

from loda_desktop.cli import main
from model.configs import get_config
from model.onnx_export import remove_stale_work_dirs
from model.onnx_scorer import METADATA_KEY, OnnxScorer
from model.profiles import ProfileError, build_metadata
from model.scorer import BaseScorer, ScorerError
from tests.app.badfiles import photo

SIZE = get_config("loda_tiny").img_size


def _save(path: Path, nodes, output_shape, initializers=()) -> Path:
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("crops", TP.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("score", TP.FLOAT, output_shape)],
        list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    meta = build_metadata(get_config("loda_tiny"), name="hostile", kind="full")
    helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def endless_loop(path: Path) -> Path:
    """score = mean(crops) + a Loop with no trip count whose condition stays true: it never ends. The loop's
    start value depends on the input, so no optimiser can fold it away at load."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TP.INT64, []),
            helper.make_tensor_value_info("cond_in", TP.BOOL, []),
            helper.make_tensor_value_info("v_in", TP.FLOAT, ["N"]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TP.BOOL, []),
            helper.make_tensor_value_info("v_out", TP.FLOAT, ["N"]),
        ],
        [helper.make_tensor("one", TP.FLOAT, [], [1.0])],
    )
    nodes = [
        helper.make_node("ReduceMean", ["crops"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Loop", ["", "yes", "mean"], ["score"], body=body),
    ]
    return _save(path, nodes, ["N"], [helper.make_tensor("yes", TP.BOOL, [], [True])])


def constant(path: Path) -> Path:
    """score = 0 * mean(crops) + 0.5: one number per crop, whatever the photo."""
    nodes = [
        helper.make_node("ReduceMean", ["crops"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "half"], ["score"]),
    ]
    inits = [helper.make_tensor("zero", TP.FLOAT, [], [0.0]), helper.make_tensor("half", TP.FLOAT, [], [0.5])]
    return _save(path, nodes, ["N"], inits)


def two_per_crop(path: Path) -> Path:
    """(N, 2): two numbers per crop, not a LoDa output."""
    nodes = [helper.make_node("ReduceMean", ["crops"], ["score"], axes=[2, 3], keepdims=0)]
    return _save(path, nodes, ["N", 3])


def test_an_endless_loop_is_stopped_after_the_timeout(tmp_path):
    path = endless_loop(tmp_path / "loop.onnx")
    started = time.monotonic()
    with pytest.raises(ScorerError, match=r"loop\.onnx: the model gave no answer within 0\.5 s .* and was stopped"):
        OnnxScorer(path, device="cpu", timeout=0.5)
    assert time.monotonic() - started < 20


def test_an_endless_loop_through_loda_score_is_one_line(tmp_path, monkeypatch, capsys):
    path = endless_loop(tmp_path / "loop.onnx")
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo(folder / "a.jpg", size=(300, 200))
    monkeypatch.setenv("LODA_BATCH_TIMEOUT", "0.5")
    assert main(["score", str(folder), "--model", str(path), "--backend", "onnx", "--crops", "2"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[-1].startswith("loda score: error: loop.onnx: the model gave no answer within 0.5 s")
    assert "Traceback" not in "\n".join(err)


def test_a_constant_output_graph_is_refused_at_load(tmp_path):
    with pytest.raises(ProfileError, match="same score for two different inputs: it ignores the photo"):
        OnnxScorer(constant(tmp_path / "constant.onnx"), device="cpu", timeout=30)


def test_an_output_of_another_shape_is_refused_at_load(tmp_path):
    with pytest.raises(ProfileError, match=r"output of shape \[2, 3\] for 2 crops"):
        OnnxScorer(two_per_crop(tmp_path / "wide.onnx"), device="cpu", timeout=30)


class FakeScorer(BaseScorer):
    """A backend whose raw outputs are given: NaN for the crops of the second image, or a wrong shape."""

    def __init__(self, outputs):
        super().__init__(short_side=64, crop_size=32, crops=2, batch_size=2, decode_workers=1)
        self.outputs = outputs

    def _forward(self, crops):
        return self.outputs(len(crops))


def test_a_nan_score_is_that_photos_error_and_the_run_goes_on(tmp_path):
    images = [photo(tmp_path / f"p{i}.png", size=(80, 64), seed=i) for i in range(3)]
    calls = iter([np.array([0.1, 0.2]), np.array([np.nan, 0.3]), np.array([0.4, 0.5])])
    results = FakeScorer(lambda n: next(calls)).score(images)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error == "the model gave no finite score for this photo" and results[1].error_kind == "model"


def test_an_output_of_the_wrong_size_stops_the_run(tmp_path):
    images = [photo(tmp_path / "p.png", size=(80, 64))]
    with pytest.raises(ScorerError, match=r"returned float64 output of shape \[3\] for 2 crops"):
        FakeScorer(lambda n: np.zeros(n + 1)).score(images)


def test_work_folders_of_killed_exports_are_removed(tmp_path):
    out = tmp_path / "model.onnx"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".model.onnx.{dead_pid}.abc123.tmp"
    running = tmp_path / f".model.onnx.{os.getpid()}.def456.tmp"
    other = tmp_path / f".other.onnx.{dead_pid}.xyz.tmp"
    for folder in (stale, running, other):
        folder.mkdir()
        (folder / "float.onnx").write_bytes(b"half an export")
    assert remove_stale_work_dirs(out) == [stale]
    assert not stale.exists() and running.exists() and other.exists()
