"""ONNX export and the ONNX Runtime scorer: checker, metadata, dynamic batch, parity with torch, INT8, damage."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from scipy.stats import spearmanr

from model import create_model
from model.onnx_export import OnnxExportError, export_onnx
from model.onnx_scorer import (
    CPU,
    CUDA,
    DETAIL_NAME,
    EMBEDDING_NAME,
    INPUT_NAME,
    METADATA_KEY,
    OUTPUT_NAME,
    TENSORRT,
    OnnxScorer,
    read_onnx_metadata,
    read_onnx_profile,
    select_providers,
)
from model.profiles import Profile, ProfileError, build_metadata
from model.scorer import TorchScorer

from .conftest import make_photo

PARITY_ATOL = 1e-4
TINY_CALIBRATION = (1.5, 0.25)


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    """A fixed set of photos: landscape, portrait, square, gray, PNG, a large one, and one broken file."""
    d = tmp_path_factory.mktemp("onnx_photos")
    files = [make_photo(d / f"land{i}.jpg", size=(480 + 64 * i, 320 + 16 * i), seed=i, quality=90) for i in range(5)]
    files.append(make_photo(d / "portrait.jpg", size=(400, 620), seed=11))
    files.append(make_photo(d / "square.png", size=(384, 384), seed=12))
    files.append(make_photo(d / "large.jpg", size=(1600, 1067), seed=13))
    gray = d / "gray.png"
    Image.open(make_photo(d / "g.png", size=(500, 400), seed=14)).convert("L").save(gray)
    files.append(gray)
    broken = d / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    files.append(broken)
    return files


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(network, profile metadata, float export path) for a random-weight loda_tiny with a calibration."""
    torch.manual_seed(0)
    net = create_model("loda_tiny").eval()
    meta = build_metadata(
        net.config, name="tiny-onnx-test", kind="full", calibration=TINY_CALIBRATION, score_range=(0.0, 100.0)
    )
    path = export_onnx(net, meta, tmp_path_factory.mktemp("tiny_onnx") / "tiny.onnx")
    return net, meta, path


def max_score_diff(a, b):
    assert [r.source for r in a] == [r.source for r in b]
    assert [r.ok for r in a] == [r.ok for r in b]
    assert [r.error for r in a] == [r.error for r in b]
    ok = [(x, y) for x, y in zip(a, b, strict=True) if x.ok]
    score = max(abs(x.score - y.score) for x, y in ok)
    spread = max(abs(x.spread - y.spread) for x, y in ok)
    return score, spread


# --- export: checker, metadata, graph signature -------------------------------------------------------------


def test_export_passes_checker_and_embeds_the_profile(tiny):
    _, meta, path = tiny
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == [INPUT_NAME]
    assert [o.name for o in proto.graph.output] == [OUTPUT_NAME, DETAIL_NAME, EMBEDDING_NAME]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 224, 224]  # dynamic batch axis
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param
    props = {p.key: p.value for p in proto.metadata_props}
    stored = json.loads(props[METADATA_KEY])
    # the same JSON as the safetensors profile, marked self-contained, plus an "onnx" section
    for key in ("format", "format_version", "name", "config", "score", "preprocessing", "created", "parent"):
        assert stored[key] == meta[key], key
    assert stored["kind"] == "full" and stored["backbones"]["included"] is True
    assert stored["onnx"]["input"]["name"] == INPUT_NAME and stored["onnx"]["int8"] is False
    assert props["name"] == "tiny-onnx-test" and json.loads(props["score_range"]) == [0.0, 100.0]


def test_metadata_round_trip_without_loading_the_graph(tiny):
    net, meta, path = tiny
    started = time.perf_counter()
    profile = read_onnx_profile(path)
    assert time.perf_counter() - started < 1.0
    assert isinstance(profile, Profile) and profile.path == path
    assert profile.name == "tiny-onnx-test"
    assert profile.config == net.config
    assert profile.calibration == TINY_CALIBRATION
    assert profile.metadata["score"]["range"] == [0.0, 100.0]
    assert profile.metadata["preprocessing"] == meta["preprocessing"]
    assert profile.key == Profile(meta).key  # same scores as the torch profile: same catalog key
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert read_onnx_metadata(path) == props


def test_export_accepts_a_profile_and_a_bare_config(tiny, tmp_path):
    net, meta, _ = tiny
    path = export_onnx(net, None, tmp_path / "bare.onnx", verify=False)
    assert read_onnx_profile(path).name == "loda_tiny"
    path = export_onnx(net, Profile(meta), tmp_path / "prof.onnx", verify=False)
    assert read_onnx_profile(path).metadata["onnx"]["source"] == Profile(meta).key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.onnx", "prof.onnx"]  # no temporary files left


def test_export_refuses_bad_input_and_leaves_nothing_behind(tiny, tmp_path, monkeypatch):
    net, meta, _ = tiny
    with pytest.raises(OnnxExportError, match=r"\.onnx"):
        export_onnx(net, meta, tmp_path / "model.bin")
    other = build_metadata(net.config.replace(r=32, heads=2), name="other", kind="full")
    with pytest.raises(OnnxExportError, match="another network"):
        export_onnx(net, other, tmp_path / "other.onnx")
    import model.onnx_export as ox

    def broken_check(proto):
        raise OnnxExportError("the exported graph fails onnx.checker: simulated")

    monkeypatch.setattr(ox, "_check", broken_check)
    with pytest.raises(OnnxExportError, match="simulated"):
        export_onnx(net, meta, tmp_path / "fails.onnx")
    assert list(tmp_path.iterdir()) == []
    assert not net.training  # the network's mode is restored


# --- scoring ------------------------------------------------------------------------------------------------


def test_dynamic_batch_one_and_seven(tiny):
    net, _, path = tiny
    scorer = OnnxScorer(path, device="cpu")
    rng = np.random.default_rng(3)
    for n in (1, 7):
        crops = rng.integers(0, 256, size=(n, 3, 224, 224), dtype=np.uint8)
        out = scorer._forward(crops)
        with torch.inference_mode():
            ref = net(torch.from_numpy(crops).float().div_(255.0)).numpy()
        assert out.shape == (n,)
        assert np.max(np.abs(out - ref)) <= PARITY_ATOL


def test_scorer_takes_preprocessing_and_calibration_from_the_file(tiny):
    _, _, path = tiny
    scorer = OnnxScorer(path, device="cpu", threads=1, crops=None)
    assert scorer.calibration == TINY_CALIBRATION
    assert (scorer.crops, scorer.short_side, scorer.crop_size) == (15, 384, 224)
    assert scorer.provider == CPU and scorer.describe() == "onnxruntime CPU"
    assert scorer.session.get_session_options().intra_op_num_threads == 1


def test_parity_tiny_through_the_same_batching(tiny, photo_set, record_property):
    net, _, path = tiny
    kw = {"crops": 5, "batch_size": 12, "decode_workers": 2}  # two photos a batch, then a remainder batch
    reference = TorchScorer(net, device="cpu", calibration=TINY_CALIBRATION, **kw).score(photo_set)
    onnx_scores = OnnxScorer(path, device="cpu", **kw).score(photo_set)
    score_diff, spread_diff = max_score_diff(reference, onnx_scores)
    print(f"\ntiny ONNX vs torch: max |score diff| {score_diff:.2e}, max |spread diff| {spread_diff:.2e}")
    record_property("tiny_max_abs_diff", score_diff)
    assert score_diff <= PARITY_ATOL and spread_diff <= PARITY_ATOL
    assert sum(r.ok for r in onnx_scores) == len(photo_set) - 1


@pytest.mark.slow  # builds ViT-B; measured 53-70 s on a shared 2-core CPU (export, checker, two forwards)
def test_parity_vit_base_r50_random(photo_set, tmp_path, record_property):
    torch.manual_seed(0)
    net = create_model("loda_vit_base_r50", pretrained=False).eval()
    meta = build_metadata(net.config, name="base-random", kind="full", calibration=(20.0, 50.0))
    path = export_onnx(net, meta, tmp_path / "base.onnx")
    assert path.stat().st_size > 300e6  # both backbones are inside
    assert read_onnx_profile(path).config == net.config
    photos = [photo_set[0], photo_set[5], photo_set[-1]]  # landscape, portrait, broken
    kw = {"crops": 3, "batch_size": 2, "decode_workers": 2}  # each photo split over two batches (2 + 1 crops)
    reference = TorchScorer(net, device="cpu", calibration=(20.0, 50.0), **kw).score(photos)
    onnx_scores = OnnxScorer(path, device="cpu", **kw).score(photos)
    # raw difference: the calibration (scale 20) multiplies it
    score_diff, spread_diff = (d / 20.0 for d in max_score_diff(reference, onnx_scores))
    print(f"\nvit_base_r50 ONNX vs torch: max |raw score diff| {score_diff:.2e}, spread {spread_diff:.2e}")
    record_property("base_max_abs_diff", score_diff)
    assert score_diff <= PARITY_ATOL and spread_diff <= PARITY_ATOL


def test_parity_loda_lite_with_tf_same_padding(photo_set, tmp_path, record_property):
    """loda_lite's EfficientNet pads "SAME" from the input size at run time; the export fixes it per crop size."""
    torch.manual_seed(0)
    net = create_model("loda_lite", pretrained=False).eval()
    meta = build_metadata(net.config, name="lite-random", kind="full", calibration=(1.0, 0.0))
    path = export_onnx(net, meta, tmp_path / "lite.onnx")
    assert any(type(m).__name__ == "Conv2dSame" for m in net.modules())  # the originals are back after export
    assert not any(type(m).__name__.startswith("_Fixed") for m in net.modules())
    photos = [photo_set[0], photo_set[5], photo_set[7]]
    kw = {"crops": 5, "batch_size": 4}
    reference = TorchScorer(net, device="cpu", **kw).score(photos)
    onnx_scores = OnnxScorer(path, device="cpu", **kw).score(photos)
    score_diff, spread_diff = max_score_diff(reference, onnx_scores)
    record_property("lite_max_abs_diff", score_diff)
    assert score_diff <= PARITY_ATOL and spread_diff <= PARITY_ATOL


@pytest.mark.parametrize("size", [224, 97])
def test_static_shapes_compute_what_the_originals_compute(size):
    """Fixed SAME padding and matrix pooling equal timm's dynamic padding and AdaptiveAvgPool2d, odd sizes too."""
    from timm.layers.conv2d_same import Conv2dSame

    from model.onnx_export import restore_modules, static_shapes

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        Conv2dSame(3, 8, 3, stride=2), Conv2dSame(8, 8, 5, stride=2), torch.nn.AdaptiveAvgPool2d((5, 3))
    ).eval()

    class Wrap(torch.nn.Module):  # static_shapes runs its probe with (1, 3, size, size)
        def __init__(self) -> None:
            super().__init__()
            self.body = net

        def forward(self, x):
            return self.body(x)

    model = Wrap().eval()
    x = torch.rand(2, 3, size, size)
    with torch.inference_mode():
        before = model(x)
        swapped = static_shapes(model, size)
        assert len(swapped) == 3
        after = model(x)
        restore_modules(swapped)
        assert [type(m) for m in net] == [Conv2dSame, Conv2dSame, torch.nn.AdaptiveAvgPool2d]
    assert after.shape == before.shape
    assert torch.allclose(after, before, atol=1e-6)


def test_int8_is_smaller_and_its_drift_is_reported(tiny, photo_set, tmp_path, record_property):
    net, meta, float_path = tiny
    path = export_onnx(net, meta, tmp_path / "tiny-int8.onnx", int8=True)
    assert path.stat().st_size < float_path.stat().st_size
    profile = read_onnx_profile(path)
    assert profile.name == "tiny-onnx-test-int8" and profile.metadata["onnx"]["int8"] is True
    assert profile.key != read_onnx_profile(float_path).key  # INT8 scores are catalogued apart
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    kw = {"crops": 5, "batch_size": 16}
    float_scores = OnnxScorer(float_path, device="cpu", **kw).score(photo_set)
    int8 = OnnxScorer(path, device="cpu", **kw)
    assert int8.describe() == "onnxruntime CPU INT8"
    int8_scores = int8.score(photo_set)
    a = np.array([r.score for r in float_scores if r.ok])
    b = np.array([r.score for r in int8_scores if r.ok])
    assert len(a) == len(b) == len(photo_set) - 1 and np.all(np.isfinite(b))
    srcc = float(spearmanr(a, b)[0])
    drift = float(np.max(np.abs(a - b)))
    print(f"\ntiny INT8 vs float over {len(a)} photos: SRCC {srcc:.4f}, max |score drift| {drift:.2e}")
    record_property("tiny_int8_srcc", srcc)
    assert srcc > 0.5  # reported, loosely bounded: a random-weight network's ranking is fragile


# --- damaged and foreign files --------------------------------------------------------------------------------


def test_damaged_and_foreign_files_give_a_clear_profile_error(tiny, tmp_path):
    _, _, path = tiny
    data = path.read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProfileError, match="truncated"):
        read_onnx_profile(truncated)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ProfileError, match="not .*ONNX model"):
        read_onnx_profile(garbage)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ProfileError, match="not an ONNX model"):
        read_onnx_profile(empty)
    jpeg = tmp_path / "photo.onnx"
    jpeg.write_bytes(make_photo(tmp_path / "p.jpg").read_bytes())
    with pytest.raises(ProfileError, match="ONNX"):
        read_onnx_profile(jpeg)
    with pytest.raises(ProfileError, match="no such ONNX model"):
        read_onnx_profile(tmp_path / "missing.onnx")
    with pytest.raises(ProfileError, match="folder"):
        read_onnx_profile(tmp_path)


def test_an_onnx_file_without_loda_metadata_says_how_to_export(tiny, tmp_path):
    _, _, path = tiny
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    foreign = tmp_path / "foreign.onnx"
    onnx.save(proto, str(foreign))
    with pytest.raises(ProfileError, match="loda export-onnx"):
        read_onnx_profile(foreign)
    proto.metadata_props.add(key=METADATA_KEY, value="{not json")
    onnx.save(proto, str(foreign))
    with pytest.raises(ProfileError, match="damaged"):
        read_onnx_profile(foreign)


def test_a_graph_onnx_runtime_cannot_load_is_a_profile_error(tiny, tmp_path):
    _, _, path = tiny
    proto = onnx.load(str(path))
    proto.graph.node[0].op_type = "NoSuchOperator"
    bad = tmp_path / "bad-graph.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(ProfileError, match="cannot load this model"):
        OnnxScorer(bad, device="cpu")


# --- providers ------------------------------------------------------------------------------------------------


def test_provider_choice_tensorrt_then_cuda_then_cpu():
    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert select_providers("auto", everything) == [TENSORRT, CUDA, CPU]
    assert select_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [CUDA, CPU]
    assert select_providers("auto", ["AzureExecutionProvider", "CPUExecutionProvider"]) == [CPU]
    assert select_providers("cpu", everything) == [CPU]
    assert select_providers("cuda", everything) == [TENSORRT, CUDA, CPU]
    with pytest.raises(ValueError, match="onnxruntime-gpu"):
        select_providers("cuda", ["CPUExecutionProvider"])
    with pytest.raises(ValueError, match="unknown device"):
        select_providers("tpu", everything)


def test_a_gpu_provider_gets_the_gpu_decoding_threads(tiny, monkeypatch):
    from model.onnx_scorer import cpu_threads
    from model.scorer import default_decode_workers

    _, _, path = tiny
    assert OnnxScorer(path, device="cpu").decode_workers == cpu_threads()[1]  # tests/model/test_onnx_cpu.py

    class GpuSession:  # what ONNX Runtime gives when the CUDA provider starts
        def get_providers(self):
            return [CUDA, CPU]

        def get_inputs(self):
            return []

        def run(self, names, feeds, options=None):  # the load check's two crops: two different scores
            return [np.arange(len(next(iter(feeds.values()))), dtype=np.float32)]

    monkeypatch.setattr(OnnxScorer, "_open_session", lambda self, ort, options, providers: GpuSession())
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert OnnxScorer(path, device="auto").decode_workers == default_decode_workers("cuda") > 2
    assert OnnxScorer(path, device="auto", decode_workers=3).decode_workers == 3


def test_the_scorer_logs_its_provider_in_one_line(tiny, caplog):
    _, _, path = tiny
    with caplog.at_level("INFO", logger="model.onnx_scorer"):
        OnnxScorer(path, device="auto")
    lines = [r.getMessage() for r in caplog.records if r.name == "model.onnx_scorer" and r.levelname == "INFO"]
    assert len(lines) == 1 and re.search(r"running tiny\.onnx on (TensorRT|CUDA|CPU) ", lines[0])
