"""Compare (C) and survey (N) through the real window: synchronised zoom and pan, the culling keys on the frame
under focus, Tab and the arrows between frames, Escape back to the grid."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, QPointF, Qt

from loda_desktop.catalog import Catalog

from .test_window import key
from .zoom_helpers import drag, make_big_shoot, scored_window, wheel


@pytest.fixture
def big_shoot(tmp_path):
    return make_big_shoot(tmp_path)


def select_rows(window, rows):
    window._set_current_proxy_row(rows[0])
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in rows[1:]:
        window.selection.select(window.proxy.index(row, 0), flags)


def test_c_opens_compare_with_synchronised_zoom_and_pan(qtbot, big_shoot):
    window = scored_window(qtbot, big_shoot)
    select_rows(window, [0, 2])
    key(window, Qt.Key.Key_C)
    compare = window.views.compare
    assert window.view_mode == "compare" and window.compare_action.isChecked()
    assert [it.name for it in compare.items] == ["DSC_0.jpg", "DSC_2.jpg"]  # the current and the next selected
    left, right = (pane.canvas for pane in compare.panes)
    qtbot.waitUntil(lambda: left.image is not None and right.image is not None, timeout=10_000)
    qtbot.waitUntil(lambda: left.full_size.width() == 2400 and right.full_size.width() == 2400, timeout=10_000)

    key(window, Qt.Key.Key_Z)  # the focused pane goes to 100 %, and the other one with it
    assert left.zoom_percent() == pytest.approx(100) and right.zoom_percent() == pytest.approx(100)
    key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # pan one, both follow
    assert left.visible_fraction().center().x() > 0.5
    assert right.view_state() == left.view_state()
    cursor = QPointF(right.width() * 0.3, right.height() * 0.3)
    wheel(right, cursor, 1)  # the wheel on the other pane: the first follows
    assert left.zoom_percent() == pytest.approx(125) and left.view_state() == right.view_state()
    drag(right, QPointF(200, 200), QPointF(150, 180))  # a drag on either: both
    assert left.view_state() == right.view_state()
    qtbot.waitUntil(lambda: left.has_full_resolution and right.has_full_resolution, timeout=10_000)

    # the culling keys act on the frame under focus; Tab moves the focus; the frames stay
    first, second = compare.items
    key(window, Qt.Key.Key_3)
    assert first.rating == 3 and second.rating == 0
    key(window, Qt.Key.Key_Tab)
    assert compare.focused_item is second and window.current_item() is second
    key(window, Qt.Key.Key_X)
    assert second.flag == "reject" and first.flag is None and window.view_mode == "compare"
    assert compare.items == [first, second] and "Reject" in compare.panes[1].caption.text()
    with Catalog() as cat:
        assert cat.get(second.path)[0].flag == "reject"
    key(window, Qt.Key.Key_Left)  # the focused pane steps to the previous photo of the view, skipping the other
    assert compare.items[1].name == "DSC_1.jpg" and compare.items[0] is first
    assert compare.panes[1].canvas.zoom_percent() == pytest.approx(125)  # with the view the pair shares

    key(window, Qt.Key.Key_Escape)
    assert window.view_mode == "grid"
    assert {it.name for it in window.views.selected_items()} == {"DSC_0.jpg", "DSC_2.jpg"}  # selection kept
    window.close()


def test_n_surveys_the_selection(qtbot, shoot):
    window = scored_window(qtbot, shoot)
    key(window, Qt.Key.Key_N)  # one photo selected: nothing to survey
    assert window.view_mode == "grid" and "Survey shows 2 to 8" in window.statusBar().currentMessage()
    assert window.grid_action.isChecked()
    select_rows(window, [0, 2, 3, 4])
    key(window, Qt.Key.Key_N)
    compare = window.views.compare
    assert window.view_mode == "survey" and len(compare.panes) == 4
    names = [it.name for it in compare.items]
    key(window, Qt.Key.Key_Right)  # the arrows move the focus between frames
    assert compare.focused_item.name == names[1]
    key(window, Qt.Key.Key_Down)  # two columns: down is two frames on
    assert compare.focused_item.name == names[3]
    key(window, Qt.Key.Key_P)
    picked = [it.name for it in window.model.items if it.flag == "pick"]
    assert picked == [names[3]] and window.view_mode == "survey"
    key(window, Qt.Key.Key_Return)  # the focused frame in the loupe
    assert window.view_mode == "loupe" and window.loupe.item.name == names[3]
    key(window, Qt.Key.Key_Escape)
    assert window.view_mode == "grid"
    window.close()
