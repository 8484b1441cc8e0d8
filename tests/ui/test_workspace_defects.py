"""The small defects of the culling workspace (issue 22), each through the real window or the widget concerned:
the "Score ≥" box, the status bar's counts, the "&Model:" label, the fine-tune dialog's text and plot, the
summary of a folder scored from the catalog, "Loading the model…" once only, the error text in the smallest
cells, the grid's right gutter, scores kept through a cancelled re-score, and File ▸ Open Recent."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtTest import QTest

from loda_desktop.engine import ScoreSummary
from loda_desktop.ui.delegates import message_rect
from loda_desktop.ui.statusbar import COUNTS_GAP

from ..app.badfiles import photo
from .conftest import SCORE_TIMEOUT_MS, fast_settings
from .test_window import OnFirst, drop_and_score, open_window


@pytest.fixture
def window(qtbot):
    return open_window(qtbot)


def test_the_score_box_commits_on_return_without_opening_the_loupe_and_clears(qtbot, window, shoot):
    drop_and_score(qtbot, window, shoot)
    box = window.min_score
    lowest = min(it.score for it in window.model.items if it.scored)
    box.setFocus()
    box.lineEdit().selectAll()
    QTest.keyClicks(box, f"{lowest + 0.0005:.{box.decimals()}f}")
    QTest.keyClick(box, Qt.Key.Key_Return)
    assert window.view_mode == "grid"  # Return committed the filter and stayed there
    assert window.proxy.min_score is not None and window.proxy.rowCount() < 7
    box.lineEdit().selectAll()
    QTest.keyClick(box, Qt.Key.Key_Backspace)  # cleared: no threshold
    QTest.keyClick(box, Qt.Key.Key_Return)
    assert window.proxy.min_score is None and window.proxy.rowCount() == 7 and box.text() == "any"
    assert window.view_mode == "grid"
    box.lineEdit().selectAll()
    QTest.keyClicks(box, "0.5")
    QTest.keyClick(box, Qt.Key.Key_Return)
    box.lineEdit().selectAll()
    QTest.keyClicks(box, "any")  # typing the word does it too
    QTest.keyClick(box, Qt.Key.Key_Return)
    assert window.proxy.min_score is None
    window.search.setFocus()
    QTest.keyClicks(window.search, "IMG")
    QTest.keyClick(window.search, Qt.Key.Key_Return)  # nor does Return in the name filter
    assert window.view_mode == "grid" and window.proxy.rowCount() == 4


def test_the_counts_keep_a_gap_from_the_message(qtbot, window, shoot):
    drop_and_score(qtbot, window, shoot)
    window.resize(900, 600)
    window.statusBar().showMessage("x" * 400)
    label = window.count_label
    qtbot.waitUntil(lambda: label.text() != "")
    assert label.contentsRect().left() >= COUNTS_GAP  # the text starts after the rule and the gap
    assert label.geometry().left() > 0 and label.isVisible()


def test_the_model_label_has_its_mnemonic(qtbot, window):
    from PySide6.QtWidgets import QLabel

    from loda_desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    label = next(w for w in dialog.findChildren(QLabel) if w.text() == "&Model:")
    assert label.buddy() is dialog.model  # shown as "Model:" with M underlined, Alt+M focuses the list
    dialog.deleteLater()


def test_the_finetune_dialog_words_and_its_text_below_the_plot(qtbot, tmp_path):
    import time

    from loda_desktop.ui.finetune_dialog import FinetuneDialog
    from trainer.finetune import FinetuneProgress, FinetuneResult, Rated

    rated = [Rated(Path(f"/x/p{i}.jpg"), 1 + i % 5, None) for i in range(40)]
    dialog = FinetuneDialog([], "default", rated=rated)
    qtbot.addWidget(dialog)
    assert "Teach" not in dialog.info.text() and "Fine-tune the model" in dialog.info.text()
    dialog.resize(420, 420)
    dialog.show()
    for step in range(1, 41):
        dialog.plot.add(FinetuneProgress("training", 1, 3, step, 40, loss=1.0 / step))
    dialog._started = time.perf_counter()
    result = FinetuneResult(
        path=tmp_path / "x.safetensors",
        name="my-taste",
        parent="default",
        srcc_before=-0.54,
        srcc_after=0.98,
        best_epoch=3,
        epochs_run=4,
        counts={},
        n_train=30,
        n_test=10,
        history=[],
        seconds=10,
        n_scenes=20,
        n_test_scenes=5,
        split=None,
    )
    dialog._on_finished(result)
    dialog.resize(420, 420)  # the smallest it may be now still shows everything
    dialog.grab()
    assert dialog.outcome.geometry().top() >= dialog.plot.geometry().bottom()
    assert dialog.outcome.height() >= dialog.outcome.heightForWidth(dialog.outcome.width())


def test_a_folder_scored_from_the_catalog_says_so():
    text = ScoreSummary(total=146, cached=146, seconds=0.4, model_name="m").describe()
    assert "all 146 from the catalog" in text and "photos/s" not in text
    assert "2.00 photos/s" in ScoreSummary(total=4, scored=2, cached=2, seconds=1.0).describe()


def test_loading_the_model_is_shown_only_while_it_loads(qtbot, window, shoot, tmp_path):
    drop_and_score(qtbot, window, shoot)
    other = tmp_path / "other"
    other.mkdir()
    photo(other / "new.jpg", size=(200, 150), seed=7)
    phases = []
    window.scoring.worker.progress.connect(lambda p: phases.append(p.phase))
    drop_and_score(qtbot, window, other)  # a photo to score, with the model in memory already
    assert "scoring" in phases or "done" in phases
    assert "loading model" not in phases and "Loading the model" not in window.progress_label.text()


def test_the_error_text_stays_clear_of_the_score_pill(qtapp=None):
    from PySide6.QtGui import QFont

    metrics = QFontMetrics(QFont())
    box = QRect(0, 0, 108, 80)  # the thumbnail area of the smallest cell (120 px)
    pill_bottom = box.top() + 4 + metrics.height() + 4
    area = message_rect(box, metrics)
    assert area.top() > pill_bottom and area.bottom() <= box.bottom() and area.height() >= 2 * metrics.height()


def test_no_gutter_right_of_the_grid(qtbot, window, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        photo(folder / f"p{i:02d}.png", size=(64, 48), seed=i)
    drop_and_score(qtbot, window, folder)
    for width in (1600, 1371, 1000):
        window.resize(width, 900)
        qtbot.waitUntil(lambda w=width: window.width() == w)
        QTest.qWait(50)
        grid = window.grid
        viewport = grid.viewport().width()
        columns = viewport // grid.gridSize().width()
        assert columns >= 1 and viewport - columns * grid.gridSize().width() < columns, width  # < 1 px per column
        assert window.grid_delegate.width == grid.gridSize().width() - 4


def test_a_cancelled_rescore_keeps_the_previous_scores(qtbot, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        photo(folder / f"p{i:02d}.jpg", size=(320, 240), seed=300 + i)
    window = open_window(qtbot, fast_settings(crops=1, batch_size=1))
    drop_and_score(qtbot, window, folder)
    before = {it.path: it.score for it in window.model.items}
    assert all(s is not None for s in before.values())
    cancel = OnFirst(window.cancel_button.click)
    window.scoring.worker.results.connect(cancel.fire)
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.apply_settings(fast_settings(crops=2, batch_size=1))  # another model key: everything re-scored
    summary = blocker.args[0]
    assert summary.cancelled and summary.scored < 12
    items = window.model.items
    assert len(items) == 12 and all(it.scored for it in items)  # none left without a score
    kept = [it for it in items if it.score == before[it.path]]
    assert len(kept) >= 12 - summary.scored
    assert "keep the previous model's score" in window.statusBar().currentMessage()
    # an export names the model that made each score: a kept score is the previous model's, not the new one's
    exported = {row.path: row.model for row in window.photo_commands.export_rows()}
    new_key = window.engine_info.model_key
    old_keys = {exported[it.path] for it in items if it.score_model is not None}
    assert old_keys and new_key not in old_keys
    assert sum(model == new_key for model in exported.values()) == summary.scored


def test_open_recent_and_reopen_at_launch(qtbot, qapp, shoot, tmp_path, monkeypatch):
    from loda_desktop.ui import app as app_module
    from loda_desktop.ui.recent import MAX_RECENT

    first = open_window(qtbot)
    drop_and_score(qtbot, first, shoot)
    recent = first.workspace.recent
    qtbot.waitUntil(lambda: recent.entries() == [[str(shoot)]])
    recent.rebuild()
    titles = [a.text() for a in recent.menu.actions()]
    assert titles[0] == "&1 shoot" and recent.menu.menuAction() in first.menus["&File"].actions()
    for i in range(MAX_RECENT + 2):
        recent.add([str(tmp_path / f"f{i}")])
    assert len(recent.entries()) == MAX_RECENT and recent.entries()[0] == [str(tmp_path / f"f{MAX_RECENT + 1}")]
    recent.add([str(shoot)])  # opened again: first, once
    assert recent.entries()[0] == [str(shoot)] and recent.entries().count([str(shoot)]) == 1
    recent.reopen_action.setChecked(True)
    first.close()

    palette, seen = qapp.palette(), {}

    def run(app, window):
        qtbot.waitUntil(lambda: window.summary is not None, timeout=SCORE_TIMEOUT_MS)
        seen["rows"], seen["title"] = window.model.rowCount(), window.windowTitle()
        return 0

    monkeypatch.setattr(app_module, "_run", run)
    try:
        assert app_module.main([]) == 0  # no folder given: the last one is reopened
    finally:
        qapp.setPalette(palette)
    assert seen == {"rows": 7, "title": "shoot — LoDa Desktop"}
    second = open_window(qtbot)
    second.workspace.recent.rebuild()
    assert second.workspace.recent.menu.actions()[0].text() == "&1 shoot"  # kept in window.ini
    second.close()


def test_the_first_run_export_is_labelled_as_preparation(qtbot):
    """Issue 22 item 4: a first run's ONNX export is said to be a one-time preparation, not a plain "loading"."""
    from dataclasses import replace

    window = open_window(qtbot)
    qtbot.waitUntil(lambda: window.engine_info is not None)
    window._on_engine_ready(replace(window.engine_info, preparing=True))
    assert "preparing it for this computer (first run only)" in window.model_label.text()
    window._on_engine_ready(replace(window.engine_info, preparing=False))
    assert window.model_label.text().endswith("· loading…")


@pytest.mark.auto_onnx
def test_the_window_exports_a_first_run_model_in_a_child_process(qtbot, tmp_path, monkeypatch):
    """The window never imports torch for ONNX Runtime: a first run's export runs in a child Python. Here an
    export in this process fails (as if torch were broken), so only the child's export gives ONNX Runtime."""
    import torch

    import model.onnx_export
    from model import create_model
    from model.profiles import save_model

    def not_here(*args, **kwargs):
        raise AssertionError("exported in the window's process")

    monkeypatch.setattr(model.onnx_export, "export_onnx", not_here)
    torch.manual_seed(0)
    net = create_model("loda_tiny", pretrained=False)
    profile = save_model(net, tmp_path / "first-run.safetensors", name="first-run")
    window = open_window(qtbot, fast_settings(model=str(profile), backend="auto", device="auto"))
    label = window.model_label
    qtbot.waitUntil(lambda: bool(label.text()) and not label.text().endswith("…"), timeout=SCORE_TIMEOUT_MS)
    assert label.text().endswith("onnxruntime CPU")  # an export in this process fell back to torch
