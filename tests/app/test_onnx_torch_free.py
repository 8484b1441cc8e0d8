"""The ONNX path end to end: `loda export-onnx`, then `loda score --backend onnx` in a process without torch/timm."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loda_desktop.cli import main
from loda_desktop.engine import Engine, EngineError
from loda_desktop.model_store import resolve_model
from loda_desktop.settings import Settings

from .badfiles import photo

PARITY_ATOL = 1e-4
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A shoot folder and loda_tiny exported through the CLI (in this process, which may import torch)."""
    d = tmp_path_factory.mktemp("onnx_app")
    shoot = d / "shoot"
    shoot.mkdir()
    for i in range(5):
        photo(shoot / f"p{i}.jpg", size=(640 + 80 * i, 480), seed=i)
    photo(shoot / "tall.png", size=(420, 700), seed=9)
    (shoot / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    model = d / "tiny.onnx"
    with pytest.MonkeyPatch.context() as mp:  # module scope runs before the autouse per-test isolation
        mp.setenv("LODA_HOME", str(d / "home"))
        assert main(["export-onnx", "--model", "loda_tiny", "--out", str(model)]) == 0
    return shoot, model


def read_scores(path: Path) -> dict[str, tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["path"]: (r["status"], r["score"]) for r in csv.DictReader(f)}


def test_onnx_scoring_imports_neither_torch_nor_timm_and_matches_torch(exported, tmp_path):
    shoot, model = exported
    onnx_csv, torch_csv = tmp_path / "onnx.csv", tmp_path / "torch.csv"
    code = textwrap.dedent(
        f"""
        import json, sys
        from loda_desktop.cli import main
        rc = main(["score", {str(shoot)!r}, "--backend", "onnx", "--model", {str(model)!r},
                   "--crops", "3", "--csv", {str(onnx_csv)!r}, "--rescore"])
        print(json.dumps({{"rc": rc, "torch": "torch" in sys.modules, "timm": "timm" in sys.modules}}))
        """
    )
    # the subprocess inherits this test's isolated LODA_HOME / HF_HOME (set by the autouse fixture)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"rc": 0, "torch": False, "timm": False}, proc.stderr
    assert "6 scored now" in proc.stderr and "1 failed" in proc.stderr

    assert (
        main(["score", str(shoot), "--model", "loda_tiny", "--crops", "3", "--csv", str(torch_csv), "--rescore"]) == 0
    )
    onnx_rows, torch_rows = read_scores(onnx_csv), read_scores(torch_csv)
    assert onnx_rows.keys() == torch_rows.keys() and len(onnx_rows) == 7
    diffs = []
    for path, (status, score) in torch_rows.items():
        assert onnx_rows[path][0] == status
        if status == "ok":
            diffs.append(abs(float(onnx_rows[path][1]) - float(score)))
    assert len(diffs) == 6 and max(diffs) <= PARITY_ATOL


def test_resolve_model_reads_the_profile_inside_an_onnx_file(exported):
    _, model = exported
    profile = resolve_model(str(model))
    assert profile.path == model and profile.name == "loda_tiny"
    assert profile.key == resolve_model("loda_tiny").key  # same network, same scores, same catalog key


def test_onnx_backend_with_a_config_or_a_torch_profile_says_export_first():
    engine = Engine(Settings(model="loda_tiny", backend="onnx"))
    with pytest.raises(EngineError, match=r"loda export-onnx --model loda_tiny --out FILE\.onnx"):
        engine.scorer  # noqa: B018 (the scorer is built on first use)


def test_torch_backend_with_an_onnx_file_says_use_onnx(exported):
    _, model = exported
    with pytest.raises(EngineError, match="--backend onnx"):
        Engine(Settings(model=str(model), backend="torch")).scorer  # noqa: B018


def test_cuda_without_a_gpu_provider_is_a_clear_error(exported):
    import onnxruntime as ort

    if {"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(ort.get_available_providers()):
        pytest.skip("this onnxruntime has a GPU provider")
    _, model = exported
    with pytest.raises(EngineError, match="device 'cuda'"):
        Engine(Settings(model=str(model), backend="onnx", device="cuda")).scorer  # noqa: B018


def test_onnx_engine_scores_like_the_window_would(exported):
    shoot, model = exported
    engine = Engine(Settings(model=str(model), backend="onnx", crops=3, batch_size=8))
    summary = engine.score_paths(engine.scan([shoot]))
    assert (summary.scored, summary.failed) == (6, 1)
    assert engine.scorer.describe().startswith("onnxruntime ")


def test_export_cli_errors_are_one_line(exported, tmp_path, capsys):
    _, model = exported
    assert main(["export-onnx", "--model", "loda_tiny", "--out", str(tmp_path / "m.bin")]) == 1
    assert "must end in .onnx" in capsys.readouterr().err
    assert main(["export-onnx", "--model", "no_such_model", "--out", str(tmp_path / "m.onnx")]) == 1
    assert "unknown model 'no_such_model'" in capsys.readouterr().err
    assert main(["export-onnx", "--model", str(model), "--out", str(tmp_path / "m.onnx")]) == 1
    assert "already an ONNX model" in capsys.readouterr().err
    assert main(["score", str(tmp_path), "--backend", "onnx", "--model", str(tmp_path / "gone.onnx")]) == 1
    assert "no such ONNX model" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.auto_onnx
def test_backend_auto_with_a_cached_export_never_imports_torch(exported, tmp_path):
    """Backend and device ``auto`` (the defaults) on a machine without an NVIDIA driver: once the profile's export
    is cached, scoring runs on ONNX Runtime and torch is never imported (it cost seconds, ~500 MB and, in the
    window, the GIL while a folder was listed)."""
    from model.scorer import cuda_driver_present

    if cuda_driver_present():
        pytest.skip("an NVIDIA driver is here: device auto has to ask torch whether CUDA works")
    import torch

    from loda_desktop.model_store import cached_onnx_export
    from model import create_model
    from model.profiles import save_model

    shoot, _ = exported
    torch.manual_seed(0)
    profile_file = save_model(
        create_model("loda_tiny", pretrained=False), tmp_path / "tiny-auto.safetensors", name="tiny-auto"
    )
    assert cached_onnx_export(resolve_model(str(profile_file))) is not None  # the first run's export, done here
    code = textwrap.dedent(
        f"""
        import json, sys
        from loda_desktop.cli import main
        rc = main(["score", {str(shoot)!r}, "--model", {str(profile_file)!r}, "--crops", "2", "--rescore"])
        print(json.dumps({{"rc": rc, "torch": "torch" in sys.modules}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "LODA_AUTO_ONNX"}  # the user's default: exports allowed
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "torch": False}, proc.stderr
    assert "on onnxruntime CPU" in proc.stderr and "6 scored now" in proc.stderr


def test_the_driver_probe_reads_the_platform(monkeypatch):
    import ctypes.util

    from model import scorer as scorer_module

    monkeypatch.setattr(sys, "platform", "darwin")
    assert scorer_module.cuda_driver_present() is False  # no CUDA on macOS at all
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os.path, "exists", lambda p: p == "/proc/driver/nvidia/version")
    assert scorer_module.cuda_driver_present() is True
    monkeypatch.setattr(os.path, "exists", lambda p: False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert scorer_module.cuda_driver_present() is False
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libcuda.so.1" if name == "cuda" else None)
    assert scorer_module.cuda_driver_present() is True  # a driver the loader knows (containers, WSL)


def test_a_failed_export_in_a_child_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    import torch

    from loda_desktop import model_store
    from model import create_model
    from model.profiles import save_model

    torch.manual_seed(0)
    path = save_model(create_model("loda_tiny", pretrained=False), tmp_path / "child.safetensors", name="child")
    profile = resolve_model(str(path))
    monkeypatch.setattr(sys, "executable", "/bin/false")  # a child that dies at once
    with pytest.raises(RuntimeError, match=r"^the export of child failed: exit status 1$"):
        model_store.cached_onnx_export(profile, in_child=True)
    assert not model_store.onnx_export_path(profile).exists()
