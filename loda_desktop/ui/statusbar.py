"""The status bar's permanent widgets: the fine-tune in progress, the scoring progress with Pause and Cancel, the
photo counts and the model in use (messages still go to the window's ``statusBar()``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from .models import PhotoItem
from .workers import Progress

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["COUNTS_GAP", "StatusPanel", "count_text"]

COUNTS_GAP = 10  # pixels between the rule before the counts and their text


def crops_text(settings: Settings) -> str:
    """ "5 crops + 4 at 100 %" (the global view's crops and the detail crops), or "5 crops" without detail crops."""
    detail = f" + {settings.detail_crops} at 100 %" if settings.detail_crops else ""
    return f"{settings.crops} crops{detail}"


def count_text(items: Sequence[PhotoItem], shown: int) -> str:
    """ "120 photos · 80 shown · 12 picked · 30 rejected · 1 unreadable" (empty without photos)."""
    total = len(items)
    picks = sum(1 for it in items if it.flag == "pick")
    rejects = sum(1 for it in items if it.flag == "reject")
    failed = sum(1 for it in items if it.status == "error")
    parts = [f"{total:,} photos"]
    if shown != total:
        parts.append(f"{shown:,} shown")
    if picks:
        parts.append(f"{picks:,} picked")
    if rejects:
        parts.append(f"{rejects:,} rejected")
    if failed:
        parts.append(f"{failed:,} unreadable")
    return " · ".join(parts) if total else ""


def _action_button(name: str, action: QAction, text: str) -> QToolButton:
    button = QToolButton()
    button.setObjectName(name)
    button.setDefaultAction(action)
    button.setText(text)  # shorter than the action's menu text
    return button


class StatusPanel(QObject):
    """Puts its widgets into ``status``; the progress widgets show only while a folder is being scored."""

    def __init__(self, status: QStatusBar, pause_action: QAction, cancel_action: QAction) -> None:
        super().__init__(status)
        self.pause_action, self.cancel_action = pause_action, cancel_action
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        # a rule and a gap before the counts: a long message is cut there instead of running into "146 photos"
        self.count_label.setStyleSheet(
            f"#countLabel {{ border-left: 1px solid palette(mid); padding-left: {COUNTS_GAP}px; margin-left: 6px; }}"
        )
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progressLabel")
        self.pause_button = _action_button("pauseButton", pause_action, "Pause")
        self.cancel_button = _action_button("cancelButton", cancel_action, "Cancel")
        self.model_label = QLabel()
        self.model_label.setObjectName("modelLabel")
        self.finetune_button = QToolButton()
        self.finetune_button.setObjectName("finetuneButton")
        self.finetune_button.setAutoRaise(True)
        self.finetune_button.setToolTip("Show the fine-tuning: progress, live plot, Cancel, Accept or Discard")
        self.finetune_button.hide()
        status.addPermanentWidget(self.finetune_button)
        for widget in (self.progress_label, self.progress_bar, self.pause_button, self.cancel_button):
            status.addPermanentWidget(widget)
        status.addPermanentWidget(self.count_label)
        status.addPermanentWidget(self.model_label)
        self._progress_shown: bool | None = None
        self.show_progress_widgets(False)

    def show_progress(self, progress: Progress) -> None:
        phase = progress.phase
        busy = phase not in ("done", "cancelled")
        self.show_progress_widgets(busy)
        if not busy:
            return
        bar = self.progress_bar
        if phase in ("scanning", "loading model", "bursts") or progress.total == 0:
            bar.setRange(0, 0)  # busy indicator
        else:
            bar.setRange(0, progress.total)
            bar.setValue(progress.done)
        label = {
            "scanning": "Scanning…",
            "loading": f"Reading the catalog… {progress.total:,} photos",
            "loading model": "Loading the model…",
            "bursts": "Grouping bursts…",
            "paused": "Paused · " + progress.describe(),
        }.get(phase, progress.describe())
        self.progress_label.setText(label)

    def show_progress_widgets(self, visible: bool) -> None:
        if self._progress_shown == visible:
            return
        self._progress_shown = visible
        for widget in (self.progress_bar, self.progress_label, self.pause_button, self.cancel_button):
            widget.setVisible(visible)
        self.pause_action.setEnabled(visible)
        self.cancel_action.setEnabled(visible)

    def show_paused(self, paused: bool) -> None:
        self.pause_action.setText("&Resume Scoring" if paused else "&Pause Scoring")
        self.pause_button.setText("Resume" if paused else "Pause")

    def show_finetune(self, text: str) -> None:
        """The fine-tune's progress in a word or two (a click shows the dialog); hidden when empty."""
        self.finetune_button.setText(text)
        self.finetune_button.setVisible(bool(text))
