"""Window tests: offscreen, small crop counts, and a check that no test leaves a window or a thread behind."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from loda_desktop.settings import Settings
from loda_desktop.ui import workers
from tests.app.badfiles import photo

SCORE_TIMEOUT_MS = 60_000


def fast_settings(**kw) -> Settings:
    return Settings(crops=kw.pop("crops", 2), batch_size=kw.pop("batch_size", 8), **kw)


@pytest.fixture(autouse=True)
def no_leftovers(qapp):
    """Fail a test that leaves a top-level widget or a worker thread behind (after pytest-qt closed its own)."""
    yield
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        qapp.processEvents()
    widgets = [w for w in QApplication.topLevelWidgets() if w.objectName() != "qt_scrollarea_viewport"]
    names = [f"{type(w).__name__}({w.objectName()!r}, visible={w.isVisible()})" for w in widgets]
    for w in widgets:  # clean up so one leak does not fail every following test
        w.close()
        w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not names, f"top-level widgets left behind: {names}"
    assert not workers.live_threads(), f"threads left running: {workers.live_threads()}"


@pytest.fixture
def shoot(tmp_path):
    """Six small photos (names sort differently from their scores) and one unreadable file."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    (folder / "day2").mkdir()
    names = ["IMG_1.jpg", "IMG_2.jpg", "IMG_10.jpg", "beach.png", "day2/IMG_3.jpg", "day2/sunset.webp"]
    for seed, name in enumerate(names):
        photo(folder / name, size=(480, 320), seed=seed + 10, **({"quality": 90} if name.endswith(".jpg") else {}))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def drop(window, paths) -> None:
    """A drag-and-drop of local files onto the middle of ``window``: the enter and drop events go to the
    widget under that point (the grid, or the empty-folder hint) and travel up to the one that accepts them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = window.rect().center()
    widget = window.childAt(centre) or window
    point = widget.mapFrom(window, centre)
    pos = QPointF(point)
    enter = QDragEnterEvent(
        point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the window refused the drag"
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    assert event.isAccepted(), "the window refused the drop"
