import os
from pathlib import Path

import numpy as np
import pytest

from loda_desktop.catalog import Catalog
from loda_desktop.engine import Engine, EngineError
from loda_desktop.model_store import resolve_model
from loda_desktop.settings import Settings
from model.profiles import Profile

from .badfiles import photo


@pytest.fixture
def shoot(tmp_path):
    return [photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(5)]


def fast_settings(**kw):
    return Settings(crops=kw.pop("crops", 3), batch_size=kw.pop("batch_size", 8), **kw)


def test_default_model_is_the_untrained_tiny_network_and_says_so():
    profile = resolve_model("default")
    assert profile.config.name == "loda_tiny" and not profile.trained
    engine = Engine(fast_settings())
    assert "UNTRAINED" in engine.notice


def test_scores_go_to_the_catalog_and_a_rescan_skips_them(shoot):
    engine = Engine(fast_settings())
    results = []
    first = engine.score_paths(shoot, on_result=results.append)
    assert (first.scored, first.cached, first.failed) == (5, 0, 0)
    assert 0 < first.load_seconds < first.seconds  # the model was built in this run; the rate leaves that out
    assert first.photos_per_second == pytest.approx(5 / (first.seconds - first.load_seconds))
    assert all(r.status == "ok" and r.score is not None for r in results)
    assert first.runs_on == engine.scorer.describe() and first.describe().endswith(f"on {first.runs_on}.")
    again = Engine(fast_settings()).score_paths(shoot)
    assert (again.scored, again.cached) == (0, 5)
    assert again.runs_on == "" and again.describe().endswith("Model: loda_tiny.")  # no backend ran
    assert again.load_seconds == 0  # nothing to score: no model loaded
    with Catalog() as cat:
        _, score = cat.get(shoot[0], engine.model_key)
        assert score.score == pytest.approx(results[0].score)
    # a changed file is scored again; others are not
    st = shoot[1].stat()
    os.utime(shoot[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = Engine(fast_settings()).score_paths(shoot)
    assert (third.scored, third.cached) == (1, 4)


def test_other_crop_counts_are_other_scores(shoot):
    a = Engine(fast_settings(crops=3))
    b = Engine(fast_settings(crops=5))
    assert a.model_key != b.model_key
    a.score_paths(shoot)
    assert b.score_paths(shoot).scored == 5


def test_stopping_keeps_what_was_scored_and_a_rerun_finishes(shoot):
    engine = Engine(fast_settings(batch_size=3))
    seen = []

    def keep_going():
        return len(seen) < 2

    summary = engine.score_paths(shoot, on_result=seen.append, should_continue=keep_going)
    assert summary.cancelled and summary.scored == 2
    rest = Engine(fast_settings(batch_size=3)).score_paths(shoot)
    assert (rest.scored, rest.cached) == (3, 2)


def test_same_engine_same_scores_across_processes(shoot, tmp_path):
    """The untrained default network is seeded: a second process computes the very same scores."""
    import subprocess
    import sys

    engine = Engine(fast_settings())
    engine.score_paths(shoot[:2])
    code = (
        "import sys; from loda_desktop.engine import Engine; from loda_desktop.settings import Settings\n"
        "from pathlib import Path\n"
        "e = Engine(Settings(crops=3, batch_size=8), catalog_path=Path(sys.argv[1]))\n"
        "rows = []\n"
        "e.score_paths([Path(p) for p in sys.argv[2:]], on_result=rows.append)\n"
        "print(' '.join(repr(r.score) for r in rows))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "other.sqlite3"), *map(str, shoot[:2])],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = [float(x) for x in out.stdout.split()]
    ours = [r.score for r in engine.export_rows(shoot[:2])]
    assert sorted(theirs) == pytest.approx(sorted(ours), abs=1e-6)


def test_bad_settings_are_engine_errors(shoot):
    with pytest.raises(EngineError, match="ONNX"):
        Engine(fast_settings(backend="onnx")).score_paths(shoot)
    with pytest.raises(EngineError, match="No such folder"):
        Engine.scan(["/definitely/not/here"])


@pytest.fixture
def tiny_profile(tmp_path):
    """A loda_tiny profile file (random weights, fixed seed), as a trained profile would be."""
    import torch

    from model import create_model
    from model.profiles import save_model

    torch.manual_seed(0)
    net = create_model("loda_tiny", pretrained=False)
    return save_model(net, tmp_path / "models" / "tiny-shoot.safetensors", name="tiny-shoot", trained_on={"x": 1})


@pytest.mark.auto_onnx
def test_auto_backend_exports_the_profile_once_and_scores_like_torch(shoot, tiny_profile, monkeypatch):
    import model.onnx_export
    from loda_desktop.paths import cache_dir

    auto = Engine(fast_settings(model=str(tiny_profile), backend="auto", device="cpu"))
    assert auto.scorer.describe() == "onnxruntime CPU"
    exported = list((cache_dir() / "onnx").glob("*.onnx"))
    assert [p.name.split("-")[:2] for p in exported] == [["tiny", "shoot"]]
    torch_engine = Engine(fast_settings(model=str(tiny_profile), backend="torch", device="cpu"))
    assert auto.model_key == torch_engine.model_key  # same scores, same catalog entries
    onnx_scores = [r.score for r in auto.scorer.score(shoot)]
    torch_scores = [r.score for r in torch_engine.scorer.score(shoot)]
    assert np.allclose(onnx_scores, torch_scores, atol=1e-4)

    # a second engine reuses the export (exporting again would fail here)
    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    with monkeypatch.context() as m:
        m.setattr(model.onnx_export, "export_onnx", no_export)
        assert Engine(fast_settings(model=str(tiny_profile), backend="auto", device="cpu")).scorer.backend == "onnx"

    # a changed profile file is exported afresh and replaces the old export
    st = tiny_profile.stat()
    os.utime(tiny_profile, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert Engine(fast_settings(model=str(tiny_profile), backend="auto", device="cpu")).scorer.backend == "onnx"
    again = list((cache_dir() / "onnx").glob("*.onnx"))
    assert len(again) == 1 and again != exported


@pytest.mark.auto_onnx
def test_the_first_run_export_is_announced_before_it_happens(tiny_profile, monkeypatch):
    """The window labels the first run's ONNX export ("preparing"): only when an export is about to be made."""
    settings = fast_settings(model=str(tiny_profile), backend="auto", device="cpu")
    first = Engine(settings)
    assert first.prepares_onnx
    assert first.scorer.backend == "onnx" and not first.prepares_onnx  # loaded: nothing left to prepare
    assert not Engine(settings).prepares_onnx  # the export is cached now
    assert not Engine(fast_settings(model=str(tiny_profile), backend="torch", device="cpu")).prepares_onnx
    assert not Engine(fast_settings(model="loda_tiny", backend="auto", device="cpu")).prepares_onnx  # a config
    monkeypatch.setenv("LODA_AUTO_ONNX", "0")
    st = tiny_profile.stat()
    os.utime(tiny_profile, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # changed: it would be exported again...
    assert not Engine(settings).prepares_onnx  # ...but the user switched exports off
    monkeypatch.delenv("LODA_AUTO_ONNX")
    assert Engine(settings).prepares_onnx


@pytest.mark.auto_onnx
def test_auto_backend_falls_back_to_torch(shoot, tiny_profile, caplog, monkeypatch):
    import model.onnx_export

    # a bare config (random weights that change every load) is never exported
    assert Engine(fast_settings(model="loda_tiny", backend="auto", device="cpu")).scorer.backend == "torch"

    def broken(*args, **kwargs):
        raise model.onnx_export.OnnxExportError("simulated export failure")

    with monkeypatch.context() as m, caplog.at_level("WARNING"):
        m.setattr(model.onnx_export, "export_onnx", broken)
        engine = Engine(fast_settings(model=str(tiny_profile), backend="auto", device="cpu"))
        assert engine.scorer.backend == "torch"
    assert "simulated export failure" in caplog.text and "scoring with torch" in caplog.text
    assert engine.score_paths(shoot).scored == 5

    monkeypatch.setenv("LODA_AUTO_ONNX", "0")  # the user's switch
    assert Engine(fast_settings(model=str(tiny_profile), backend="auto", device="cpu")).scorer.backend == "torch"


@pytest.mark.auto_onnx
def test_auto_backend_leaves_big_models_to_torch(tiny_profile, caplog, monkeypatch):
    from loda_desktop import model_store
    from loda_desktop.paths import cache_dir, models_dir

    profile = resolve_model(str(tiny_profile))
    alone = tiny_profile.stat().st_size
    assert profile.kind == "full" and model_store.export_size_estimate(profile) == alone  # every weight inside
    models_dir().mkdir(parents=True, exist_ok=True)
    (models_dir() / f"{profile.config.cnn}.safetensors").write_bytes(b"\0" * 12345)  # as a user places them
    assert model_store.export_size_estimate(profile) == alone
    adapter = Profile({**profile.metadata, "kind": "adapter"}, tiny_profile)  # adds its backbones' files
    assert model_store.export_size_estimate(adapter) == alone + 12345

    monkeypatch.setattr(model_store, "AUTO_ONNX_MAX_BYTES", alone - 1)  # now a byte too big
    with caplog.at_level("INFO"):
        assert Engine(fast_settings(model=str(tiny_profile), backend="auto", device="cpu")).scorer.backend == "torch"
    assert "not exporting tiny-shoot" in caplog.text and not list((cache_dir() / "onnx").glob("*.onnx"))


def test_the_summary_reports_model_loading_apart_from_the_scoring_rate():
    from loda_desktop.engine import ScoreSummary

    summary = ScoreSummary(total=10, scored=10, seconds=7.0, load_seconds=2.0, model_name="m")
    assert summary.photos_per_second == pytest.approx(2.0)
    assert "7.0 s (model loading 2.0 s); 2.00 photos/s" in summary.describe()
    assert "model loading" not in ScoreSummary(total=1, scored=1, seconds=1.0).describe()


def not_utf8_shoot(folder: Path) -> tuple[list[Path], Path]:
    """Two photos and one named ``IMG_\\xff.jpg`` (not UTF-8); skips the test where the file system refuses it."""
    folder.mkdir()
    plain = [photo(folder / f"p{i}.jpg", seed=i) for i in range(2)]
    raw = os.path.join(os.fsencode(folder), b"IMG_\xff.jpg")
    try:
        os.rename(photo(folder / "odd.jpg", seed=7), raw)
    except OSError as exc:
        pytest.skip(f"this filesystem refuses a file name that is not UTF-8: {exc}")
    return plain, Path(os.fsdecode(raw))


def test_a_photo_whose_name_is_not_utf8_is_scored_like_any_other(tmp_path):
    plain, odd = not_utf8_shoot(tmp_path / "shoot")
    results = []
    summary = Engine(fast_settings()).score_paths(Engine.scan([tmp_path / "shoot"]), on_result=results.append)
    assert (summary.scored, summary.failed) == (3, 0) and odd in {r.path for r in results}
    with Catalog() as cat:
        assert sorted(record.path for record, _ in cat.rows(None, None)) == sorted([*plain, odd])
        assert os.fsencode(cat.get(odd)[0].path) == os.fsencode(odd)


def test_loda_score_ranks_a_photo_whose_name_is_not_utf8(tmp_path, capsys):
    import csv

    from loda_desktop.cli import main

    plain, odd = not_utf8_shoot(tmp_path / "shoot")
    out = tmp_path / "ranking.csv"
    assert main(["score", str(tmp_path / "shoot"), "--csv", str(out), "--crops", "3", "--batch", "8"]) == 0
    assert "3 scored now" in capsys.readouterr().err
    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as f:  # the name's own bytes
        rows = {row["path"]: row for row in csv.DictReader(f)}
    assert set(rows) == {str(p) for p in [*plain, odd]} and all(r["status"] == "ok" for r in rows.values())
    with Catalog() as cat:
        assert os.fsencode(cat.get(odd)[0].path) == os.fsencode(odd)
