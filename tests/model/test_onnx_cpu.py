"""OnnxScorer on a CPU: inference and decoding threads chosen together from the cores, batches of at most
CPU_BATCH crops, the memory arena switch. (What the defaults were chosen from: docs/performance.md.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model import create_model
from model.onnx_export import export_onnx
from model.onnx_scorer import ARENA_ENV, CPU_BATCH, OnnxScorer, cpu_threads
from model.profiles import build_metadata


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    torch.manual_seed(0)
    net = create_model("loda_tiny").eval()
    meta = build_metadata(net.config, name="tiny-cpu-test", kind="full")
    return export_onnx(net, meta, tmp_path_factory.mktemp("tiny_cpu") / "tiny.onnx")


@pytest.mark.parametrize(
    ("cores", "expected"), [(1, (1, 1)), (2, (1, 1)), (4, (2, 2)), (8, (5, 3)), (16, (10, 6)), (64, (38, 26))]
)
def test_the_cores_are_split_between_inference_and_decoding(cores, expected):
    inference, decoding = cpu_threads(cores)
    assert (inference, decoding) == expected
    assert inference + decoding <= max(2, cores)  # never more threads than cores (one core still gets two)


def test_defaults_come_from_the_usable_cores(tiny_onnx, monkeypatch):
    import model.onnx_scorer as module

    monkeypatch.setattr(module, "usable_cores", lambda: 8)
    scorer = OnnxScorer(tiny_onnx, device="cpu")
    assert (scorer.threads, scorer.decode_workers) == (5, 3)
    assert scorer.session.get_session_options().intra_op_num_threads == 5
    given = OnnxScorer(tiny_onnx, device="cpu", threads=3, decode_workers=5)  # what the caller asks for wins
    assert (given.threads, given.decode_workers) == (3, 5)
    assert given.session.get_session_options().intra_op_num_threads == 3


def test_cpu_batches_are_capped_and_the_scores_do_not_change(tiny_onnx, monkeypatch):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (300, 400, 3), dtype=np.uint8) for _ in range(3)]
    scorer = OnnxScorer(tiny_onnx, device="cpu", crops=5, batch_size=32)
    assert scorer.batch_size == CPU_BATCH
    sizes = []
    forward = scorer._forward_all if hasattr(scorer, "_forward_all") else scorer._forward

    def counting(crops):
        sizes.append(len(crops))
        return forward(crops)

    monkeypatch.setattr(scorer, "_forward_all" if hasattr(scorer, "_forward_all") else "_forward", counting)
    capped = [r.score for r in scorer.score(images)]
    assert max(sizes) <= CPU_BATCH and sum(sizes) == 15
    whole = OnnxScorer(tiny_onnx, device="cpu", crops=5)
    whole.batch_size = 32  # the batch a GPU would run
    assert np.allclose(capped, [r.score for r in whole.score(images)], atol=1e-5)
    assert OnnxScorer(tiny_onnx, device="cpu", batch_size=4).batch_size == 4  # a smaller setting is kept


@pytest.mark.parametrize(("value", "arena"), [("0", False), ("1", True)])
def test_the_memory_arena_switch(tiny_onnx, monkeypatch, value, arena):
    monkeypatch.setenv(ARENA_ENV, value)
    scorer = OnnxScorer(tiny_onnx, device="cpu")
    assert scorer.session.get_session_options().enable_cpu_mem_arena is arena
