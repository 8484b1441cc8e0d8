"""Fine-tuning the way a photographer does it, end to end, from a base shaped like the bundled default (a full
profile whose backbones exist nowhere else): rate in the window, fine-tune in the background while culling,
Accept, close, relaunch — the grid is scored by the new profile — and ``loda score --model NAME`` in a fresh,
offline process gives the same scores."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from PySide6.QtTest import QTest

from loda_desktop.paths import models_dir
from loda_desktop.settings import load_settings
from loda_desktop.ui.main_window import MainWindow
from model.profiles import read_profile
from tests.helpers.profiles import write_default_like
from tests.rated_photos import make_rated_photos
from trainer.finetune import FinetuneConfig

from .conftest import SCORE_TIMEOUT_MS, fast_settings

# the base has random weights, so its features say nothing about content: only identical photos are one scene
QUICK = {"epochs": 3, "batch": 8, "lr": 2e-3, "train_crops": 2, "test_crops": 2, "scene_similarity": 0.9999}
TRAIN_TIMEOUT_MS = 120_000

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture
def bundled_default(tmp_path, monkeypatch):
    folder = tmp_path / "bundled"
    write_default_like(folder / "loda-default.safetensors")
    monkeypatch.setenv("LODA_BUNDLED_MODELS", str(folder))
    return folder


def launch(qtbot, settings=None) -> MainWindow:
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_and_score(qtbot, window, folder):
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.open_folders([folder])
    return blocker.args[0]


def rate_with_keys(window, ratings) -> None:
    """Select each photo and press its star key in the grid, as the photographer does."""
    for path, stars in ratings.items():
        assert window.select_path(path)
        view = window.current_view()
        view.setFocus()
        QTest.keyClick(view, str(stars))


@pytest.fixture
def rated_window(qtbot, tmp_path, bundled_default):
    """A window on 32 photos, each rated with its key."""
    folder = tmp_path / "shoot"
    ratings = make_rated_photos(folder, n_contents=8)
    window = launch(qtbot, fast_settings())
    open_and_score(qtbot, window, folder)
    window.auto_advance_action.setChecked(False)
    rate_with_keys(window, ratings)
    return window


def test_rate_finetune_in_the_background_accept_relaunch_and_score_offline(qtbot, tmp_path, bundled_default):
    folder = tmp_path / "shoot"
    ratings = make_rated_photos(folder, n_contents=8)  # 32 photos, 5 / 4 / 3 / 2 stars by blur level
    from loda_desktop.settings import save_settings

    save_settings(fast_settings())  # model "default": the default-like profile bundled above
    window = launch(qtbot)
    summary = open_and_score(qtbot, window, folder)
    assert summary.model_name == "loda-default" and summary.scored == 32
    window.auto_advance_action.setChecked(False)
    rate_with_keys(window, ratings)
    assert {it.path: it.rating for it in window.model.items} == {str(p): s for p, s in ratings.items()}

    dialog = window.show_finetune(config=FinetuneConfig(**QUICK))
    assert not dialog.isModal() and "32 rated photos" in dialog.info.text()
    dialog.name_edit.setText("my-taste")
    dialog.start_button.click()
    dialog.hide_button.click()  # Run in Background: the dialog goes, the status bar shows the progress
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: window.finetune_button.isVisible(), timeout=10_000)
    first = next(iter(ratings))
    assert window.select_path(first)
    window.set_flag("pick")  # culling goes on while it trains
    assert window.current_item() is not None
    qtbot.waitUntil(lambda: not dialog.busy, timeout=TRAIN_TIMEOUT_MS)
    assert dialog.state == "done", dialog.outcome.text()
    assert "review" in window.finetune_button.text()
    window.finetune_button.click()  # the status bar brings the dialog back
    assert dialog.isVisible() and dialog.accept_button.isVisible()
    assert f"on {dialog.result_info.n_test} photos" in dialog.outcome.text()
    profile = read_profile(models_dir() / "my-taste.safetensors")
    assert profile.kind == "full" and profile.metadata["parent"].startswith("loda-default@")
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        dialog.accept_button.click()
    assert blocker.args[0].model_key.startswith("my-taste@") and blocker.args[0].scored == 32
    assert load_settings().model == "my-taste" and not window.finetune_button.isVisible()
    window.close()

    relaunched = launch(qtbot)  # a restart: saved settings, same catalog
    summary = open_and_score(qtbot, relaunched, folder)
    assert summary.model_name == "my-taste" and summary.cached == 32 and summary.failed == 0
    assert not relaunched.banner.isVisible() or "cannot" not in relaunched.banner.text()
    window_scores = {it.path: it.score for it in relaunched.model.items}
    assert all(score is not None for score in window_scores.values())
    relaunched.close()

    out = tmp_path / "ranking.csv"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LODA_AUTO_ONNX": "0"}
    code = "import sys; from loda_desktop.cli import main; sys.exit(main())"
    args = ["score", str(folder), "--model", "my-taste", "--backend", "torch", "--crops", "2", "--csv", str(out)]
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 32 and {r["status"] for r in rows} == {"ok"}
    for row in rows:
        assert float(row["score"]) == pytest.approx(window_scores[row["path"]], abs=1e-5)


def test_accept_is_refused_for_a_profile_that_cannot_be_used(qtbot, rated_window, monkeypatch):
    from loda_desktop import engine

    window = rated_window

    def cannot_load(settings, photo):
        raise engine.EngineError(f"'{settings.model}' cannot be loaded: the test says so")

    monkeypatch.setattr(engine, "check_model", cannot_load)
    dialog = window.show_finetune(config=FinetuneConfig(**{**QUICK, "epochs": 1}))
    dialog.name_edit.setText("broken")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.state == "unusable", timeout=TRAIN_TIMEOUT_MS)
    assert not dialog.accept_button.isVisible() and dialog.discard_button.isVisible()
    assert "cannot be accepted" in dialog.outcome.text() and "the test says so" in dialog.outcome.text()
    assert "cannot be used" in window.finetune_button.text()
    dialog.discard_button.click()
    assert not (models_dir() / "broken.safetensors").exists()
    assert window.settings.model == "default" and window.finetune_dialog is None


def test_cancel_works_while_the_dialog_is_in_the_background(qtbot, rated_window):
    window = rated_window
    dialog = window.show_finetune(config=FinetuneConfig(**{**QUICK, "epochs": 50}))
    dialog.name_edit.setText("cancelled")
    dialog.start_button.click()
    dialog.close()  # closing while it trains only hides it
    assert dialog.state == "running" and not dialog.isVisible()
    qtbot.waitUntil(lambda: "%" in window.finetune_button.text(), timeout=TRAIN_TIMEOUT_MS)
    window.finetune_button.click()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.state == "cancelled", timeout=TRAIN_TIMEOUT_MS)
    assert not window.finetune_button.isVisible()
    assert not (models_dir() / "cancelled.safetensors").exists()
    dialog.close_button.click()
    assert window.finetune_dialog is None
