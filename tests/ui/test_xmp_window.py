"""The real window with XMP sidecars: a Lightroom-style and a darktable-style sidecar show their ratings and
labels in the grid and table; with write-back on, a rating made in the window is in the sidecar, its undo
puts the old value back, and a new window on the same catalog shows the same."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from loda_desktop.ui.models import Column
from loda_desktop.xmp import read_xmp_file, values_from
from tests.app.badfiles import photo
from tests.app.xmp_samples import DARKTABLE, LIGHTROOM, foreign_facts

from .conftest import fast_settings
from .test_window import by_name, drop_and_score, key, open_window

CTRL = Qt.KeyboardModifier.ControlModifier


def sidecar(path: Path):
    return values_from(read_xmp_file(path), path)


def make_shoot(folder: Path) -> Path:
    folder.mkdir()
    photo(folder / "DSC_0011.jpg", size=(480, 320), seed=1, quality=90)
    photo(folder / "DSC_0012.JPG", size=(480, 320), seed=2, quality=90)
    photo(folder / "DSC_0013.jpg", size=(480, 320), seed=3, quality=90)
    lightroom = LIGHTROOM.format(date="2024-05-01T10:11:12+02:00", rating=4, label="Green")
    (folder / "DSC_0011.xmp").write_text(lightroom, encoding="utf-8")
    (folder / "DSC_0012.JPG.xmp").write_text(DARKTABLE.format(rating=2, photo="DSC_0012.JPG", colour=3))
    return folder


def test_sidecars_shown_written_on_rating_undone_and_kept_across_a_restart(qtbot, tmp_path):
    folder = make_shoot(tmp_path / "shoot")
    photo_bytes = (folder / "DSC_0011.jpg").read_bytes()
    original = (folder / "DSC_0011.xmp").read_bytes()
    window = open_window(qtbot, fast_settings(xmp_sidecars="lightroom"))
    drop_and_score(qtbot, window, folder)
    items = by_name(window)
    assert (items["DSC_0011.jpg"].rating, items["DSC_0011.jpg"].label) == (4, "green")
    assert (items["DSC_0012.JPG"].rating, items["DSC_0012.JPG"].label) == (2, "blue")
    row = window.model.row_of(items["DSC_0011.jpg"].path)
    assert window.model.index(row, Column.LABEL).data() == "Green"
    assert window.model.index(row, Column.RATING).data() == "★★★★"
    assert "Read 4 values from XMP (2 photos)" in window.statusBar().currentMessage()
    assert window.undo_action.text() == "&Undo labels read from XMP (2 photos)"

    window.select_path(items["DSC_0011.jpg"].path)
    key(window, Qt.Key.Key_2)
    assert items["DSC_0011.jpg"].rating == 2
    assert sidecar(folder / "DSC_0011.xmp").rating == 2
    assert foreign_facts((folder / "DSC_0011.xmp").read_bytes()) == foreign_facts(original)
    key(window, Qt.Key.Key_Z, CTRL)
    assert items["DSC_0011.jpg"].rating == 4 and sidecar(folder / "DSC_0011.xmp").rating == 4

    window.select_path(items["DSC_0013.jpg"].path)
    key(window, Qt.Key.Key_5)
    key(window, Qt.Key.Key_8)  # the green label
    written = sidecar(folder / "DSC_0013.xmp")
    assert (written.rating, written.label) == (5, "green")
    assert (folder / "DSC_0011.jpg").read_bytes() == photo_bytes

    window.write_xmp_darktable_action.trigger()  # File ▸ Write XMP Sidecars (darktable)
    assert sidecar(folder / "DSC_0011.jpg.xmp").rating == 4 and sidecar(folder / "DSC_0013.jpg.xmp").rating == 5
    assert sidecar(folder / "DSC_0012.JPG.xmp").label == "blue"  # merged into darktable's own
    window.close()

    again = open_window(qtbot, fast_settings(xmp_sidecars="lightroom"))
    drop_and_score(qtbot, again, folder)
    items = by_name(again)
    assert (items["DSC_0011.jpg"].rating, items["DSC_0011.jpg"].label) == (4, "green")
    assert (items["DSC_0013.jpg"].rating, items["DSC_0013.jpg"].label) == (5, "green")
    assert (items["DSC_0012.JPG"].rating, items["DSC_0012.JPG"].label) == (2, "blue")
    assert "XMP" not in again.statusBar().currentMessage()  # nothing new to read
