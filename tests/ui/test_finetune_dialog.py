"""The Fine-tune dialog driven like a photographer: rate, Fine-tune, watch progress, Accept → the grid re-scores with
the new profile; Cancel writes nothing; Discard deletes the result; too few ratings are explained."""

from __future__ import annotations

import pytest

from loda_desktop.catalog import Catalog
from loda_desktop.paths import models_dir
from loda_desktop.settings import load_settings
from loda_desktop.ui.finetune_dialog import FinetuneDialog
from loda_desktop.ui.main_window import MainWindow
from model.profiles import read_profile
from tests.rated_photos import make_rated_photos, rate_in_catalog
from trainer.finetune import FinetuneConfig

from .conftest import SCORE_TIMEOUT_MS, fast_settings

FAST = {"img_size": 64, "short_side": 72, "epochs": 15, "batch": 8, "lr": 2e-3, "train_crops": 2, "test_crops": 2}
TRAIN_TIMEOUT_MS = 90_000


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture
def rated(tmp_path):
    folder = tmp_path / "rated"
    ratings = make_rated_photos(folder, n_contents=10)
    rate_in_catalog(ratings)
    return folder


@pytest.fixture
def window(qtbot, rated):
    window = MainWindow(fast_settings(model="loda_tiny"))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS):
        window.open_folders([rated])
    return window


def test_rate_finetune_accept_rescores_with_the_new_profile(qtbot, window):
    scoring_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Scoring")
    assert window.finetune_action in scoring_menu.actions()
    dialog = window.show_finetune(config=FinetuneConfig(**FAST))
    assert not dialog.unmet and "40 rated photos" in dialog.info.text()
    dialog.name_edit.setText("my-taste")
    dialog.start_button.click()
    assert dialog.state == "running" and dialog.cancel_button.isVisible()
    qtbot.waitUntil(lambda: dialog.state == "done", timeout=TRAIN_TIMEOUT_MS)
    result = dialog.result_info
    assert result.srcc_after > result.srcc_before and result.srcc_after > 0.8
    assert "Held-out SRCC" in dialog.outcome.text() and "→" in dialog.outcome.text()
    assert dialog.plot.loss and len(dialog.plot.srcc) >= 2
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum()
    dialog.grab()  # paints the live plot
    assert load_settings().model != "my-taste"  # not active before Accept
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        dialog.accept_button.click()
    summary = blocker.args[0]
    assert window.settings.model == "my-taste" and load_settings().model == "my-taste"
    assert summary.model_key.startswith("my-taste@") and summary.scored == 40
    assert read_profile(models_dir() / "my-taste.safetensors").metadata["parent"].startswith("loda_tiny@")
    scores = {it.name: it.score for it in window.model.items}
    sharp = [v for k, v in scores.items() if "blur0" in k]
    blurred = [v for k, v in scores.items() if "blur3" in k]
    assert sum(sharp) / len(sharp) > sum(blurred) / len(blurred)


def test_cancel_writes_nothing_and_discard_deletes(qtbot, window):
    window.finetune_action.trigger()  # the menu item opens the dialog
    opened = window.findChild(FinetuneDialog)
    assert opened is not None and opened.isVisible() and opened.state == "ready"
    opened.close_button.click()
    qtbot.waitUntil(lambda: not opened.isVisible())

    dialog = window.show_finetune(config=FinetuneConfig(**FAST))
    dialog.name_edit.setText("cancelled")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 3, timeout=TRAIN_TIMEOUT_MS)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.state == "cancelled", timeout=TRAIN_TIMEOUT_MS)
    assert "nothing was saved" in dialog.eta.text()
    assert not (models_dir() / "cancelled.safetensors").exists()
    assert dialog.start_button.isEnabled()

    dialog.cfg = FinetuneConfig(**{**FAST, "epochs": 1})
    dialog.name_edit.setText("short")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.state == "done", timeout=TRAIN_TIMEOUT_MS)
    assert (models_dir() / "short.safetensors").exists()
    dialog.discard_button.click()
    assert not (models_dir() / "short.safetensors").exists()
    assert load_settings().model != "short" and window.settings.model == "loda_tiny"


def test_too_few_ratings_are_explained(qtbot, rated):
    with Catalog() as catalog:
        catalog.set_rating(list(rated.iterdir())[:15], 0)
    dialog = FinetuneDialog([str(rated)], "loda_tiny")
    qtbot.addWidget(dialog)
    assert dialog.info.text().startswith("Rate at least 30 photos with at least 3 different star values")
    assert "so far: 25 photos rated" in dialog.info.text()
    assert not dialog.start_button.isEnabled()
    dialog.close()
