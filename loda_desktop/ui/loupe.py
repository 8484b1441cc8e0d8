"""The loupe: one photo large, with its score, crop spread, culling state and EXIF basics, to check focus at 100 %.

The picture is decoded off the UI thread (:meth:`ThumbnailLoader.request_preview`); until it arrives the grid
thumbnail is shown scaled up, so stepping through photos with the arrow keys never waits. Z, a click or a
double-click toggles fit / 100 %, the wheel and Ctrl+/Ctrl− zoom (around the cursor), a drag or Shift+arrows pan
(:class:`.zoom_canvas.ZoomCanvas`); the full-resolution decode is asked for only when the view needs it and is
made in the background (:class:`.decoder.Decoder`), the fitted preview staying on screen meanwhile.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QWidget

from loda_desktop.exif import ExifInfo

from .decoder import FULL
from .items import NOISE_TEXT, BurstInfo
from .models import FLAG_TEXT, LABEL_COLOURS, PhotoItem, stars
from .zoom_canvas import ZoomCanvas

PREVIEW_MAX_SIDE = 2048
INFO_WIDTH = (200, 300)  # the information panel: a fifth of the loupe's width, within these bounds
PAN_STEP = 0.2  # Shift+arrow pans by this fraction of the canvas

PAN_KEYS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}


def format_capture_time(iso: str) -> str:
    """``2024-06-01T12:00:00.482000+02:00`` as ``2024-06-01 12:00:00 +02:00``: to the second, as a camera shows
    it (the sub-seconds only order burst frames, they are kept in the catalog)."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso.replace("T", " ")
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    offset = when.strftime("%z")
    return f"{text} {offset[:3]}:{offset[3:]}" if offset else text


def pan_keys(canvas: ZoomCanvas, event: QKeyEvent) -> bool:
    """Shift+arrows pan a zoomed canvas (plain arrows step photos); True when the key was used."""
    direction = PAN_KEYS.get(Qt.Key(event.key()))
    if direction is None or not event.modifiers() & Qt.KeyboardModifier.ShiftModifier or canvas.is_fit:
        return False
    canvas.pan_by(direction[0] * canvas.width() * PAN_STEP, direction[1] * canvas.height() * PAN_STEP)
    return True


class LoupeView(QWidget):
    """Large preview plus an information panel. Left/Right (and Up/Down) step; Escape leaves; Shift+arrows pan.

    ``request_full(path, side, full_size)`` asks for a decode (:meth:`.decoder.Decoder.request`); its answer
    comes back through :meth:`set_decoded`. ``bursts(item)`` says where the photo stands in its burst."""

    step = Signal(int)  # -1 previous, +1 next
    close_requested = Signal()

    def __init__(
        self,
        request_preview: Callable[[str, int], None],
        parent: QWidget | None = None,
        *,
        request_full: Callable[[str, int, QSize | None], None] | None = None,
        bursts: Callable[[PhotoItem], BurstInfo | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("loupe")
        self._bursts = bursts
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._request_preview = request_preview
        self._request_full = request_full
        self.item: PhotoItem | None = None
        self.exif: ExifInfo | None = None
        self.error: str | None = None
        self._full_pending = False  # the full resolution was wanted before the photo's size was known
        self.canvas = ZoomCanvas(self)
        self.canvas.setObjectName("loupeCanvas")
        self.canvas.full_wanted.connect(self._ask_full)
        self.info = QLabel(self)
        self.info.setObjectName("loupeInfo")
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setContentsMargins(14, 14, 14, 14)
        self.info_panel = QScrollArea(self)
        self.info_panel.setObjectName("loupeInfoPanel")
        self.info_panel.setWidget(self.info)
        self.info_panel.setWidgetResizable(True)
        self.info_panel.setFrameShape(QFrame.Shape.NoFrame)
        self.info_panel.setFixedWidth(INFO_WIDTH[1])
        self.info_panel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.info_panel)

    # -- content --------------------------------------------------------------------------------------------
    def show_item(self, item: PhotoItem | None, thumbnail: QImage | None = None) -> None:
        """Show ``item`` (the thumbnail at once, the full preview when decoded)."""
        same = item is not None and self.item is not None and item.path == self.item.path
        self.item = item
        if item is None:
            self.exif, self.error = None, None
            self.canvas.set_image(None, "No photo selected")
            self.refresh()
            return
        if not same:  # a zoomed view stays zoomed on the next photo, to check a burst's focus frame by frame
            self.exif, self.error, self._full_pending = None, None, False
            keep = None if self.canvas.is_fit else self.canvas.view_state()
            self.canvas.set_image(thumbnail, "" if thumbnail is not None else "Loading…")
            if keep is not None:
                self.canvas.set_view_state(keep)
            if self.isVisible():
                self.load_preview()
        elif thumbnail is not None and self.canvas.image is None:
            self.canvas.upgrade_image(thumbnail)
        self.refresh()

    def load_preview(self) -> None:
        if self.item is not None:
            side = max(self.canvas.width(), self.canvas.height()) * self.devicePixelRatioF()
            self._request_preview(self.item.path, int(min(PREVIEW_MAX_SIDE, max(512, side))))

    def set_preview(self, path: str, image: QImage | None, error: str | None, exif: ExifInfo | None) -> None:
        if self.item is None or path != self.item.path:
            return
        self.exif, self.error = exif, error
        size = QSize(exif.width, exif.height) if exif is not None and exif.width and exif.height else None
        if image is not None:
            self.canvas.upgrade_image(image, full_size=size)
        elif self.canvas.image is None:
            self.canvas.set_image(None, f"Cannot show this photo: {error}" if error else "")
        if self._full_pending:
            self._ask_full()
        self.refresh()

    def _ask_full(self) -> None:
        """The canvas wants the full resolution: asked with the photo's size from its header (which bounds the
        decode), so only once the preview and its EXIF are here."""
        if self.item is None or self._request_full is None:
            return
        if self.exif is None:
            self._full_pending = True
            return
        self._full_pending = False
        exif = self.exif
        self._request_full(self.item.path, FULL, QSize(exif.width, exif.height) if exif.width and exif.height else None)

    def set_decoded(self, path: str, side: int, image: QImage | None, error: str | None, size: QSize) -> None:
        """A decode arrived (:class:`.decoder.Decoder`): the full resolution replaces the preview in place."""
        if self.item is None or path != self.item.path or side != FULL:
            return
        if image is not None:
            self.canvas.upgrade_image(image, full_size=size, full=True)
        elif error:
            self.canvas.set_text(f"Cannot show this photo at full size: {error}")

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The panel takes a fifth of the width (200–300 px), so at 1280 × 720 the photo keeps the room."""
        width = max(INFO_WIDTH[0], min(INFO_WIDTH[1], event.size().width() // 5))
        if self.info_panel.width() != width:
            self.info_panel.setFixedWidth(width)
        super().resizeEvent(event)

    def refresh(self) -> None:
        """Re-read the item's score, rating, flag and label into the panel (after a change)."""
        self.info.setText(self._html())
        self.canvas.update()  # the quality map follows the photo's crops

    def _html(self) -> str:
        item = self.item
        if item is None:
            return "<p style='color:#888'>No photo selected.</p>"
        esc = html.escape
        rows: list[tuple[str, str]] = []
        if item.status == "ok" and item.score is not None:
            score = f"<span style='font-size:22pt; font-weight:600'>{item.score:.3f}</span>"
            if item.spread is not None:
                score += f"<br><span style='color:#aaa'>crop spread ± {item.spread:.3f}</span>"
            score += self._parts_html(item)
        elif item.status == "error":
            score = f"<span style='color:#e5484d'>Not scored: {esc(item.error or 'unknown error')}</span>"
        else:
            score = "<span style='color:#aaa'>Waiting to be scored…</span>"
        rating = stars(item.rating) + "☆" * (5 - item.rating)
        rows.append(("Rating", f"<span style='color:#f2c94c'>{rating}</span>"))
        burst = self._bursts(item) if self._bursts is not None else None
        if burst is not None:
            rank = "?" if burst.rank is None else burst.rank
            noise = f"<br><span style='color:#e0a040'>{NOISE_TEXT}: no clear best</span>" if burst.tie else ""
            rows.append(("Burst", f"frame {rank} of {burst.frames} (burst {burst.id}){noise}"))
        if item.flag:
            colour = "#46a758" if item.flag == "pick" else "#e5484d"
            rows.append(("Flag", f"<span style='color:{colour}'>{FLAG_TEXT[item.flag]}</span>"))
        if item.label:
            colour = LABEL_COLOURS.get(item.label.casefold())
            dot = f"<span style='color:{colour}'>●</span> " if colour else ""
            rows.append(("Label", dot + esc(item.label.capitalize() if colour else item.label)))
        if self.exif is not None:
            rows += [(k, esc(format_capture_time(v) if k == "Captured" else v)) for k, v in self.exif.rows()]
        elif item.capture_time:
            rows.append(("Captured", esc(format_capture_time(item.capture_time))))
        if self.error and item.status != "error":
            rows.append(("Preview", f"<span style='color:#e5484d'>{esc(self.error)}</span>"))
        table = "".join(
            f"<tr><td style='color:#999; padding-right:10px'>{esc(k)}</td><td>{v}</td></tr>" for k, v in rows
        )
        return (
            f"<p style='font-size:12pt; font-weight:600'>{esc(item.name)}</p>"
            f"<p>{score}</p><table cellspacing='3'>{table}</table>"
            f"<p style='color:#777; font-size:8pt'>{esc(item.path)}</p>"
        )

    @staticmethod
    def _parts_html(item: PhotoItem) -> str:
        """The two parts of the score: the whole photo (global) and the detail crops at 100 %."""
        if item.detail is not None:
            parts = f"detail {item.detail:.3f} ({len(item.regions)} crops at 100 %)"
            if item.global_score is not None:
                parts = f"global {item.global_score:.3f} · {parts}"
        elif item.width is not None:
            parts = "no detail crops (small photo)"
        else:
            return ""
        return f"<br><span style='color:#aaa'>{parts}</span>"

    # -- keys -----------------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if pan_keys(self.canvas, event):
            return
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self.step.emit(-1)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self.step.emit(1)
        elif key == Qt.Key.Key_Escape:
            self.close_requested.emit()
        else:
            super().keyPressEvent(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.item is not None and self.exif is None:
            self.load_preview()
