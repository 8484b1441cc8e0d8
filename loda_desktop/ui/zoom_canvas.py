"""One photo on a canvas that fits it to the window or zooms in to check focus: the loupe's and the compare
view's panes.

The view is two numbers and a point: the *scale* (device pixels per pixel of the original photo; None = fit
the window) and the *centre*, as fractions of the photo's width and height. Both are kept in the original
photo's terms, whatever image is being painted (the grid thumbnail, the fitted preview, the full-resolution
decode), so a better image arriving later replaces the pixels without moving the view, and two canvases showing
photos of different sizes can share one view (compare: :meth:`view_state` / :meth:`set_view_state`).

Mouse: a click (or a double-click) toggles fit / 100 % at the point clicked, the wheel zooms around the
cursor, a drag pans, a click in the navigator inset (shown while zoomed in) moves the view there. Painting never
decodes: when the view shows the photo larger than the image in hand, :attr:`full_wanted` asks for the
full-resolution decode, made in the background by the owner. An owner may draw over the photo (the quality map,
:mod:`.quality_map`) through :attr:`ZoomCanvas.overlay`, placing its marks with :meth:`ZoomCanvas.photo_rect`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QElapsedTimer, QPointF, QRect, QRectF, QSize, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

__all__ = ["MAX_SCALE", "NAVIGATOR_SIDE", "ViewState", "ZoomCanvas"]

MAX_SCALE = 8.0  # 800 %
NAVIGATOR_SIDE = 150  # the navigator inset's long side, logical pixels
WHEEL_STEP = 1.25  # zoom factor per wheel notch (and per Ctrl+/Ctrl−)
BACKGROUND = QColor("#161616")


@dataclass(frozen=True)
class ViewState:
    """What two canvases share in compare: the scale (None: fit) and the centre as fractions of the photo."""

    scale: float | None
    cx: float
    cy: float


class ZoomCanvas(QWidget):
    """Paints one image (fit, or zoomed around a centre), or a line of text (loading, or why it cannot be shown).

    ``view_changed`` follows every zoom or pan made here (the mouse, the keys, :meth:`toggle_zoom`, …), not
    those set from outside through :meth:`set_view_state`; ``full_wanted`` asks the owner once per photo for the
    full-resolution image, as soon as the view shows the photo larger than the image it has."""

    view_changed = Signal()
    full_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 90)
        self.setMouseTracking(False)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._image: QImage | None = None
        self._full_size = QSize()  # the original photo's upright size; the image's own size until known
        self._size_known = False  # _full_size is the photo's (from its header or a full decode), not a preview's
        self._full_image = False  # the image is the photo at full resolution (or as large as it is decoded)
        self._asked_full = False
        self._fitted: QPixmap | None = None  # the fit view, scaled once per size
        self._navigator: QPixmap | None = None
        self._scale: float | None = None
        self._cx = self._cy = 0.5
        self._press: QPointF | None = None
        self._press_centre = (0.5, 0.5)
        self._dragged = False
        self._last_click_toggle = QElapsedTimer()
        self._click_toggled = False  # the last press and release was a click that toggled
        self.text = ""
        self.overlay: Callable[[QPainter], None] | None = None  # drawn over the photo, under the inset and zoom

    # -- content ----------------------------------------------------------------------------------------------
    def set_image(self, image: QImage | None, text: str = "", *, full_size: QSize | None = None) -> None:
        """A new photo (or none, with ``text``): the view goes back to fit."""
        self._image = image if image is not None and not image.isNull() else None
        self._full_size = QSize(full_size) if full_size is not None and not full_size.isEmpty() else QSize()
        self._size_known = not self._full_size.isEmpty()  # else the preview's size stands in until the header's
        if self._full_size.isEmpty() and self._image is not None:
            self._full_size = self._image.size()
        self._full_image = False
        self._asked_full = False
        self._scale, self._cx, self._cy = None, 0.5, 0.5
        self.text = text
        self._changed_pixels()

    def upgrade_image(self, image: QImage | None, *, full_size: QSize | None = None, full: bool = False) -> None:
        """A better image of the same photo (the preview, then the full resolution): the view stays where it is."""
        if full_size is not None and not full_size.isEmpty():
            self._full_size = QSize(full_size)
            self._size_known = True
        if image is None or image.isNull():
            return
        if self._full_image and not full:  # never trade the full resolution for a preview
            return
        self._image = image
        self._full_image = self._full_image or full
        if self._full_size.isEmpty() or (full and not self._size_known):
            self._full_size = image.size()
            self._size_known = full
        self.text = ""
        self._changed_pixels()
        self._check_resolution()

    def set_full_size(self, size: QSize) -> None:
        """The original photo's size, once known (its EXIF header): what 100 % means."""
        if not size.isEmpty():
            self._size_known = True
        if not size.isEmpty() and size != self._full_size:
            self._full_size = QSize(size)
            self._clamp()
            self.update()

    def set_text(self, text: str) -> None:
        self.text = text
        self.update()

    @property
    def image(self) -> QImage | None:
        return self._image

    @property
    def full_size(self) -> QSize:
        return QSize(self._full_size)

    @property
    def has_full_resolution(self) -> bool:
        return self._full_image

    def _changed_pixels(self) -> None:
        self._fitted = None
        self._navigator = None
        self.update()

    # -- the view ---------------------------------------------------------------------------------------------
    def fit_scale(self) -> float:
        """Device pixels per photo pixel when the photo fits the canvas (never above 100 %: small photos are
        not blown up)."""
        if self._full_size.isEmpty():
            return 1.0
        ratio = self.devicePixelRatioF()
        fx = self.width() * ratio / self._full_size.width()
        fy = self.height() * ratio / self._full_size.height()
        return min(1.0, fx, fy)

    @property
    def is_fit(self) -> bool:
        return self._scale is None

    def scale(self) -> float:
        """Device pixels per photo pixel now (1.0 = 100 %)."""
        return self.fit_scale() if self._scale is None else self._scale

    def zoom_percent(self) -> float:
        return 100.0 * self.scale()

    def view_state(self) -> ViewState:
        return ViewState(self._scale, self._cx, self._cy)

    def set_view_state(self, state: ViewState) -> None:
        """Show the view another canvas has (compare); no ``view_changed``."""
        self._scale = None if state.scale is None else max(self._min_scale(), min(MAX_SCALE, state.scale))
        self._cx, self._cy = state.cx, state.cy
        self._clamp()
        self.update()
        self._check_resolution()

    def visible_fraction(self) -> QRectF:
        """The part of the photo in view, as fractions of its width and height (the navigator's rectangle)."""
        if self._full_size.isEmpty():
            return QRectF(0, 0, 1, 1)
        s = self.scale() / self.devicePixelRatioF()  # logical pixels per photo pixel
        w = min(1.0, self.width() / (s * self._full_size.width()))
        h = min(1.0, self.height() / (s * self._full_size.height()))
        return QRectF(self._cx - w / 2, self._cy - h / 2, w, h)

    def toggle_zoom(self, anchor: QPointF | None = None) -> None:
        """Fit ↔ 100 %: to 100 % with the photo point under ``anchor`` (a widget point; the centre when None)
        staying where it is, back to fit from any zoom."""
        if self._image is None and self._full_size.isEmpty():
            return
        if self._scale is not None and self._scale >= self.fit_scale() * 1.0001:
            self._set_view(None, 0.5, 0.5)
        elif not self._size_known:  # a preview stands in for the photo: 100 % of the photo once its size is read
            fx, fy = (0.5, 0.5) if anchor is None else self._photo_point(QPointF(anchor))
            self._set_view(1.0, fx, fy)
        else:
            self._zoom_to(1.0 if self.fit_scale() < 1.0 else min(MAX_SCALE, 2.0), anchor)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom in (``factor`` > 1) or out around ``anchor``; zooming out past fit is fit."""
        self._zoom_to(self.scale() * factor, anchor)

    def zoom_step(self, steps: int, anchor: QPointF | None = None) -> None:
        self.zoom_by(WHEEL_STEP**steps, anchor)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the view by (``dx``, ``dy``) logical pixels (positive: towards the right and the bottom of the
        photo)."""
        if self._full_size.isEmpty() or self._scale is None:
            return
        s = self.scale() / self.devicePixelRatioF()
        self._set_view(
            self._scale, self._cx + dx / (s * self._full_size.width()), self._cy + dy / (s * self._full_size.height())
        )

    def _min_scale(self) -> float:
        return min(self.fit_scale(), 1.0)

    def _zoom_to(self, scale: float, anchor: QPointF | None) -> None:
        if self._full_size.isEmpty():
            return
        scale = min(MAX_SCALE, scale)
        if scale <= self.fit_scale() * 1.0001:
            self._set_view(None, 0.5, 0.5)
            return
        point = QPointF(self.width() / 2, self.height() / 2) if anchor is None else QPointF(anchor)
        fx, fy = self._photo_point(point)  # the photo point under the anchor stays under it
        ratio = self.devicePixelRatioF()
        s = scale / ratio
        cx = fx - (point.x() - self.width() / 2) / (s * self._full_size.width())
        cy = fy - (point.y() - self.height() / 2) / (s * self._full_size.height())
        self._set_view(scale, cx, cy)

    def _photo_point(self, point: QPointF) -> tuple[float, float]:
        """The photo point (fractions) under a widget point, in the current view."""
        s = self.scale() / self.devicePixelRatioF()
        fx = self._cx + (point.x() - self.width() / 2) / (s * self._full_size.width())
        fy = self._cy + (point.y() - self.height() / 2) / (s * self._full_size.height())
        return min(1.0, max(0.0, fx)), min(1.0, max(0.0, fy))

    def _set_view(self, scale: float | None, cx: float, cy: float) -> None:
        self._scale, self._cx, self._cy = scale, cx, cy
        self._clamp()
        self.update()
        self.view_changed.emit()
        self._check_resolution()

    def _clamp(self) -> None:
        """Keep the photo on the canvas: centred along a side it does not fill, its edge at the canvas's edge
        at most along a side it overflows."""
        if self._scale is None:
            self._cx = self._cy = 0.5
            return
        seen = self.visible_fraction()
        half_w, half_h = seen.width() / 2, seen.height() / 2
        self._cx = 0.5 if half_w >= 0.5 else min(1 - half_w, max(half_w, self._cx))
        self._cy = 0.5 if half_h >= 0.5 else min(1 - half_h, max(half_h, self._cy))

    def _check_resolution(self) -> None:
        """Ask for the full-resolution image once, when the view shows the photo larger than the image in hand."""
        if self._asked_full or self._full_image or self._image is None or self._full_size.isEmpty():
            return
        shown = self.scale() * self._full_size.width()  # device pixels across the photo
        if shown > self._image.width() * 1.05:
            self._asked_full = True
            self.full_wanted.emit()

    # -- painting ---------------------------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        self._fitted = None
        self._clamp()
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self._image is not None:
            if self._scale is None:
                self._paint_fit(painter)
            else:
                self._paint_zoomed(painter)
            if self.overlay is not None:
                painter.save()
                self.overlay(painter)
                painter.restore()
            if self._scale is not None:
                self._paint_navigator(painter)
                self._paint_percent(painter)
        if self.text:
            painter.setPen(QColor("#d0d0d0"))
            painter.drawText(
                self.rect().adjusted(24, 24, -24, -24),
                int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                self.text,
            )
        painter.end()

    def _fit_pixels(self) -> QSize:
        """The size, in device pixels, of the image drawn when the photo fits the canvas."""
        image = self._image
        target = image.size().scaled(self.size() * self.devicePixelRatioF(), Qt.AspectRatioMode.KeepAspectRatio)
        limit = self._full_size if not self._full_size.isEmpty() else image.size()
        if target.width() > limit.width():  # a small photo stays at 100 %
            target = QSize(limit)
        if target.width() > 2 * image.width():  # a thumbnail blown up past 2× only gets mushier
            target = image.size() * 2
        return image.size().scaled(target, Qt.AspectRatioMode.KeepAspectRatio)

    def photo_rect(self) -> QRectF | None:
        """Where the whole photo lies on the canvas now, in logical pixels (partly outside it when zoomed in);
        None without an image. A point at fractions (fx, fy) of the photo is at ``left + fx * width``, …"""
        if self._image is None:
            return None
        ratio = self.devicePixelRatioF()
        if self._scale is None:
            pixels = self._fit_pixels()
            rect = QRectF(QPointF(0, 0), QSizeF(pixels.width() / ratio, pixels.height() / ratio))
            rect.moveCenter(QRectF(self.rect()).center())
            return rect
        s = self.scale() / ratio
        width, height = self._full_size.width() * s, self._full_size.height() * s
        return QRectF(self.width() / 2 - self._cx * width, self.height() / 2 - self._cy * height, width, height)

    def _paint_fit(self, painter: QPainter) -> None:
        image = self._image
        ratio = self.devicePixelRatioF()
        if self._fitted is None:
            mode = Qt.TransformationMode.SmoothTransformation
            pixels = self._fit_pixels()
            pixmap = QPixmap.fromImage(image.scaled(pixels, Qt.AspectRatioMode.KeepAspectRatio, mode))
            pixmap.setDevicePixelRatio(ratio)
            self._fitted = pixmap
        size = QSizeF(self._fitted.width() / ratio, self._fitted.height() / ratio)
        rect = QRectF(QPointF(0, 0), size)
        rect.moveCenter(QRectF(self.rect()).center())
        painter.drawPixmap(rect.topLeft(), self._fitted)

    def _paint_zoomed(self, painter: QPainter) -> None:
        """Only the part in view is drawn from the image in hand, mapped through the original photo's size."""
        image, full = self._image, self._full_size
        seen = self.visible_fraction().intersected(QRectF(0, 0, 1, 1))
        s = self.scale() / self.devicePixelRatioF()
        width, height = full.width() * s, full.height() * s  # the whole photo, logical pixels
        left = self.width() / 2 - self._cx * width
        top = self.height() / 2 - self._cy * height
        target = QRectF(
            left + seen.left() * width, top + seen.top() * height, seen.width() * width, seen.height() * height
        )
        source = QRectF(
            seen.left() * image.width(),
            seen.top() * image.height(),
            seen.width() * image.width(),
            seen.height() * image.height(),
        )
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale() < 1.0)
        painter.drawImage(target, image, source)

    def _paint_percent(self, painter: QPainter) -> None:
        """The zoom in a corner: "100 %" (and "preview" until the full-resolution decode is in)."""
        text = f"{self.zoom_percent():.0f} %" + ("" if self._full_image else " · preview")
        metrics = painter.fontMetrics()
        box = QRectF(10, 10, metrics.horizontalAdvance(text) + 14, metrics.height() + 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)

    def navigator_rect(self) -> QRect | None:
        """Where the navigator inset is drawn (bottom right), or None when the whole photo is in view."""
        if self._image is None or self._scale is None or self._full_size.isEmpty():
            return None
        seen = self.visible_fraction()
        if seen.width() >= 0.999 and seen.height() >= 0.999:
            return None
        size = QSizeF(self._full_size).scaled(
            QSizeF(NAVIGATOR_SIDE, NAVIGATOR_SIDE), Qt.AspectRatioMode.KeepAspectRatio
        )
        w, h = max(1, round(size.width())), max(1, round(size.height()))
        if w + 24 > self.width() or h + 24 > self.height():
            return None
        return QRect(self.width() - w - 12, self.height() - h - 12, w, h)

    def _paint_navigator(self, painter: QPainter) -> None:
        box = self.navigator_rect()
        if box is None:
            return
        ratio = self.devicePixelRatioF()
        if self._navigator is None or self._navigator.size() != box.size() * ratio:
            mode = Qt.TransformationMode.SmoothTransformation
            small = self._image.scaled(box.size() * ratio, Qt.AspectRatioMode.IgnoreAspectRatio, mode)
            self._navigator = QPixmap.fromImage(small)
            self._navigator.setDevicePixelRatio(ratio)
        painter.setPen(QPen(QColor(0, 0, 0, 160), 3))
        painter.drawRect(box.adjusted(-1, -1, 1, 1))
        painter.drawPixmap(box.topLeft(), self._navigator)
        seen = self.visible_fraction().intersected(QRectF(0, 0, 1, 1))
        frame = QRectF(
            box.left() + seen.left() * box.width(),
            box.top() + seen.top() * box.height(),
            seen.width() * box.width(),
            seen.height() * box.height(),
        )
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(frame)

    # -- mouse ------------------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self._click_toggled = False
        box = self.navigator_rect()
        point = event.position()
        if box is not None and QRectF(box).contains(point):  # jump there
            self._set_view(self._scale, (point.x() - box.left()) / box.width(), (point.y() - box.top()) / box.height())
            self._press = None
            return
        self._press, self._press_centre, self._dragged = point, (self._cx, self._cy), False
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            super().mouseMoveEvent(event)
            return
        delta = event.position() - self._press
        if not self._dragged and delta.manhattanLength() < QApplication.startDragDistance():
            return
        self._dragged = True
        if self._scale is None or self._full_size.isEmpty():
            return
        self.setCursor(Qt.CursorShape.ClosedHandCursor)
        s = self.scale() / self.devicePixelRatioF()
        cx = self._press_centre[0] - delta.x() / (s * self._full_size.width())
        cy = self._press_centre[1] - delta.y() / (s * self._full_size.height())
        self._set_view(self._scale, cx, cy)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            super().mouseReleaseEvent(event)
            return
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        press, self._press = self._press, None
        if not self._dragged:  # a click: fit ↔ 100 % where it was clicked
            self.toggle_zoom(press)
            self._click_toggled = True
            self._last_click_toggle.start()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """A double-click toggles once: its first click did already, unless it came without one (some
        platforms and test drivers send the double-click alone)."""
        if event.button() != Qt.MouseButton.LeftButton:
            super().mouseDoubleClickEvent(event)
            return
        timer = self._last_click_toggle
        if not self._click_toggled or timer.elapsed() > QApplication.doubleClickInterval():
            self.toggle_zoom(event.position())
        self._click_toggled = False
        self._press = None  # the release that follows is not a click of its own

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if not notches or (self._image is None and self._full_size.isEmpty()):
            super().wheelEvent(event)
            return
        self.zoom_by(WHEEL_STEP**notches, event.position())
        event.accept()
