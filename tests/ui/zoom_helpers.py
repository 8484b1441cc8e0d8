"""Helpers of the loupe and compare tests: photos larger than the loupe, mouse and wheel events."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from ..app.badfiles import photo

PRESS, MOVE, RELEASE = (
    QMouseEvent.Type.MouseButtonPress,
    QMouseEvent.Type.MouseMove,
    QMouseEvent.Type.MouseButtonRelease,
)


def scored_window(qtbot, folder, size=(1400, 860)):
    """A window of ``size`` that has scored ``folder``, sorted by name."""
    from .conftest import SCORE_TIMEOUT_MS, drop
    from .test_window import open_window

    window = open_window(qtbot)
    window.resize(*size)
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS):
        drop(window, [folder])
    window.sort_by("Name")
    return window


def make_big_shoot(tmp_path):
    """Three photos larger than the loupe (2400 × 1600), so 100 % shows a part of each."""
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(3):
        photo(folder / f"DSC_{i}.jpg", size=(2400, 1600), seed=40 + i, quality=90)
    return folder


def mouse(widget, kind, pos: QPointF, *, up: bool = False) -> None:
    """A left-button press, move (button held) or release (``up``: no button held any more)."""
    buttons = Qt.MouseButton.NoButton if up or kind == RELEASE else Qt.MouseButton.LeftButton
    button = Qt.MouseButton.NoButton if kind == MOVE else Qt.MouseButton.LeftButton
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def click(widget, pos: QPointF) -> None:
    mouse(widget, PRESS, pos)
    mouse(widget, RELEASE, pos)


def drag(widget, start: QPointF, end: QPointF) -> None:
    mouse(widget, PRESS, start)
    mouse(widget, MOVE, (start + end) / 2)
    mouse(widget, MOVE, end)
    mouse(widget, RELEASE, end)


def wheel(widget, pos: QPointF, notches: int) -> None:
    event = QWheelEvent(
        pos,
        widget.mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)
