"""The score-only app's run path (issue 24): without torch the default model is the bundled ONNX export, and
``--version`` / ``--selftest`` answer on both entry points.

Each torch-free check runs in a subprocess whose import system refuses torch, timm and torchvision (a
``sys.meta_path`` finder), the way the PyInstaller bundle leaves them out."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from loda_desktop import __version__
from loda_desktop.cli import main
from loda_desktop.model_store import (
    BUNDLED_MODELS,
    DEFAULT_PROFILE_NAME,
    SCORE_ONLY_ENV,
    resolve_model,
    score_only,
    write_shipped_export,
)
from loda_desktop.selftest import DEMO_DIR, demo_photos, run_selftest

ROOT = Path(__file__).resolve().parents[2]
PARITY_ATOL = 1e-4
PROFILE = BUNDLED_MODELS / f"{DEFAULT_PROFILE_NAME}.safetensors"

BLOCK_TORCH = textwrap.dedent(
    """
    import sys

    class _NoTorch:  # what the score-only bundle is: these packages are not there
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {"torch", "timm", "torchvision"}:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NoTorch())
    """
)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """A bundled-models folder as ``packaging/build.py`` makes it: the default profile and its ONNX export, stamped
    with the profile's digest (:func:`~loda_desktop.model_store.write_shipped_export`, what the build calls)."""
    folder = tmp_path_factory.mktemp("bundled")
    (folder / PROFILE.name).symlink_to(PROFILE)
    with pytest.MonkeyPatch.context() as mp:  # module scope runs before the autouse per-test isolation
        mp.setenv("LODA_HOME", str(folder.parent / "export-home"))
        out = write_shipped_export(resolve_model(str(folder / PROFILE.name)))
    assert out == folder / f"{DEFAULT_PROFILE_NAME}.onnx"
    return folder


def run_without_torch(code: str, bundled_dir: Path | None, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in (SCORE_ONLY_ENV, *drop)}
    if bundled_dir is not None:
        environ["LODA_BUNDLED_MODELS"] = str(bundled_dir)
    script = BLOCK_TORCH + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT, env=environ
    )


def read_scores(path: Path) -> dict[str, float]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["path"]: float(r["score"]) for r in csv.DictReader(f) if r["status"] == "ok"}


def test_without_torch_loda_score_uses_the_bundled_onnx_default_and_matches_torch(bundled, tmp_path, monkeypatch):
    onnx_csv, torch_csv = tmp_path / "onnx.csv", tmp_path / "torch.csv"
    proc = run_without_torch(
        f"""
        import json
        from loda_desktop.cli import main
        rc = main(["score", {str(DEMO_DIR)!r}, "--crops", "3", "--csv", {str(onnx_csv)!r}])
        print(json.dumps({{"rc": rc, "torch": "torch" in sys.modules, "timm": "timm" in sys.modules}}))
        """,
        bundled,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "torch": False, "timm": False}
    assert f"{DEFAULT_PROFILE_NAME}" in proc.stderr and "onnxruntime" in proc.stderr

    monkeypatch.setenv("LODA_BUNDLED_MODELS", str(bundled))
    args = ["score", str(DEMO_DIR), "--backend", "torch", "--model", str(PROFILE), "--crops", "3"]
    assert main([*args, "--csv", str(torch_csv)]) == 0
    onnx_scores, torch_scores = read_scores(onnx_csv), read_scores(torch_csv)
    assert onnx_scores.keys() == torch_scores.keys() and len(onnx_scores) == len(demo_photos()) == 5
    assert max(abs(onnx_scores[p] - torch_scores[p]) for p in onnx_scores) <= PARITY_ATOL


@pytest.mark.auto_onnx
def test_with_torch_the_default_model_scores_with_the_shipped_export_without_exporting(bundled, monkeypatch):
    """A checkout or the Pro app (torch installed), backend and device auto: the shipped export is found beside
    the bundled profile; nobody waits for an export. Its scores are the torch scores (the test above)."""
    from loda_desktop import model_store
    from loda_desktop.engine import Engine
    from loda_desktop.settings import Settings

    def no_export(*args, **kwargs):
        raise AssertionError("exported, although the export was shipped")

    monkeypatch.setenv("LODA_BUNDLED_MODELS", str(bundled))
    monkeypatch.setattr(model_store, "export_here", no_export)
    monkeypatch.setattr(model_store, "_export_in_child", no_export)
    engine = Engine(Settings(device="cpu", crops=3))
    assert engine.profile.path == bundled / PROFILE.name and not engine.prepares_onnx
    assert engine.scorer.backend == "onnx" and engine.scorer.model_path == bundled / f"{DEFAULT_PROFILE_NAME}.onnx"
    assert engine.score_paths(demo_photos()).scored == 5


def test_score_only_default_resolves_to_the_onnx_export(bundled, monkeypatch):
    monkeypatch.setenv("LODA_BUNDLED_MODELS", str(bundled))
    assert not score_only() and resolve_model("default").path.suffix == ".safetensors"
    monkeypatch.setenv(SCORE_ONLY_ENV, "1")
    assert score_only()
    profile = resolve_model("default")
    assert profile.path == bundled / f"{DEFAULT_PROFILE_NAME}.onnx" and profile.trained
    assert resolve_model(str(PROFILE)).path == PROFILE  # a profile named explicitly is still that profile


def test_score_only_without_the_export_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv(SCORE_ONLY_ENV, "1")
    monkeypatch.setenv("LODA_BUNDLED_MODELS", str(tmp_path))
    assert main(["score", str(DEMO_DIR)]) == 1
    result = run_selftest()
    assert not result.ok and "loda-default.onnx is missing" in result.line


def test_version_comes_from_the_package_on_both_entry_points(capsys):
    from loda_desktop.ui import app as app_module

    assert __version__ == version("loda-desktop")
    for entry, prog in ((main, "loda"), (app_module.main, "loda-desktop")):
        with pytest.raises(SystemExit) as exc:
            entry(["--version"])
        assert exc.value.code == 0
        assert capsys.readouterr().out.strip() == f"{prog} {__version__}"


def test_selftest_without_torch_passes_on_both_entry_points(bundled):
    proc = run_without_torch(
        """
        from loda_desktop.ui import app
        rc = app.main(["--selftest"])
        print("window rc", rc, "torch" in sys.modules)
        from loda_desktop.cli import main
        main(["--selftest"])
        """,
        bundled,
        drop=("QT_QPA_PLATFORM",),  # the window's self-test goes offscreen itself
    )
    assert proc.returncode == 0, proc.stderr
    window_line, window_rc, cli_line = proc.stdout.strip().splitlines()
    assert window_rc == "window rc 0 False"
    for line in (window_line, cli_line):
        assert f"LoDa Desktop {__version__} self-test ok: 5 demo photos" in line
        assert f"by {DEFAULT_PROFILE_NAME} on onnxruntime" in line


def test_selftest_fails_with_a_reason_on_an_untrained_default(capsys):
    # the tests hide the bundled model: the default is the untrained loda_tiny, which must not pass
    with pytest.raises(SystemExit) as exc:
        main(["--selftest"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "self-test FAILED" in err and "untrained" in err and len(err.strip().splitlines()) == 1


def test_selftest_fails_without_demo_photos(tmp_path):
    result = run_selftest(tmp_path)
    assert not result.ok and "no demo photos" in result.line


def test_portable_mode_keeps_data_beside_the_executable(tmp_path, monkeypatch):
    from loda_desktop import paths

    app = tmp_path / "app"
    app.mkdir()
    monkeypatch.delenv("LODA_HOME")
    monkeypatch.delenv(paths.PORTABLE_ENV, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "loda"))
    assert paths.portable_home() is None and app not in paths.settings_path().parents  # platformdirs

    (app / paths.PORTABLE_MARKER).write_text("")
    beside = app / paths.PORTABLE_DIR
    assert paths.portable_home() == beside
    assert paths.settings_path() == beside / "config" / "settings.json"
    assert paths.catalog_path() == beside / "data" / "catalog.sqlite3"
    assert paths.cache_dir() == beside / "cache" and paths.models_dir() == beside / "data" / "models"

    (app / paths.PORTABLE_MARKER).unlink()
    monkeypatch.setenv(paths.PORTABLE_ENV, "1")
    assert paths.data_dir() == beside / "data"
    monkeypatch.setenv("LODA_HOME", str(tmp_path / "home"))  # an explicit home still wins
    assert paths.data_dir() == tmp_path / "home" / "data"


def test_desktop_file_launches_the_window_entry_point_with_the_shipped_icon():
    import configparser
    from importlib.metadata import entry_points

    from loda_desktop.ui.app import DESKTOP_FILE, ICON

    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(ROOT / "assets" / f"{DESKTOP_FILE}.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    scripts = {e.name: e.value for e in entry_points(group="gui_scripts")}
    assert desktop["Type"] == "Application" and desktop["Terminal"] == "false"
    assert desktop["Exec"].split()[0] == desktop["TryExec"] == "loda-desktop"
    assert scripts["loda-desktop"] == "loda_desktop.ui.app:main"
    assert desktop["Icon"] == ICON.stem == DESKTOP_FILE and ICON.is_file() and ICON.with_suffix(".svg").is_file()
    assert "Photography" in desktop["Categories"].split(";")


def test_a_torch_command_in_the_score_only_app_is_one_line_not_a_traceback(bundled):
    proc = run_without_torch(
        """
        from loda_desktop.cli import main
        sys.exit(main(["models"]))
        """,
        bundled,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == (
        "loda models: error: this command needs torch, which the score-only LoDa Desktop leaves out: use LoDa"
        " Desktop Pro"
    )
