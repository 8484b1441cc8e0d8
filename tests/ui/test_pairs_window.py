"""The real window with a RAW + JPEG pair (a DNG the test writes and a JPEG of the same stem): one cell, rejected
and moved to _rejected as one photo with Ctrl+Backspace, brought back by Ctrl+Z; and a folder moved outside the
app between two sessions keeps its ratings and scores."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from loda_desktop.scan import REJECT_DIR
from loda_desktop.ui.models import Column
from tests.app.badfiles import photo
from tests.helpers.files import read_export_csv
from tests.helpers.raw_files import write_dng

from .test_window import by_name, drop_and_score, key, open_window

CTRL = Qt.KeyboardModifier.ControlModifier


def make_pair_shoot(folder):
    folder.mkdir()
    photo(folder / "IMG_0001.JPG", size=(480, 320), seed=3, quality=90)
    write_dng(folder / "IMG_0001.DNG")
    photo(folder / "IMG_0002.jpg", size=(480, 320), seed=4, quality=90)
    write_dng(folder / "solo.dng")  # a RAW without a JPEG: a photo of its own
    return folder


def test_a_raw_jpeg_pair_is_one_cell_moved_and_restored_as_one(qtbot, tmp_path):
    folder = make_pair_shoot(tmp_path / "shoot")
    window = open_window(qtbot)
    summary = drop_and_score(qtbot, window, folder)
    assert (summary.total, summary.scored, summary.failed) == (3, 3, 0)
    items = by_name(window)
    assert set(items) == {"IMG_0001.JPG", "IMG_0002.jpg", "solo.dng"}
    pair = items["IMG_0001.JPG"]
    assert pair.companions == ("IMG_0001.DNG",) and pair.status == "ok"
    row = window.model.row_of(pair.path)
    assert window.model.index(row, Column.NAME).data() == "IMG_0001.JPG + DNG"

    window.select_path(pair.path)
    key(window, Qt.Key.Key_X)
    assert pair.flag == "reject"
    key(window, Qt.Key.Key_Backspace, CTRL)  # Photo ▸ Move Rejected to _rejected
    rejected = folder / REJECT_DIR
    assert (rejected / "IMG_0001.JPG").exists() and (rejected / "IMG_0001.DNG").exists()
    assert not (folder / "IMG_0001.JPG").exists() and not (folder / "IMG_0001.DNG").exists()
    assert window.model.row_of(pair.path) is None and window.model.rowCount() == 2

    key(window, Qt.Key.Key_Z, CTRL)
    assert (folder / "IMG_0001.JPG").exists() and (folder / "IMG_0001.DNG").exists()
    assert not rejected.exists()
    assert set(by_name(window)) == {"IMG_0001.JPG", "IMG_0002.jpg", "solo.dng"}  # one cell again, no DNG cell
    restored = window.model.item_for(pair.path)
    assert restored.flag == "reject" and restored.companions == ("IMG_0001.DNG",)
    assert restored.score == pair.score

    out = window.export_csv(tmp_path / "view.csv")
    rows = {r["path"]: r for r in read_export_csv(out)}
    assert rows[pair.path]["companions"] == "IMG_0001.DNG" and rows[str(folder / "solo.dng")]["companions"] == ""


def test_a_restart_after_the_folder_was_moved_shows_its_ratings(qtbot, tmp_path):
    folder = make_pair_shoot(tmp_path / "shootA")
    first = open_window(qtbot)
    drop_and_score(qtbot, first, folder)
    for name, stars in (("IMG_0001.JPG", Qt.Key.Key_4), ("solo.dng", Qt.Key.Key_2)):
        first.select_path(folder / name)
        key(first, stars)
    scores = {name: it.score for name, it in by_name(first).items()}
    first.close()

    moved = tmp_path / "shootB"
    os.rename(folder, moved)  # mv shootA shootB, while the app is closed
    second = open_window(qtbot)
    summary = drop_and_score(qtbot, second, moved)
    assert (summary.scored, summary.cached) == (0, 3)  # nothing scored again
    items = by_name(second)
    assert {name: it.rating for name, it in items.items()} == {"IMG_0001.JPG": 4, "IMG_0002.jpg": 0, "solo.dng": 2}
    assert {name: it.score for name, it in items.items()} == scores
    assert items["IMG_0001.JPG"].path == str(moved / "IMG_0001.JPG")
