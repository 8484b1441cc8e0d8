"""The loupe: one photo large, with its score, crop spread, culling state and EXIF basics.

The picture is decoded off the UI thread (:meth:`ThumbnailLoader.request_preview`); until it arrives the grid
thumbnail is shown scaled up, so stepping through photos with the arrow keys never waits.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPaintEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from loda_desktop.exif import ExifInfo

from .models import FLAG_TEXT, LABEL_COLOURS, PhotoItem, stars

PREVIEW_MAX_SIDE = 2048


class _Canvas(QWidget):
    """Paints one image scaled to fit, or a line of text (loading, or why the photo cannot be shown)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self._image: QImage | None = None
        self._scaled: QPixmap | None = None
        self.text = ""

    def set_image(self, image: QImage | None, text: str = "") -> None:
        self._image = image if image is not None and not image.isNull() else None
        self._scaled = None
        self.text = text
        self.update()

    @property
    def image(self) -> QImage | None:
        return self._image

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._scaled = None
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#161616"))
        if self._image is not None:
            if self._scaled is None:
                ratio = self.devicePixelRatioF()
                target = self._image.size().scaled(self.size() * ratio, Qt.AspectRatioMode.KeepAspectRatio)
                if target.width() > 2 * self._image.width():  # a thumbnail blown up past 2× only gets mushier
                    target = self._image.size() * 2
                pixmap = QPixmap.fromImage(
                    self._image.scaled(
                        target, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                    )
                )
                pixmap.setDevicePixelRatio(ratio)
                self._scaled = pixmap
            size = QSize(
                round(self._scaled.width() / self._scaled.devicePixelRatio()),
                round(self._scaled.height() / self._scaled.devicePixelRatio()),
            )
            rect = QRect(0, 0, size.width(), size.height())
            rect.moveCenter(self.rect().center())
            painter.drawPixmap(rect, self._scaled)
        if self.text:
            painter.setPen(QColor("#d0d0d0"))
            painter.drawText(
                self.rect().adjusted(24, 24, -24, -24),
                int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                self.text,
            )
        painter.end()


class LoupeView(QWidget):
    """Large preview plus an information panel. Left/Right (and Up/Down) step; Escape leaves."""

    step = Signal(int)  # -1 previous, +1 next
    close_requested = Signal()

    def __init__(self, request_preview: Callable[[str, int], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loupe")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._request_preview = request_preview
        self.item: PhotoItem | None = None
        self.exif: ExifInfo | None = None
        self.error: str | None = None
        self.canvas = _Canvas(self)
        self.info = QLabel(self)
        self.info.setObjectName("loupeInfo")
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setContentsMargins(14, 14, 14, 14)
        scroll = QScrollArea(self)
        scroll.setWidget(self.info)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFixedWidth(300)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        side = QVBoxLayout()
        side.addWidget(scroll)
        layout.addLayout(side)

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
        if not same:
            self.exif, self.error = None, None
            self.canvas.set_image(thumbnail, "" if thumbnail is not None else "Loading…")
            if self.isVisible():
                self.load_preview()
        self.refresh()

    def load_preview(self) -> None:
        if self.item is not None:
            side = max(self.canvas.width(), self.canvas.height()) * self.devicePixelRatioF()
            self._request_preview(self.item.path, int(min(PREVIEW_MAX_SIDE, max(512, side))))

    def set_preview(self, path: str, image: QImage | None, error: str | None, exif: ExifInfo | None) -> None:
        if self.item is None or path != self.item.path:
            return
        self.exif, self.error = exif, error
        if image is not None:
            self.canvas.set_image(image)
        elif self.canvas.image is None:
            self.canvas.set_image(None, f"Cannot show this photo: {error}" if error else "")
        self.refresh()

    def refresh(self) -> None:
        """Re-read the item's score, rating, flag and label into the panel (after a change)."""
        self.info.setText(self._html())

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
        elif item.status == "error":
            score = f"<span style='color:#e5484d'>Not scored: {esc(item.error or 'unknown error')}</span>"
        else:
            score = "<span style='color:#aaa'>Waiting to be scored…</span>"
        rating = stars(item.rating) + "☆" * (5 - item.rating)
        rows.append(("Rating", f"<span style='color:#f2c94c'>{rating}</span>"))
        if item.flag:
            colour = "#46a758" if item.flag == "pick" else "#e5484d"
            rows.append(("Flag", f"<span style='color:{colour}'>{FLAG_TEXT[item.flag]}</span>"))
        if item.label:
            colour = LABEL_COLOURS.get(item.label.casefold())
            dot = f"<span style='color:{colour}'>●</span> " if colour else ""
            rows.append(("Label", dot + esc(item.label.capitalize() if colour else item.label)))
        if self.exif is not None:
            rows += [(k, esc(v)) for k, v in self.exif.rows()]
        elif item.capture_time:
            rows.append(("Captured", esc(item.capture_time.replace("T", " "))))
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

    # -- keys -----------------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
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
