"""A stable order while culling: scores and capture times arriving in the background do not move photos.

With the sort on the score (or the capture date), every score that arrives would move its photo, and the photo
after the current one would change under the photographer's finger. :class:`StableProxy` *holds* the sort key a
photo had when a background change reaches it, so that change does not move it; the photographer's own changes
(a rating with the sort on the rating) still apply at once. The held changes are counted on the toolbar's
*Re-sort* action; the order catches up when the photographer asks (the action, Ctrl+R, or choosing a sort) and
by itself when scoring ends (:class:`StableOrder`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer

from .models import Column, PhotoFilterProxy, PhotoItem, PhotoTableModel

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["CAPTURE_COLUMNS", "RESULT_COLUMNS", "StableOrder", "StableProxy"]

RESULT_COLUMNS = (Column.SCORE, Column.SPREAD, Column.DETAIL, Column.STATUS)  # what a score result changes
CAPTURE_COLUMNS = (Column.CAPTURED,)


class StableProxy(PhotoFilterProxy):
    """A :class:`PhotoFilterProxy` whose rows keep their place when :meth:`hold` is called before a change."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._held: dict[str, Any] = {}  # path → the key it sorts by until the next sort

    def hold(self, paths: Iterable[str], columns: Iterable[int]) -> None:
        """Keep the photos at ``paths`` where they are through the coming change of ``columns``."""
        column = self.sortColumn()
        model = self.sourceModel()
        if column < 0 or column not in set(columns) or not isinstance(model, PhotoTableModel):
            return
        for path in paths:
            if path not in self._held:
                item = model.item_for(path)
                if item is not None:
                    self._held[path] = super().sort_key(item, column)

    def sort_key(self, item: PhotoItem, column: int) -> Any:
        if column == self.sortColumn() and item.path in self._held:
            return self._held[item.path]
        return super().sort_key(item, column)

    def pending(self) -> int:
        """How many photos would move at a re-sort (their held key is no longer theirs)."""
        model, column = self.sourceModel(), self.sortColumn()
        if not self._held or not isinstance(model, PhotoTableModel) or column < 0:
            return 0
        count = 0
        for path, key in self._held.items():
            item = model.item_for(path)
            if item is not None and super().sort_key(item, column) != key:
                count += 1
        return count

    def resort(self) -> None:
        """Let go of every held key and sort again (the current and selected photos stay current and selected)."""
        self._held.clear()
        self.invalidate()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """A sort chosen (the sort box, a header click) lets go of what was held, as :meth:`resort` does."""
        held = bool(self._held)
        self._held.clear()
        super().sort(column, order)
        if held:  # Qt skips a sort by the column and order it already has
            self.invalidate()

    def forget(self) -> None:
        """A new folder: nothing is held."""
        self._held.clear()


class StableOrder(QObject):
    """Wires :class:`StableProxy` into the window: holds before the window applies scores and capture times
    (connected before the window's own slots, so Qt calls it first), counts the held changes on the *Re-sort*
    action, re-sorts when scoring ends. The window keeps it as ``window.order`` (the action's handler)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.proxy: StableProxy = window.proxy
        self.action = window.action_map["resort"]
        self.action.setEnabled(False)
        worker = window.scoring.worker
        worker.results.connect(self._before_results)
        window.model.modelReset.connect(self._forget)  # a new folder: nothing held from the one before
        window.metadata.capture_times.connect(self._before_capture_times)
        window.scoring_finished.connect(lambda _summary: self.resort())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.update_action)

    def _before_results(self, generation: int, results: list[tuple]) -> None:
        if generation == self.window.generation:
            self.proxy.hold((r[0] for r in results), RESULT_COLUMNS)
            self._timer.start()

    def _before_capture_times(self, generation: int, found: dict[str, str]) -> None:
        if generation == self.window.generation:
            self.proxy.hold(found, CAPTURE_COLUMNS)
            self._timer.start()

    def _forget(self) -> None:
        self.proxy.forget()
        self.update_action()

    def resort(self) -> None:
        """Sort again now (Re-sort, Ctrl+R; by itself when scoring ends); the current photo stays in sight."""
        moved = self.proxy.pending()
        self.proxy.resort()
        self.update_action()
        if moved:
            self.window.views.keep_current_visible()

    def update_action(self) -> None:
        pending = self.proxy.pending()
        self.action.setEnabled(pending > 0)
        self.action.setText(f"&Re-sort ({pending:,})" if pending else "&Re-sort")
        tip = (
            f"{pending:,} photo{'s' * (pending != 1)} would move with their new scores or capture times; the order"
            " holds still while you cull (it catches up by itself when scoring ends)"
            if pending
            else "The order is up to date"
        )
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)
