"""Compare (C) and survey (N): several photos side by side, to pick the best frame of a burst.

- **Compare**: two photos, the current one and the next selected (or the next in the view), with their zoom and
  pan synchronised: Z, a click, the wheel or a drag on either shows the same part of both at the same scale.
  Left/Right replace the photo in the focused pane with the previous/next photo of the view.
- **Survey**: the selection, 2 to 8 photos, fitted in a grid; the arrow keys move the focus between them.

In both, Tab (Shift+Tab) moves the focus to the next (previous) pane, and ratings, flags and labels (the culling
keys) apply to the photo under focus: :class:`.views.PhotoViews` makes it the current photo without touching
the selection. Return shows it in the loupe, Escape (or C / N again) goes back to the grid or the table.
Images: the grid's thumbnail at once, then a decode at the pane's size, then the full resolution when zoomed
in (:class:`.decoder.Decoder`, in the background).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from .decoder import FULL, Decoder
from .items import NOISE_TEXT
from .loaders import ThumbnailLoader
from .loupe import PREVIEW_MAX_SIDE, pan_keys
from .models import FLAG_TEXT, LABEL_COLOURS, PhotoItem, format_score, stars
from .quality_map import QualityMap
from .zoom_canvas import ZoomCanvas

__all__ = ["SURVEY_MAX", "CompareView", "Pane"]

SURVEY_MAX = 8
FOCUS_COLOUR = "#3e8ee0"

Neighbour = Callable[[PhotoItem, int, Sequence[PhotoItem]], "PhotoItem | None"]


def caption(item: PhotoItem) -> str:
    """One line under a pane: name, score, stars, flag and label."""
    esc = html.escape
    parts = [f"<b>{esc(item.name)}</b>", esc(format_score(item))]
    if item.rating:
        parts.append(f"<span style='color:#f2c94c'>{stars(item.rating)}</span>")
    if item.flag:
        colour = "#46a758" if item.flag == "pick" else "#e5484d"
        parts.append(f"<span style='color:{colour}'>{FLAG_TEXT[item.flag]}</span>")
    if item.label:
        colour = LABEL_COLOURS.get(item.label.casefold())
        parts.append(f"<span style='color:{colour}'>●</span>" if colour else esc(item.label))
    if item.burst is not None:
        rank = f" #{item.burst_rank}" if item.burst_rank is not None else ""
        noise = f" <span style='color:#e0a040'>({NOISE_TEXT})</span>" if item.burst_tie else ""
        parts.append(f"burst {item.burst}{rank}{noise}")
    return " · ".join(parts)


class Pane(QFrame):
    """One photo of the compare or survey view: a zoom canvas and its caption; a coloured frame when focused."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("comparePane")
        self.item: PhotoItem | None = None
        self.canvas = ZoomCanvas(self)
        self.canvas.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.caption = QLabel(self)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(2)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        self.set_focused(False)

    def set_focused(self, focused: bool) -> None:
        self.focused = focused
        colour = FOCUS_COLOUR if focused else "transparent"
        self.setStyleSheet(f"#comparePane {{ border: 2px solid {colour}; border-radius: 3px; }}")

    def refresh(self) -> None:
        self.caption.setText(caption(self.item) if self.item is not None else "")
        self.canvas.update()  # the quality map follows the photo's crops


class CompareView(QWidget):
    """The compare or the survey view (``kind``) over photos handed to :meth:`show_items`."""

    close_requested = Signal()
    focus_changed = Signal(object)  # the PhotoItem under focus

    def __init__(
        self,
        thumbnails: ThumbnailLoader,
        decoder: Decoder,
        neighbour: Neighbour,
        parent: QWidget | None = None,
        *,
        quality_map: QualityMap | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("compare")
        self.quality_map = quality_map  # M: the detail crops over every pane
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.thumbnails, self.decoder, self.neighbour = thumbnails, decoder, neighbour
        self.kind = "compare"
        self.panes: list[Pane] = []
        self.focus_index = 0
        self._syncing = False
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setSpacing(4)

    # -- content --------------------------------------------------------------------------------------------
    @property
    def items(self) -> list[PhotoItem]:
        return [pane.item for pane in self.panes if pane.item is not None]

    @property
    def focused_item(self) -> PhotoItem | None:
        return self.panes[self.focus_index].item if self.panes else None

    @property
    def focused_pane(self) -> Pane | None:
        return self.panes[self.focus_index] if self.panes else None

    def show_items(self, kind: str, items: Sequence[PhotoItem]) -> None:
        """Compare (two photos) or survey (2–:data:`SURVEY_MAX`) ``items``; the first has the focus."""
        if kind not in ("compare", "survey"):
            raise ValueError(f"unknown view {kind!r}")
        self.kind = kind
        items = list(items)[: 2 if kind == "compare" else SURVEY_MAX]
        self._build_panes(len(items))
        for pane, item in zip(self.panes, items, strict=True):
            self._show(pane, item)
        self.decoder.want(it.path for it in items)
        self.set_focus_index(0)

    def _build_panes(self, count: int) -> None:
        for pane in self.panes:
            self._layout.removeWidget(pane)
            pane.deleteLater()
        self.panes = []
        columns = 2 if self.kind == "compare" else max(1, math.ceil(math.sqrt(count)))
        for i in range(count):
            pane = Pane(self)
            if self.quality_map is not None:
                self.quality_map.attach(pane.canvas, lambda p=pane: p.item)
            pane.canvas.view_changed.connect(lambda p=pane: self._sync_from(p))
            pane.canvas.full_wanted.connect(lambda p=pane: self._ask_full(p))
            self._layout.addWidget(pane, i // columns, i % columns)
            self.panes.append(pane)
        for c in range(4):
            self._layout.setColumnStretch(c, 1 if c < columns else 0)

    def _show(self, pane: Pane, item: PhotoItem) -> None:
        keep = None if pane.item is None or pane.canvas.is_fit else pane.canvas.view_state()
        pane.item = item
        thumbnail = self.thumbnails.get(item)
        pane.canvas.set_image(thumbnail, "" if thumbnail is not None else "Loading…")
        if keep is not None:
            pane.canvas.set_view_state(keep)
        pane.refresh()
        self._ask_preview(pane)

    def _ask_preview(self, pane: Pane) -> None:
        if pane.item is None:
            return
        ratio = self.devicePixelRatioF()
        side = max(pane.canvas.width(), pane.canvas.height(), 400) * ratio
        self.decoder.request(pane.item.path, int(min(PREVIEW_MAX_SIDE, side)))

    def _ask_full(self, pane: Pane) -> None:
        if pane.item is not None:
            self.decoder.request(pane.item.path, FULL, pane.canvas.full_size)

    def set_decoded(self, path: str, side: int, image: QImage | None, error: str | None, size: QSize) -> None:
        """A decode arrived: a better image of every pane that shows ``path``."""
        for pane in self.panes:
            if pane.item is None or pane.item.path != path:
                continue
            if image is not None:
                pane.canvas.upgrade_image(image, full_size=size, full=side == FULL)
            elif error and pane.canvas.image is None:
                pane.canvas.set_text(f"Cannot show this photo: {error}")

    def show_thumbnail(self, path: str) -> None:
        """A grid thumbnail arrived: shown in a pane still waiting for its first image."""
        for pane in self.panes:
            if pane.item is not None and pane.item.path == path and pane.canvas.image is None:
                pane.canvas.upgrade_image(self.thumbnails.get(pane.item))

    def refresh(self) -> None:
        """Re-read the captions (a rating, flag or label changed)."""
        for pane in self.panes:
            pane.refresh()

    # -- focus and synchronised view ------------------------------------------------------------------------
    def set_focus_index(self, index: int) -> None:
        if not self.panes:
            return
        self.focus_index = index % len(self.panes)
        for i, pane in enumerate(self.panes):
            pane.set_focused(i == self.focus_index)
        self.focus_changed.emit(self.focused_item)

    def _sync_from(self, source: Pane) -> None:
        """Compare: the other pane shows the same part at the same scale (the photos' own sizes may differ)."""
        if self._syncing or self.kind != "compare":
            return
        self._syncing = True
        try:
            state = source.canvas.view_state()
            for pane in self.panes:
                if pane is not source:
                    pane.canvas.set_view_state(state)
        finally:
            self._syncing = False

    def toggle_zoom(self) -> None:
        pane = self.focused_pane
        if pane is not None:
            pane.canvas.toggle_zoom()

    def zoom_step(self, steps: int) -> None:
        pane = self.focused_pane
        if pane is not None:
            pane.canvas.zoom_step(steps)

    # -- keys -----------------------------------------------------------------------------------------------
    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab and Shift+Tab move between the panes instead of leaving the view."""
        if self.panes:
            self.set_focus_index(self.focus_index + (1 if next else -1))
            return True
        return super().focusNextPrevChild(next)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        pane = self.focused_pane
        if pane is not None and pan_keys(pane.canvas, event):
            return
        if key == Qt.Key.Key_Escape:
            self.close_requested.emit()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down) and self.panes:
            self._arrow(key)
        else:
            super().keyPressEvent(event)

    def _arrow(self, key: Qt.Key) -> None:
        forward = key in (Qt.Key.Key_Right, Qt.Key.Key_Down)
        if self.kind == "survey":
            columns = max(1, math.ceil(math.sqrt(len(self.panes))))
            step = columns if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) else 1
            target = self.focus_index + (step if forward else -step)
            if 0 <= target < len(self.panes):
                self.set_focus_index(target)
            return
        pane = self.focused_pane
        others = [p.item for p in self.panes if p is not pane and p.item is not None]
        replacement = self.neighbour(pane.item, 1 if forward else -1, others) if pane.item else None
        if replacement is not None:
            self._show(pane, replacement)  # with the view the pair shares
            self.decoder.want(it.path for it in self.items)
            self.focus_changed.emit(replacement)
