"""Bursts in the window: stacks (S), keeping the best frame of a burst (B), and a tie said in words.

The bursts themselves are grouped and ranked by :mod:`loda_desktop.bursts` in the scoring thread when a run ends
(:mod:`.workers`), which then sends every photo's detail and burst fields (``ScoringWorker.details``); a folder
opened again shows them from the catalog at once.

- **Stacks** (View ▸ Burst Stacks, S): the grid and the table show each burst as its best ranked frame, with a
  pill counting the frames ("×5"); off, every frame is shown, with its rank ("2/5"), and the loupe and the
  compare view step through them as through any photo. The choice is kept in ``window.ini``.
- **Keep the best** (Photo ▸ Keep Best of Burst, B): on the current photo's burst, the best frame is picked and
  the others rejected, as ONE undoable edit (:meth:`~loda_desktop.culling.Culling.set_flags`: one Ctrl+Z gives
  every frame its flag back).
- **Within noise**: when the best frame of a burst is within noise of the second (``burst_tie``), the window does
  not pretend a winner: the pill and the Burst column say "frames within noise", and so does the status bar on
  reaching such a burst and after B on it (which is still allowed: the photographer decides).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject

from loda_desktop.catalog import path_key
from loda_desktop.text import plural

from .items import NOISE_TEXT, PhotoItem

if TYPE_CHECKING:
    from loda_desktop.catalog import EditRecord

    from .main_window import MainWindow

log = logging.getLogger(__name__)

__all__ = ["BurstStacks"]


class BurstStacks(QObject):
    """The window's burst commands (``window.bursts``: the handlers of the S and B actions)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.model, self.proxy, self.views = window.model, window.proxy, window.views
        self.action = window.action_map["stacks"]
        self._said: int | None = None  # the burst whose tie the status bar said last (said once per visit)
        self.note = ""  # what grouping the bursts found at the end of the last run
        window.scoring.worker.details.connect(self._on_details)
        window.selection.currentChanged.connect(self._on_current)
        window.scoring_finished.connect(self._on_finished)
        self.model.rowsRemoved.connect(self._refilter)  # a stack's best frame moved away: the next one shows
        if window.prefs.value("view/stacks", False, type=bool):
            self.action.setChecked(True)
            self._apply(True)

    def _say(self, message: str, timeout_ms: int = 10000) -> None:
        self.window.statusBar().showMessage(message, timeout_ms)

    # -- stacks -----------------------------------------------------------------------------------------------
    @property
    def stacked(self) -> bool:
        return self.proxy.stacks

    def _apply(self, stacked: bool) -> None:
        self.proxy.set_stacks(stacked)
        self.views.grid_delegate.stacked = stacked
        self.views.grid.viewport().update()

    def toggle_stacks(self, stacked: bool) -> None:
        """S: each burst as its best frame (with the frame count), or every frame. The current photo stays
        current, or its stack does."""
        current = self.window.current_item()
        self.action.setChecked(stacked)
        self._apply(stacked)
        self.window.prefs.setValue("view/stacks", stacked)
        if current is not None:
            frames = self.model.bursts().get(current.burst, []) if current.burst is not None else []
            target = frames[0] if stacked and frames else current
            if not self.views.select_path(target.path) and self.proxy.rowCount():
                self.views.set_current_proxy_row(0)
        self._say(self.describe())

    def describe(self) -> str:
        """The status line after S: how many bursts, how many frames, how many within noise."""
        bursts = self.model.bursts()
        if not bursts:
            return "No bursts among these photos (they are grouped when a folder has been scored)."
        frames = sum(len(f) for f in bursts.values())
        ties = sum(1 for f in bursts.values() if any(it.burst_tie for it in f))
        noise = f"; {ties} with {NOISE_TEXT}" if ties else ""
        if self.stacked:
            return f"Burst stacks: {plural(len(bursts), 'burst')} of {frames} frames, each shown as its best{noise}."
        return f"Every frame shown: {plural(len(bursts), 'burst')} of {frames} frames{noise}."

    def _refilter(self, *_: Any) -> None:
        if self.stacked:
            self.proxy.refilter()

    # -- the best frame ---------------------------------------------------------------------------------------
    def keep_best(self) -> EditRecord | None:
        """B: pick the best frame of the current photo's burst and reject the others, as one undoable edit."""
        item = self.window.current_item()
        if item is None:
            return None
        frames = self.model.bursts().get(item.burst, []) if item.burst is not None else []
        if len(frames) < 2:
            self._say(f"{item.name} is not in a burst.", 8000)
            return None
        tie = any(f.burst_tie for f in frames)
        try:
            edit, keep = self._keep_best(item, frames)
        except (sqlite3.Error, ValueError) as exc:
            self._say(f"Could not save the flags: {exc}", 15000)
            return None
        if edit is not None:
            self.model.set_fields("flag", {path: after for path, (_, after) in edit.changes.items()})
            self.window.photo_commands.update_undo_text()
        problems = self.window.culling.sidecar_problems
        self.views.select_path(keep)
        self.views.refresh_loupe()
        self._say(
            self._kept_text(edit, keep, frames, tie)
            + (f" XMP sidecar not written: {problems[0][1]}" if problems else ""),
            20000,
        )
        return edit

    def _keep_best(self, item: PhotoItem, frames: list[PhotoItem]) -> tuple[EditRecord | None, str]:
        """The edit, through :func:`loda_desktop.bursts.keep_best_of_burst` (the catalog's ranks under the model
        in use), or from the window's own frames when no model is loaded (the ranks the listing read)."""
        culling, info = self.window.culling, self.window.engine_info
        if info is not None:
            from loda_desktop.bursts import best_of_burst, keep_best_of_burst

            keep, _ = best_of_burst(culling.catalog, item.path, info.model_key)
            if keep:
                return keep_best_of_burst(culling, item.path, info.model_key), path_key(keep[0])
        best = frames[0]
        values = {best.path: "pick", **{f.path: "reject" for f in frames[1:]}}
        return culling.set_flags(values, f"best of burst: keep 1, reject {len(frames) - 1}"), best.path

    @staticmethod
    def _kept_text(edit: EditRecord | None, keep: str, frames: list[PhotoItem], tie: bool) -> str:
        """The status line after B; a tie comes first, where a cut-off line still shows it."""
        name = next((f.name for f in frames if f.path == keep), keep)
        others = plural(len(frames) - 1, "frame")
        if edit is None:
            text = f"{name} is already kept as the best of its burst, the other {others} rejected."
            return f"{text} ({NOISE_TEXT}: none is clearly the best)" if tie else text
        if tie:
            return (
                f"{NOISE_TEXT.capitalize()}: kept {name} though none of the {len(frames)} is clearly the best, rejected"
                f" the other {others} (Ctrl+Z undoes; C compares them)."
            )
        return f"Kept {name}, rejected the other {others} (Ctrl+Z undoes)."

    # -- what the scoring thread sends --------------------------------------------------------------------------
    def _on_details(self, generation: int, values: dict[str, dict[str, Any]], note: str) -> None:
        window = self.window
        if generation != window.generation or window._closed:
            return
        if self.model.set_details(values):
            self._refilter()
        if note:
            self.note = note

    def _on_finished(self, summary: Any) -> None:
        """After the scoring summary: what grouping found ("3 bursts of 2–5 frames; 1 within noise")."""
        note, self.note = self.note, ""
        if note and not getattr(summary, "save_problem", ""):
            text = self.window.statusBar().currentMessage()
            hint = " (S stacks them, B keeps the best)" if self.model.bursts() else ""
            self._say(f"{text} {note}{hint}".strip(), 30000)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        """Reaching a burst whose best frame is no clear winner: the status bar says so (once per visit)."""
        item = self.window.current_item() if current.isValid() else None
        burst = item.burst if item is not None else None
        if burst == self._said:
            return
        self._said = burst
        info = self.model.burst_info(item) if item is not None else None
        if info is not None and info.tie:
            self._say(f"Burst of {info.frames}: {NOISE_TEXT} (no clear best frame; compare them with C).", 8000)
