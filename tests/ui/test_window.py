"""The real window, offscreen: drop a folder, wait for the scores, sort, cull from the keyboard, move rejected
photos, undo (also after a restart), export; pause, cancel, bad files, settings, and the same scores as
``loda score``."""

from __future__ import annotations

import os
import sqlite3

import pytest
from PIL import ExifTags, Image
from PySide6.QtCore import QObject, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from loda_desktop.catalog import Catalog
from loda_desktop.cli import main as cli_main
from loda_desktop.scan import REJECT_DIR
from loda_desktop.settings import load_settings
from loda_desktop.ui.main_window import MainWindow
from loda_desktop.ui.models import Column, PhotoItem
from tests.helpers.files import read_export_csv as read_csv
from tests.helpers.raw_files import hide_module

from ..app.badfiles import make_shoot, photo
from .conftest import SCORE_TIMEOUT_MS, drop, fast_settings


class OnFirst(QObject):
    """Calls ``fn(*args)`` on the first emission of the signals connected to :meth:`fire`, in the UI thread.

    (A plain function connected to a worker's signal would run in the worker's thread.)"""

    def __init__(self, fn, *args):
        super().__init__()
        self.fn, self.args, self.fired = fn, args, False

    def fire(self, *_):
        if not self.fired:
            self.fired = True
            self.fn(*self.args)


def open_window(qtbot, settings=None) -> MainWindow:
    window = MainWindow(settings or fast_settings())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    return window


def drop_and_score(qtbot, window, folder):
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        drop(window, [folder])
    return blocker.args[0]


def by_name(window) -> dict[str, PhotoItem]:
    return {it.name: it for it in window.model.items}


def key(window, k, modifier=Qt.KeyboardModifier.NoModifier):
    """A key press where the photographer's focus is: the current view."""
    view = window.current_view()
    view.setFocus()
    QTest.keyClick(view, k, modifier)


@pytest.fixture
def window(qtbot):
    return open_window(qtbot)


def test_drop_score_sort_reject_move_undo_export(qtbot, window, shoot, tmp_path):
    assert window.banner.isVisible() and "UNTRAINED" in window.banner.text()  # the untrained model says so
    summary = drop_and_score(qtbot, window, shoot)
    assert (summary.total, summary.scored, summary.failed, summary.cancelled) == (7, 6, 1, False)
    items = by_name(window)
    assert len(items) == 7
    for name, item in items.items():
        if name == "broken.jpg":
            assert item.status == "error" and item.error
        else:
            assert item.status == "ok" and isinstance(item.score, float) and item.spread is not None, name
    broken_row = window.model.row_of(items["broken.jpg"].path)
    assert window.model.index(broken_row, Column.STATUS).data() == items["broken.jpg"].error

    window.sort_by("Score")
    shown = window.proxy.visible_items()
    scores = [it.score for it in shown if it.status == "ok"]
    assert scores == sorted(scores, reverse=True) and shown[-1].name == "broken.jpg"
    window.sort_by("Name")
    assert [it.name for it in window.proxy.visible_items()][:3] == ["beach.png", "broken.jpg", "IMG_1.jpg"]
    window.sort_by("Score")

    # reject the best photo from the keyboard: the flag is saved and the next photo becomes current
    window._set_current_proxy_row(0)
    best, second = window.proxy.visible_items()[:2]
    key(window, Qt.Key.Key_X)
    assert best.flag == "reject"
    assert window.current_item() is second
    with Catalog() as cat:
        assert cat.get(best.path)[0].flag == "reject"

    result = window.move_rejected()
    moved = shoot / REJECT_DIR / best.name
    assert result.ok and moved.exists() and not os.path.exists(best.path)
    assert window.model.row_of(best.path) is None and window.model.rowCount() == 6

    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert os.path.exists(best.path) and not moved.exists()
    restored = window.model.item_for(best.path)
    assert restored is not None and restored.score == pytest.approx(best.score) and restored.flag == "reject"

    # the CSV is the current view: its filter and its order
    window.hide_rejected_action.trigger()
    (tmp_path / "out").mkdir()
    out = window.export_csv(tmp_path / "out" / "view.csv")
    rows = read_csv(out)
    assert [r["path"] for r in rows] == [it.path for it in window.proxy.visible_items()]
    assert len(rows) == 6 and best.path not in {r["path"] for r in rows}
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4", "5", ""]
    assert rows[0]["status"] == "ok" and rows[0]["model"] == window.engine_info.model_key
    assert rows[-1]["status"] == "error" and rows[-1]["error"]
    assert float(rows[0]["score"]) == pytest.approx(window.proxy.visible_items()[0].score, abs=1e-6)


def test_same_score_as_loda_score_and_bad_files_explained(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "mixed"
    files = make_shoot(folder)
    hide_module(monkeypatch, "pillow_heif")  # phone.heic stands for a HEIC without its optional decoder
    drop_and_score(qtbot, window, folder)
    ours = {it.path: it for it in window.model.items}
    assert set(ours) == {str(p) for p in files.values()}
    for name in ("empty", "truncated", "non_image", "bomb", "unsupported"):
        item = ours[str(files[name])]
        assert item.status == "error" and item.error, name
    assert "pillow-heif" in ours[str(files["unsupported"])].error
    assert "too many pixels" in ours[str(files["bomb"])].error
    # the loupe on a failed photo says why
    window.select_path(files["empty"])
    window.set_view("loupe")
    assert "the file is empty" in window.loupe.info.text()
    window.close()

    # `loda score` in a fresh catalog (nothing cached from the window): the same numbers
    monkeypatch.setenv("LODA_HOME", str(tmp_path / "cli_home"))
    out = tmp_path / "cli.csv"
    assert cli_main(["score", str(folder), "--csv", str(out), "--crops", "2", "--batch", "8"]) == 0
    theirs = {r["path"]: r for r in read_csv(out)}
    assert set(theirs) == set(ours)
    for path, item in ours.items():
        row = theirs[path]
        assert row["status"] == item.status, path
        if item.status == "ok":
            assert float(row["score"]) == pytest.approx(item.score, abs=2e-6), path
            assert float(row["spread"]) == pytest.approx(item.spread, abs=2e-6), path
        else:
            assert row["error"] == item.error, path


def test_keyboard_culling_and_loupe(qtbot, window, shoot):
    drop_and_score(qtbot, window, shoot)
    window.sort_by("Name")
    window._set_current_proxy_row(0)
    first = window.current_item()
    key(window, Qt.Key.Key_4)
    key(window, Qt.Key.Key_8)
    key(window, Qt.Key.Key_P)  # pick, then advance
    assert (first.rating, first.label, first.flag) == (4, "green", "pick")
    second = window.current_item()
    assert second is not first
    key(window, Qt.Key.Key_8)
    key(window, Qt.Key.Key_8)  # the same colour again clears it
    assert second.label is None
    key(window, Qt.Key.Key_Right)
    third = window.current_item()
    assert third is not second
    key(window, Qt.Key.Key_U)
    with Catalog() as cat:
        record = cat.get(first.path)[0]
    assert (record.rating, record.flag, record.label) == (4, "pick", "green")

    # undo walks back through this session's changes
    window.set_view("grid")
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the label toggle (set, then cleared)
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the pick of the first photo
    assert first.flag is None and first.rating == 4
    with Catalog() as cat:
        assert cat.get(first.path)[0].flag is None

    # the loupe: Return opens it with the score and EXIF basics, arrows step, Escape leaves
    window.select_path(first.path)
    key(window, Qt.Key.Key_Return)
    assert window.view_mode == "loupe"
    qtbot.waitUntil(lambda: window.loupe.exif is not None, timeout=10_000)
    text = window.loupe.info.text()
    assert f"{first.score:.3f}" in text and "crop spread" in text and "480 × 320" in text
    assert "★★★★☆" in text
    key(window, Qt.Key.Key_Right)
    stepped = window.current_item()
    assert window.loupe.item is stepped and stepped is not first
    key(window, Qt.Key.Key_X)  # culling keys work in the loupe too, and advance it
    assert stepped.flag == "reject" and window.loupe.item is window.current_item() is not stepped
    key(window, Qt.Key.Key_Escape)
    assert window.view_mode == "grid"
    key(window, Qt.Key.Key_T)
    assert window.view_mode == "table" and window.table.selectionModel() is window.grid.selectionModel()


def test_filters_from_the_toolbar(qtbot, window, shoot):
    drop_and_score(qtbot, window, shoot)
    window.sort_by("Score")
    window._set_current_proxy_row(0)
    key(window, Qt.Key.Key_X)
    key(window, Qt.Key.Key_5)
    assert window.proxy.rowCount() == 7
    key(window, Qt.Key.Key_H)  # hide rejected
    assert window.proxy.rowCount() == 6
    window.min_rating.setCurrentIndex(5)
    assert [it.rating for it in window.proxy.visible_items()] == [5]
    window.min_rating.setCurrentIndex(0)
    scores = sorted(it.score for it in window.model.items if it.scored and it.flag != "reject")
    window.min_score.setValue(scores[2])
    assert window.proxy.min_score == pytest.approx(scores[2], abs=1e-3)
    assert all(it.score >= window.proxy.min_score for it in window.proxy.visible_items())
    window.min_score.setValue(window.min_score.minimum())
    assert window.proxy.min_score is None and window.proxy.rowCount() == 6
    qtbot.waitUntil(lambda: "6 shown" in window.count_label.text() and "1 rejected" in window.count_label.text())


def test_undo_after_a_restart(qtbot, shoot):
    first = open_window(qtbot)
    drop_and_score(qtbot, first, shoot)
    first.select_path(shoot / "IMG_2.jpg")
    key(first, Qt.Key.Key_X)
    assert first.move_rejected().ok
    assert (shoot / REJECT_DIR / "IMG_2.jpg").exists()
    first.close()

    second = open_window(qtbot)
    drop_and_score(qtbot, second, shoot)
    assert second.model.item_for(shoot / "IMG_2.jpg") is None
    key(second, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # nothing done in this session: the journal
    assert (shoot / "IMG_2.jpg").exists() and not (shoot / REJECT_DIR / "IMG_2.jpg").exists()
    item = second.model.item_for(shoot / "IMG_2.jpg")
    assert item is not None and item.flag == "reject" and item.status == "ok"


def test_trash_asks_first_and_undo_restores(qtbot, window, shoot, monkeypatch):
    drop_and_score(qtbot, window, shoot)
    window.select_path(shoot / "beach.png")
    key(window, Qt.Key.Key_X)
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answers.pop(0))
    assert window.move_rejected(trash=True) is None  # cancelled: nothing happens
    assert (shoot / "beach.png").exists()
    result = window.move_rejected(trash=True)
    assert len(asked) == 2 and "trash" in asked[1]
    assert result.ok and not (shoot / "beach.png").exists()
    assert window.model.item_for(shoot / "beach.png") is None
    window.undo()
    assert (shoot / "beach.png").exists() and window.model.item_for(shoot / "beach.png") is not None


def test_pause_resume_then_cancel_keeps_what_was_scored(qtbot, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(16):
        photo(folder / f"p{i:02d}.jpg", size=(400, 300), seed=100 + i)
    window = open_window(qtbot, fast_settings(crops=1, batch_size=1))
    # press Pause as soon as the first scores reach the window (a slot of a QObject: it runs in the UI thread)
    pause_hook = OnFirst(window.toggle_pause, True)
    window.scoring.worker.results.connect(pause_hook.fire)
    drop(window, [folder])
    qtbot.waitUntil(lambda: window.progress is not None and window.progress.phase == "paused", timeout=SCORE_TIMEOUT_MS)
    assert window.pause_button.isVisible() and window.pause_button.text() == "Resume"
    assert window.progress_label.text().startswith("Paused")
    done = window.progress.done
    qtbot.wait(400)
    assert window.progress.done == done and done < 16  # nothing moves while paused
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.pause_button.click()
    assert blocker.args[0].total == 16 and not blocker.args[0].cancelled
    assert all(it.status == "ok" for it in window.model.items)

    # cancel a second run (another crop count: everything is scored again) as soon as results arrive
    cancel_hook = OnFirst(window.cancel_button.click)
    window.scoring.worker.results.connect(cancel_hook.fire)
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.apply_settings(fast_settings(crops=2, batch_size=1))
    cancelled = blocker.args[0]
    assert cancelled.cancelled and 0 < cancelled.scored < 16
    assert not window.progress_bar.isVisible()
    window.close()  # like quitting mid-scan: what was scored is in the catalog

    again = open_window(qtbot, fast_settings(crops=2, batch_size=1))
    summary = drop_and_score(qtbot, again, folder)
    assert summary.cached == cancelled.scored and summary.scored == 16 - cancelled.scored


def test_capture_dates_from_exif_sort_and_persist(qtbot, window, tmp_path):
    folder = tmp_path / "dated"
    folder.mkdir()
    for i, name in enumerate(["c.jpg", "a.jpg", "b.jpg"]):
        exif = Image.Exif()
        exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = f"2024:06:0{i + 1} 12:00:00"
        Image.new("RGB", (300, 240), (40 * i, 90, 120)).save(folder / name, exif=exif)
    photo(folder / "undated.png", size=(300, 240))
    drop_and_score(qtbot, window, folder)
    qtbot.waitUntil(lambda: sum(1 for it in window.model.items if it.capture_time) == 3, timeout=10_000)
    window.sort_by("Capture date")
    assert [it.name for it in window.proxy.visible_items()] == ["c.jpg", "a.jpg", "b.jpg", "undated.png"]
    with Catalog() as cat:
        assert cat.get(folder / "b.jpg")[0].capture_time == "2024-06-03T12:00:00"
    # thumbnails are made in the background and reach the grid
    item = window.model.items[0]
    qtbot.waitUntil(lambda: window.thumbnails.get(item) is not None, timeout=10_000)


def test_settings_dialog_saves_and_rescoring_follows(qtbot, window, shoot):
    from loda_desktop.ui.settings_dialog import SettingsDialog

    drop_and_score(qtbot, window, shoot)
    window.show_settings()
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.model.findData("default") >= 0 and dialog.model.findData("loda_tiny") == -1
    dialog.advanced.setChecked(True)  # bare configs are developer items
    assert dialog.model.findData("loda_tiny") >= 0 and dialog.model.findData("default") >= 0
    dialog.crops.setValue(3)
    with (
        qtbot.waitSignal(window.engine_changed, timeout=SCORE_TIMEOUT_MS) as engine,
        qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as scored,
    ):
        dialog.accept()
    assert engine.args[0].settings.crops == 3 and "crops=3" in engine.args[0].model_key
    assert scored.args[0].scored == 6  # new crop count, new scores
    assert load_settings().crops == 3
    assert "3 crops + 4 at 100 %" in window.model_label.text()


def test_a_model_that_cannot_load_is_explained_not_fatal(qtbot, shoot):
    window = open_window(qtbot, fast_settings(model="no-such-model"))
    qtbot.waitUntil(lambda: window.engine_error is not None, timeout=10_000)
    assert window.banner.isVisible() and "no-such-model" in window.banner.text()
    summary = drop_and_score(qtbot, window, shoot)  # the folder is listed all the same, without new scores
    assert summary.unscored_reason and "no-such-model" in summary.unscored_reason
    assert window.model.rowCount() == 7 and not any(it.scored for it in window.model.items)
    assert window.isVisible() and not window.progress_bar.isVisible()
    assert "not scored" in window.statusBar().currentMessage()


def test_drops_that_are_not_photos_are_refused(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPoint, QUrl
    from PySide6.QtGui import QDragEnterEvent
    from PySide6.QtWidgets import QApplication

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(text))])
    event = QDragEnterEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, event)
    assert not event.isAccepted()


def test_app_main_opens_the_folder_given(qtbot, qapp, shoot, monkeypatch):
    from loda_desktop.ui import app as app_module

    palette, seen = qapp.palette(), {}

    def run(app, window):
        qtbot.waitUntil(lambda: window.summary is not None, timeout=SCORE_TIMEOUT_MS)
        seen["rows"] = window.model.rowCount()
        seen["title"] = window.windowTitle()
        return 0

    monkeypatch.setattr(app_module, "_run", run)
    try:
        assert app_module.main([str(shoot)]) == 0
    finally:
        qapp.setPalette(palette)
    assert seen == {"rows": 7, "title": "shoot — LoDa Desktop"}


def test_app_main_explains_a_catalog_from_a_newer_version(qapp, monkeypatch):
    from loda_desktop.paths import catalog_path
    from loda_desktop.ui import app as app_module

    Catalog().close()
    with sqlite3.connect(catalog_path()) as conn:
        conn.execute("PRAGMA user_version = 99")
    shown = []
    monkeypatch.setattr(app_module.QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    palette = qapp.palette()
    try:
        assert app_module.main([]) == 1
    finally:
        qapp.setPalette(palette)
    assert len(shown) == 1 and "newer than this app" in shown[0] and "Traceback" not in shown[0]


def test_a_damaged_settings_file_is_reported_and_defaults_used(qtbot):
    from loda_desktop.paths import settings_path

    settings_path().write_text("{ this is not json", encoding="utf-8")
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.settings.crops == 5  # the defaults
    assert "invalid JSON" in window.statusBar().currentMessage()
    assert settings_path().with_name("settings.json.bak").exists()


def test_ratings_flags_and_labels_undo_after_a_restart(qtbot, shoot, tmp_path):
    from loda_desktop.culling import Culling
    from loda_desktop.ui.models import Role

    def shown(window, path):
        """(rating, flag, label) as the grid's delegate reads them, through the proxy the views share."""
        index = window.proxy.mapFromSource(window.model.index_for(str(path)))
        assert index.isValid(), path
        return tuple(index.data(role) for role in (Role.Rating, Role.Flag, Role.Label))

    def in_catalog(*paths):
        with Catalog() as cat:
            return [(r.rating, r.flag, r.label) for r in (cat.get(p)[0] for p in paths)]

    (tmp_path / "other").mkdir()
    elsewhere = photo(tmp_path / "other" / "far.jpg", size=(64, 48), seed=3)  # a folder no window opens
    with Catalog() as cat:
        cat.add_photos([elsewhere])
        Culling(cat).set_rating([elsewhere], 2)

    img1, img2 = shoot / "IMG_1.jpg", shoot / "IMG_2.jpg"
    first = open_window(qtbot)
    drop_and_score(qtbot, first, shoot)
    first.select_path(img1)
    key(first, Qt.Key.Key_3)
    key(first, Qt.Key.Key_X)  # reject, then on to the next photo
    assert first.current_item().path != str(img1)
    first.select_path(img2)
    key(first, Qt.Key.Key_7)
    assert in_catalog(img1, img2) == [(3, "reject", None), (0, None, "yellow")]
    first.close()

    second = open_window(qtbot)
    drop_and_score(qtbot, second, shoot)  # everything is scored already: only the rows come back
    assert (shown(second, img1), shown(second, img2)) == ((3, "reject", None), (0, None, "yellow"))
    second._update_undo_text()  # what Edit ▸ Undo says when the menu opens
    assert second.undo_action.text() == "&Undo label yellow (1 photo)" and second.undo_action.isEnabled()

    second.undo_action.trigger()
    assert shown(second, img2) == (0, None, None) and in_catalog(img2) == [(0, None, None)]
    assert second.statusBar().currentMessage() == "Undid label yellow (1 photo)."
    assert second.undo_action.text() == "&Undo reject (1 photo)"
    second.undo_action.trigger()
    assert shown(second, img1) == (3, None, None)
    second.undo_action.trigger()
    assert shown(second, img1) == (0, None, None)
    assert in_catalog(img1, img2) == [(0, None, None), (0, None, None)]

    # the history is global: the next step is the rating made on a photo this window does not show
    second.undo_action.trigger()
    assert second.statusBar().currentMessage() == "Undid rating ★★ (1 photo). Not open in this window."
    assert in_catalog(elsewhere) == [(0, None, None)]
    assert not second.undo_action.isEnabled() and second.undo_action.text() == "&Undo"
