"""The quality map (M): the detail crops of the photo in the loupe or the compare view, drawn where they are, each
coloured by its detail score, so the photographer sees *where* a frame is soft.

Each crop (:attr:`.items.PhotoItem.regions`: x, y, side in the photo's upright pixels, and its score) is a square
outline over a translucent fill, mapped through the canvas's photo → view transform
(:meth:`.zoom_canvas.ZoomCanvas.photo_rect`), so it stays on its part of the photo at any zoom and whatever
image stands in for the photo (thumbnail, fitted preview, full resolution): coordinates are taken as fractions
of the photo's ``width`` × ``height``. The score is written in the square when the square is large enough.

Colours: red (softest) → yellow → green (sharpest), **relative** to the lowest and highest crop score of the
photo's burst (every frame the window has of it), or of the photo alone when it is in no burst. Within a burst
the same colour means the same sharpness in every frame, so stepping through the frames, or comparing two side by
side, shows which one is soft where; the legend in the bottom left corner says which range the colours span (its
two ends, in score units). A range narrower than :data:`FLAT_RANGE` is drawn all yellow: no crop is softer than
another by more than rounding. A photo without crops says so instead ("no detail crops (small photo)").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPen

from .items import PhotoItem
from .zoom_canvas import ZoomCanvas

__all__ = ["FLAT_RANGE", "MapPaint", "MapScale", "QualityMap", "map_scale", "region_colour"]

FLAT_RANGE = 1e-6
FILL_ALPHA = 70
LEGEND_WIDTH = 120


class MapScale(NamedTuple):
    """The score range the colours span, and what it is the range of (the legend's words)."""

    low: float
    high: float
    of: str  # "burst 3 (5 frames)" | "this photo"


class MapPaint(NamedTuple):
    """What the map drew on a canvas last: the photo, the crops drawn (on the canvas), the note shown instead."""

    path: str | None
    regions: int
    message: str


def map_scale(item: PhotoItem, frames: Sequence[PhotoItem] = ()) -> MapScale | None:
    """The colour range for ``item``: over the crops of ``frames`` (its burst) when they have any, else its own."""
    pool = [f for f in frames if f.regions] or [item]
    scores = [r[3] for f in pool for r in f.regions]
    if not scores:
        return None
    of = f"burst {item.burst} ({len(frames)} frames)" if len(frames) > 1 else "this photo"
    return MapScale(min(scores), max(scores), of)


def region_colour(score: float, scale: MapScale) -> QColor:
    """Red (the range's low end) through yellow to green (its high end); yellow for a flat range."""
    span = scale.high - scale.low
    t = 0.5 if span < FLAT_RANGE else min(1.0, max(0.0, (score - scale.low) / span))
    return QColor.fromHsvF(t / 3.0, 0.9, 0.95)


def no_crops_text(item: PhotoItem) -> str:
    if item.status != "ok":
        return "Quality map: not scored yet" if item.status == "pending" else "Quality map: not scored"
    if item.width is None:  # scored before the catalog kept the photo's size and crops
        return "Quality map: no detail crops (small photo, or scored without them)"
    return f"Quality map: no detail crops (small photo, {item.width} × {item.height})"


class QualityMap(QObject):
    """The map's on/off state, and its painting on every canvas :meth:`attach` was given.

    ``frames_of(item)``: the frames of ``item``'s burst the window has (empty when in none), for the colours."""

    def __init__(self, frames_of: Callable[[PhotoItem], Sequence[PhotoItem]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = False
        self.frames_of = frames_of
        self._canvases: list[ZoomCanvas] = []
        self.painted: dict[int, MapPaint] = {}  # id(canvas) → the last paint there (tests, screenshots)

    def attach(self, canvas: ZoomCanvas, item_of: Callable[[], PhotoItem | None]) -> None:
        """Draw the map over ``canvas`` (when on) for the photo ``item_of()`` returns."""
        canvas.overlay = lambda painter: self.paint(painter, canvas, item_of())
        self._canvases = [c for c in self._canvases if _alive(c)] + [canvas]

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = bool(enabled)
        for canvas in self._canvases:
            if _alive(canvas):
                canvas.update()

    def painted_on(self, canvas: ZoomCanvas) -> MapPaint | None:
        return self.painted.get(id(canvas))

    # -- painting ---------------------------------------------------------------------------------------------
    def paint(self, painter: QPainter, canvas: ZoomCanvas, item: PhotoItem | None) -> MapPaint | None:
        photo = canvas.photo_rect()
        if not self.enabled or item is None or photo is None:
            self.painted.pop(id(canvas), None)
            return None
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale = map_scale(item, self.frames_of(item)) if item.regions else None
        if scale is None:
            done = MapPaint(item.path, 0, no_crops_text(item))
            _pill(painter, QPointF(canvas.width() / 2, 12), done.message, centred=True)
        else:
            done = MapPaint(item.path, self._paint_regions(painter, canvas, photo, item, scale), "")
            _legend(painter, canvas, scale)
        self.painted[id(canvas)] = done
        return done

    def _paint_regions(
        self, painter: QPainter, canvas: ZoomCanvas, photo: QRectF, item: PhotoItem, scale: MapScale
    ) -> int:
        size = canvas.full_size
        width = item.width or size.width() or 1
        height = item.height or size.height() or 1
        sx, sy = photo.width() / width, photo.height() / height  # view pixels per photo pixel, each way
        bounds = QRectF(canvas.rect())
        metrics = painter.fontMetrics()
        text_width = metrics.horizontalAdvance("0.000") + 8
        drawn = 0
        for x, y, side, score in item.regions:
            rect = QRectF(photo.left() + x * sx, photo.top() + y * sy, side * sx, side * sy)
            if not rect.intersects(bounds):
                continue
            colour = region_colour(score, scale)
            fill = QColor(colour)
            fill.setAlpha(FILL_ALPHA)
            painter.setPen(QPen(colour, 2))
            painter.setBrush(fill)
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
            if rect.width() >= text_width and rect.height() >= metrics.height() + 4:
                text = f"{score:.3f}"
                painter.setPen(QColor(0, 0, 0, 200))
                painter.drawText(rect.translated(1, 1), int(Qt.AlignmentFlag.AlignCenter), text)
                painter.setPen(QColor("white"))
                painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
            drawn += 1
        return drawn


def _alive(canvas: ZoomCanvas) -> bool:
    try:
        canvas.objectName()
    except RuntimeError:  # its C++ side is gone (a compare pane rebuilt)
        return False
    return True


def _pill(painter: QPainter, anchor: QPointF, text: str, *, centred: bool = False) -> QRectF:
    metrics = painter.fontMetrics()
    box = QRectF(anchor.x(), anchor.y(), metrics.horizontalAdvance(text) + 16, metrics.height() + 8)
    if centred:
        box.moveLeft(anchor.x() - box.width() / 2)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 185))
    painter.drawRoundedRect(box, 4, 4)
    painter.setPen(QColor("white"))
    painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
    return box


def _legend(painter: QPainter, canvas: ZoomCanvas, scale: MapScale) -> None:
    """Bottom left: "Detail, relative to burst 3 (5 frames)" over a red → green bar with its two ends."""
    metrics = painter.fontMetrics()
    line = metrics.height()
    title = f"Detail · colours relative to {scale.of}"
    low, high = f"{scale.low:.3f} soft", f"sharp {scale.high:.3f}"
    width = max(metrics.horizontalAdvance(title), LEGEND_WIDTH + metrics.horizontalAdvance(low + high) + 16) + 16
    box = QRectF(10, canvas.height() - 2 * line - 26, width, 2 * line + 16)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 185))
    painter.drawRoundedRect(box, 4, 4)
    painter.setPen(QColor("white"))
    painter.drawText(QRectF(box.left() + 8, box.top() + 4, width - 16, line), int(Qt.AlignmentFlag.AlignLeft), title)
    row = QRectF(box.left() + 8, box.top() + line + 8, width - 16, line)
    painter.drawText(row, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), low)
    painter.drawText(row, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), high)
    left = row.left() + metrics.horizontalAdvance(low) + 8
    bar = QRectF(left, row.top() + 3, row.width() - metrics.horizontalAdvance(low + high) - 16, line - 6)
    gradient = QLinearGradient(bar.topLeft(), bar.topRight())
    flat = scale.high - scale.low < FLAT_RANGE
    for stop in (0.0, 0.5, 1.0):
        gradient.setColorAt(stop, QColor.fromHsvF((0.5 if flat else stop) / 3.0, 0.9, 0.95))
    painter.setBrush(gradient)
    painter.drawRect(bar)
