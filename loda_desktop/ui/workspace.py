"""The culling workspace's parts that the window composes in one line: the stable order and its Re-sort action
(:mod:`.order`), File ▸ Open Recent (:mod:`.recent`), the previous scores kept through a re-score
(:mod:`.carry_over`), burst stacks and the best-of-burst key (:mod:`.bursts`), Ctrl+/Ctrl− going to the loupe or
to the thumbnails, and the views' notes in the status bar."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from .bursts import BurstStacks
from .carry_over import ScoreCarryOver
from .order import StableOrder, StableProxy
from .recent import RecentFolders

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["StableProxy", "Workspace"]


class Workspace(QObject):
    """Built by the window after its views, actions, menus, toolbar and status bar, before it connects its own
    slots (the order holds a change before the window applies it: Qt calls slots in the order connected)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.order = StableOrder(window)
        window.order = self.order  # the Re-sort action's handler ("order.resort")
        self.recent = RecentFolders(window)
        self.carry_over = ScoreCarryOver(window)
        self.bursts = BurstStacks(window)
        window.bursts = self.bursts  # the S and B actions' handlers ("bursts.toggle_stacks", "bursts.keep_best")
        window.views.thumbnail_zoom.connect(window.toolbar.zoom)
        window.views.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
