"""Folders and photos dropped on the window open as File ▸ Open Folder… would open them."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QWidget

from loda_desktop.scan import is_supported

__all__ = ["FolderDrops", "dropped_paths"]


def dropped_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
    """The local folders and supported photos a drag carries (nothing else is accepted)."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return []
    paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    return [p for p in paths if os.path.isdir(p) or (os.path.isfile(p) and is_supported(p))]


class FolderDrops(QObject):
    """An event filter on ``window`` (which accepts drops): a drag of folders or photos is accepted, and
    dropping it calls ``open_paths`` with their paths. A drop anywhere on the window's children travels up to it."""

    def __init__(self, window: QWidget, open_paths: Callable[[list[str]], object]) -> None:
        super().__init__(window)
        self._open_paths = open_paths
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return super().eventFilter(watched, event)
        paths = dropped_paths(event)
        if not paths:
            event.ignore()
            return True
        event.acceptProposedAction()
        if kind == QEvent.Type.Drop:
            self._open_paths(paths)
        return True
