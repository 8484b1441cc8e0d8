"""Re-scoring the open folder with another model (Settings, a fine-tune accepted) keeps each photo's previous
score on screen until the new one replaces it, so a Cancel half-way leaves every photo with a score, not most of
them with none. The previous scores are taken as the window clears its model, given back to the photos the
listing brings again without a score (the same file: its size and modification time unchanged), and the status
bar says how many still have the previous model's score when the re-scoring stops early."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["ScoreCarryOver"]


class ScoreCarryOver(QObject):
    """Connected before the window's own slots (see :class:`.workspace.Workspace`)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._previous: dict[str, tuple] = {}  # path → ((size, mtime), (score, spread, status, error, model))
        self.kept: set[str] = set()  # photos showing a previous score now
        window.model.modelAboutToBeReset.connect(self._remember)
        window.scoring.worker.photos_found.connect(self._give_back)
        window.scoring.worker.results.connect(self._replaced)
        window.scoring_finished.connect(self._finished)

    def _remember(self) -> None:
        info = self.window.engine_info
        model = info.model_key if info else None
        self._previous = {
            it.path: ((it.size, it.mtime_ns), (it.score, it.spread, it.status, it.error, it.score_model or model))
            for it in self.window.model.items
            if it.status == "ok"
        }
        self.kept = set()

    def _give_back(self, generation: int, items: list) -> None:
        if generation != self.window.generation or not self._previous:
            return
        for item in items:
            identity, previous = self._previous.get(item.path, (None, None))
            if item.status == "pending" and identity == (item.size, item.mtime_ns):  # not a file changed since
                item.score, item.spread, item.status, item.error, item.score_model = previous
                self.kept.add(item.path)

    def _replaced(self, generation: int, results: list[tuple]) -> None:
        if generation == self.window.generation:
            self.kept.difference_update(r[0] for r in results)

    def _finished(self, summary: object) -> None:
        if self.kept and getattr(summary, "cancelled", False):
            n = len(self.kept)
            self.window.statusBar().showMessage(
                f"Cancelled: {n:,} photo{'s' * (n != 1)} keep the previous model's score until re-scored.", 30000
            )
        self._previous = {}
