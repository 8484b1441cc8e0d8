"""The loupe through the real window: Z toggles fit / 100 % and the full resolution arrives in the background;
Shift+arrows, a drag, the wheel and the navigator pan and zoom; a click and a double-click toggle; Ctrl+/Ctrl−
zoom the loupe (and the thumbnails in the grid)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from loda_desktop.ui.decoder import FULL_MAX_PIXELS, full_side
from loda_desktop.ui.loupe import format_capture_time

from .test_window import key
from .zoom_helpers import click, drag, make_big_shoot, scored_window, wheel


@pytest.fixture
def big_shoot(tmp_path):
    return make_big_shoot(tmp_path)


def open_loupe(qtbot, big_shoot):
    window = scored_window(qtbot, big_shoot, (1280, 820))
    window.select_path(big_shoot / "DSC_0.jpg")
    key(window, Qt.Key.Key_Return)
    assert window.view_mode == "loupe"
    qtbot.waitUntil(lambda: window.loupe.exif is not None and window.loupe.canvas.image is not None, timeout=10_000)
    return window, window.loupe.canvas


def test_z_toggles_100_percent_and_the_photo_pans(qtbot, big_shoot):
    window, canvas = open_loupe(qtbot, big_shoot)
    assert canvas.is_fit and canvas.zoom_percent() < 60 and canvas.full_size.width() == 2400
    assert canvas.navigator_rect() is None and not canvas.has_full_resolution

    key(window, Qt.Key.Key_Z)
    assert canvas.zoom_percent() == pytest.approx(100)
    seen = canvas.visible_fraction()
    assert seen.width() < 0.6 and seen.center().x() == pytest.approx(0.5)
    assert canvas.navigator_rect() is not None  # the inset shows where the view is
    qtbot.waitUntil(lambda: canvas.has_full_resolution, timeout=10_000)  # decoded in the background
    assert canvas.image.width() == 2400

    key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # Shift+arrow pans …
    assert canvas.visible_fraction().center().x() > 0.5 and window.current_item().name == "DSC_0.jpg"
    key(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert canvas.visible_fraction().center().y() > 0.5
    key(window, Qt.Key.Key_Right)  # … a plain arrow steps, and the next photo is shown at 100 % too
    assert window.current_item().name == "DSC_1.jpg" and window.loupe.item.name == "DSC_1.jpg"
    assert canvas.zoom_percent() == pytest.approx(100)
    qtbot.waitUntil(lambda: canvas.has_full_resolution, timeout=10_000)

    key(window, Qt.Key.Key_Z)
    assert canvas.is_fit and canvas.visible_fraction().width() == pytest.approx(1)
    window.close()


def test_mouse_click_drag_wheel_and_navigator(qtbot, big_shoot):
    window, canvas = open_loupe(qtbot, big_shoot)
    point = QPointF(canvas.width() * 0.25, canvas.height() * 0.25)
    under = canvas._photo_point(point)
    click(canvas, point)
    assert canvas.zoom_percent() == pytest.approx(100)  # a click: 100 % …
    assert canvas._photo_point(point) == pytest.approx(under, abs=0.01)  # … around the point clicked

    centre = canvas.visible_fraction().center()
    start, end = QPointF(300, 300), QPointF(200, 250)  # drag left and up: the view moves right and down
    drag(canvas, start, end)
    moved = canvas.visible_fraction().center()
    assert moved.x() == pytest.approx(centre.x() + 100 / 2400, abs=1e-3)
    assert moved.y() == pytest.approx(centre.y() + 50 / 1600, abs=1e-3)
    assert canvas.zoom_percent() == pytest.approx(100)  # a drag is not a click

    cursor = QPointF(canvas.width() * 0.7, canvas.height() * 0.6)
    under = canvas._photo_point(cursor)
    wheel(canvas, cursor, 2)
    assert canvas.zoom_percent() == pytest.approx(100 * 1.25**2)
    assert canvas._photo_point(cursor) == pytest.approx(under, abs=0.002)  # the zoom point follows the cursor

    box = canvas.navigator_rect()
    target = QPointF(box.left() + 0.2 * box.width(), box.top() + 0.8 * box.height())
    click(canvas, target)  # a click in the navigator goes there
    there = canvas.visible_fraction()
    assert there.left() <= 0.2 + 1e-6 <= there.right() and there.top() <= 0.8 <= there.bottom() + 1e-6

    QTest.mouseDClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))  # a double-click toggles once
    assert canvas.is_fit
    window.close()


def test_ctrl_plus_zooms_the_loupe_and_the_thumbnails_in_the_grid(qtbot, big_shoot):
    window, canvas = open_loupe(qtbot, big_shoot)
    size = window.zoom_slider.value()
    window.zoom_in_action.trigger()
    window.zoom_in_action.trigger()
    assert canvas.zoom_percent() > 60 and window.zoom_slider.value() == size  # the loupe, not the grid
    window.zoom_out_action.trigger()
    window.zoom_out_action.trigger()
    window.zoom_out_action.trigger()
    assert canvas.is_fit
    key(window, Qt.Key.Key_Escape)
    assert window.view_mode == "grid"
    window.zoom_out_action.trigger()
    assert window.zoom_slider.value() == size - 1
    key(window, Qt.Key.Key_Z)  # Z in the grid: the loupe at 100 %
    assert window.view_mode == "loupe" and canvas.zoom_percent() == pytest.approx(100)
    window.close()


def test_the_info_panel_leaves_the_photo_room_at_1280x720(qtbot, big_shoot):
    window, canvas = open_loupe(qtbot, big_shoot)
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.loupe.width() <= 1280)
    panel = window.loupe.info_panel
    assert panel.width() <= window.loupe.width() // 5 + 1 and canvas.width() >= 0.79 * window.loupe.width()
    window.resize(1900, 1000)
    qtbot.waitUntil(lambda: window.loupe.width() > 1800)
    assert panel.width() == 300
    window.close()


def test_capture_time_to_the_second():
    assert format_capture_time("2024-06-01T12:00:07.482000") == "2024-06-01 12:00:07"
    assert format_capture_time("2024-06-01T12:00:07.48+02:00") == "2024-06-01 12:00:07 +02:00"
    assert format_capture_time("not a date") == "not a date"


def test_full_resolution_decodes_are_bounded():
    from PySide6.QtCore import QSize

    assert full_side(QSize(6000, 4000)) == 6000  # 24 MP: all of it
    side = full_side(QSize(20000, 10000))  # 200 MP: scaled to the bound
    assert side * side / 2 <= FULL_MAX_PIXELS and side > 9000


def test_z_from_the_grid_on_a_photo_never_opened_is_100_percent(qtbot, big_shoot):
    """Z in the grid before the photo's size is known: the thumbnail's size stood in for it, looked smaller than
    the loupe, and the "small photo" rule took it to 200 %."""
    window = scored_window(qtbot, big_shoot, (1280, 820))
    window.select_path(big_shoot / "DSC_2.jpg")
    key(window, Qt.Key.Key_Z)
    canvas = window.loupe.canvas
    assert window.view_mode == "loupe"
    qtbot.waitUntil(lambda: canvas.has_full_resolution and canvas.full_size.width() == 2400, timeout=10_000)
    assert canvas.zoom_percent() == pytest.approx(100)
    window.close()
