"""The window's side of issue 26: Scoring ▸ Retry Failed tries the failed photos again (a plain rescan does not
decode an unchanged broken file twice), and a catalog that cannot be written is one line in the status bar."""

from __future__ import annotations

import sqlite3

from loda_desktop.catalog import Catalog
from tests.helpers.decodes import count_decodes

from . import test_window
from .conftest import SCORE_TIMEOUT_MS
from .test_window import drop_and_score

window = test_window.window  # the fixture


def test_retry_failed_action_decodes_the_failed_photo_again(qtbot, window, shoot, monkeypatch):
    first = drop_and_score(qtbot, window, shoot)
    assert first.failed == 1
    seen = count_decodes(monkeypatch)
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS):
        window.rescan_action.trigger()
    assert seen == []  # nothing changed: the broken file is not decoded again
    assert window.retry_failed_action.text() == "&Retry Failed"
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as done:
        window.retry_failed_action.trigger()
    assert seen == ["broken.jpg"] and done.args[0].failed == 1


def test_a_full_catalog_is_one_line_in_the_status_bar(qtbot, window, shoot, monkeypatch):
    def full(self, *a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Catalog, "put_score", full)
    summary = drop_and_score(qtbot, window, shoot)
    assert summary.scored == 6  # scoring went on
    message = window.statusBar().currentMessage()
    assert message.startswith("Disk full while saving scores: 0 of 7 photos saved") and "\n" not in message
    scores = {it.name: it.score for it in window.model.items}
    assert all(scores[n] is not None for n in ("IMG_1.jpg", "beach.png"))  # shown, though not saved


def test_settings_lists_a_broken_model_file(qtbot):
    from PySide6.QtWidgets import QLabel

    from loda_desktop.paths import models_dir
    from loda_desktop.ui.settings_dialog import SettingsDialog

    from .conftest import fast_settings

    (models_dir() / "bad.safetensors").write_bytes(b"not a profile at all")
    dialog = SettingsDialog(fast_settings(), save=False)
    qtbot.addWidget(dialog)
    label = dialog.findChild(QLabel, "brokenModels")
    assert label is not None and "bad.safetensors" in label.text() and "not a readable model profile" in label.text()
    assert "loda profiles delete bad.safetensors" in label.text()
