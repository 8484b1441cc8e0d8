"""The grid's delegate: paints a photo cell (thumbnail, score, stars, flag, colour label); nothing else.

Cell layout (``cell`` × ``cell + 38`` pixels)::

    ┌──────────────────────┐
    │ 0.532          ✓ / ✕ │  score pill (top left), flag badge (top right)
    │      thumbnail       │  dimmed when rejected; a placeholder while loading; the reason when unreadable
    │ ×5                   │  burst pill: "×5" on a stack (5 frames), "2/5" on a frame of a burst
    │ IMG_0042.jpg         │  file name, elided
    │ ★★★☆☆          ●     │  stars, colour label
    └──────────────────────┘

The burst pill turns amber and says "frames within noise" when the best frame of its burst is no clear winner.

Painting never decodes: the thumbnail arrives as a QImage from the thumbnail pool. Each painted cell is kept
as a pixmap keyed by everything it shows, so a repaint (scrolling, a neighbour's new score, the selection
moving) costs one ``drawPixmap`` per cell, which keeps the UI thread's time in Python short while the
scoring thread competes for the GIL.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .items import NOISE_TEXT, BurstInfo
from .models import PhotoItem, Role, format_score, label_colour

PICK_COLOUR = QColor("#46a758")
REJECT_COLOUR = QColor("#e5484d")
BURST_COLOUR = QColor(30, 90, 160, 215)
TIE_COLOUR = QColor(176, 110, 20, 225)
STAR_COLOUR = QColor("#f2c94c")
TEXT_HEIGHT = 38
CELL_CACHE_SIZE = 160


def message_rect(box: QRect, metrics: QFontMetrics) -> QRect:
    """Where a cell without a thumbnail says why: below the score pill (drawn at the box's top left, one line
    high), so the pill never covers the reason, even in the smallest cells."""
    return box.adjusted(6, metrics.height() + 12, -6, -4)


class GridDelegate(QStyledItemDelegate):
    """Paints one grid cell from the model's roles (``Role.Item`` and ``Role.Thumbnail``)."""

    def __init__(self, parent=None, cell: int = 176) -> None:
        super().__init__(parent)
        self.cell = cell
        self.width = 0  # the cell's width when the grid is stretched over its row (GridFitter); 0: ``cell``
        self.stacked = False  # bursts are stacks: the lead frame's pill counts the frames (:mod:`.bursts`)
        self._fonts: dict[str, tuple[QFont, QFontMetrics, QFont, QFontMetrics]] = {}
        # Painted cells, keyed by everything they show: a repaint (scrolling, a neighbour's new score, the
        # selection moving) is one drawPixmap per cell. LRU; a few screens of cells (~150 KB each).
        self._cells: OrderedDict[tuple, QPixmap] = OrderedDict()

    def _font_set(self, base: QFont) -> tuple[QFont, QFontMetrics, QFont, QFontMetrics]:
        """(regular, its metrics, bold, its metrics) for the view's font, made once (QFontMetrics is costly)."""
        key = base.key()
        fonts = self._fonts.get(key)
        if fonts is None:
            regular = QFont(base)
            bold = QFont(base)
            bold.setBold(True)
            fonts = (regular, QFontMetrics(regular), bold, QFontMetrics(bold))
            self._fonts[key] = fonts
        return fonts

    def warm_up(self, palette: QPalette, font: QFont) -> None:
        """Paint one sample cell off screen, so the first real paint does not pay for font and glyph caches."""
        from PySide6.QtGui import QImage

        image = QImage(32, 24, QImage.Format.Format_RGB32)
        image.fill(QColor("#777777"))
        sample = PhotoItem("/IMG_0123.jpg", score=0.5, spread=0.01, status="ok", rating=3, flag="pick", label="red")
        target = QPixmap(self.cell, self.cell + TEXT_HEIGHT)
        painter = QPainter(target)
        painter.setFont(font)
        try:
            rect = QRect(0, 0, self.cell, self.cell + TEXT_HEIGHT)
            for item in (sample, PhotoItem("/b.jpg", status="error", error="the file is empty", flag="reject")):
                self._paint_cell(painter, rect, palette, False, True, item, image, None)
        finally:
            painter.end()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(self.width or self.cell, self.cell + TEXT_HEIGHT)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        item: PhotoItem | None = index.data(Role.Item)
        if item is None:
            return
        image = index.data(Role.Thumbnail)
        problem = index.data(Role.ThumbnailError) if image is None else None
        burst: BurstInfo | None = index.data(Role.Burst)
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        current = bool(state & QStyle.StateFlag.State_HasFocus)
        rect, palette = option.rect, option.palette
        ratio = painter.device().devicePixelRatio()
        key = (
            item.path,
            item.status,
            item.score,
            item.rating,
            item.flag,
            item.label,
            item.error,
            image.cacheKey() if image is not None else problem,
            selected,
            current,
            rect.width(),
            rect.height(),
            ratio,
            palette.cacheKey(),
            painter.font().key(),
            burst,
            self.stacked,
        )
        pixmap = self._cells.get(key)
        if pixmap is None:
            pixmap = QPixmap(QSize(rect.width(), rect.height()) * ratio)
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            cell_painter = QPainter(pixmap)
            cell_painter.setFont(painter.font())
            try:
                local = QRect(0, 0, rect.width(), rect.height())
                self._paint_cell(cell_painter, local, palette, selected, current, item, image, problem, burst)
            finally:
                cell_painter.end()
            self._cells[key] = pixmap
            while len(self._cells) > CELL_CACHE_SIZE:
                self._cells.popitem(last=False)
        else:
            self._cells.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), pixmap)

    def _paint_cell(
        self,
        painter: QPainter,
        cell: QRect,
        palette: QPalette,
        selected: bool,
        current: bool,
        item: PhotoItem,
        image,
        problem: str | None,
        burst: BurstInfo | None = None,
    ) -> None:
        painter.save()
        regular, metrics, bold, bold_metrics = self._font_set(painter.font())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = cell.adjusted(3, 3, -3, -3)
        base = palette.color(QPalette.ColorRole.Base).lighter(125)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Highlight) if selected else base)
        painter.drawRoundedRect(rect, 6, 6)
        if current:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.HighlightedText), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(rect).adjusted(1, 1, -1, -1), 6, 6)

        inner = rect.adjusted(6, 6, -6, -6)
        thumb_box = QRect(inner.left(), inner.top(), inner.width(), inner.height() - TEXT_HEIGHT + 4)
        painter.setFont(regular)
        self._paint_thumbnail(painter, thumb_box, item, image, problem, palette)
        painter.setFont(bold)
        self._paint_badges(painter, thumb_box, item, bold_metrics)
        painter.setFont(regular)
        if burst is not None:
            self._paint_burst(painter, thumb_box, burst, metrics)
        self._paint_text(painter, inner, thumb_box, item, palette, selected, metrics)
        painter.restore()

    def _paint_thumbnail(
        self, painter: QPainter, box: QRect, item: PhotoItem, image, problem: str | None, palette: QPalette
    ) -> None:
        if image is not None and not image.isNull():
            size = image.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(box.center())
            if item.flag == "reject":
                painter.setOpacity(0.35)
            painter.drawImage(target, image)
            painter.setOpacity(1.0)
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRect(box)
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        if item.status == "error":
            painter.setPen(REJECT_COLOUR)
            text = "⚠ " + (item.error or "cannot be read")
        elif problem:
            text = "⚠ " + problem
        else:
            text = "…"
        area = message_rect(box, painter.fontMetrics())
        painter.save()
        painter.setClipRect(area)  # a long reason is cut at the cell's edge, never drawn over the name
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
        painter.restore()

    def _paint_badges(self, painter: QPainter, box: QRect, item: PhotoItem, metrics: QFontMetrics) -> None:
        text = format_score(item)
        if item.status != "pending":
            pill = QRectF(box.left() + 4, box.top() + 4, metrics.horizontalAdvance(text) + 12, metrics.height() + 4)
            path = QPainterPath()
            path.addRoundedRect(pill, 4, 4)
            painter.fillPath(path, QColor(0, 0, 0, 170) if item.status == "ok" else REJECT_COLOUR)
            painter.setPen(QColor("white"))
            painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), text)
        if item.flag in ("pick", "reject"):
            colour = PICK_COLOUR if item.flag == "pick" else REJECT_COLOUR
            side = metrics.height() + 6
            badge = QRectF(box.right() - side - 3, box.top() + 3, side, side)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawEllipse(badge)
            painter.setPen(QColor("white"))
            painter.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), "✓" if item.flag == "pick" else "✕")

    def _paint_burst(self, painter: QPainter, box: QRect, burst: BurstInfo, metrics: QFontMetrics) -> None:
        """The burst pill at the bottom left: "×5" on a stack, "2/5" on one frame; and a tie said in words."""
        rank = "?" if burst.rank is None else burst.rank
        text = f"×{burst.frames}" if self.stacked and burst.lead else f"{rank}/{burst.frames}"
        if burst.tie:
            text += f" · {NOISE_TEXT}"
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, box.width() - 20)
        height = metrics.height() + 4
        pill = QRectF(box.left() + 4, box.bottom() - height - 3, metrics.horizontalAdvance(text) + 12, height)
        path = QPainterPath()
        path.addRoundedRect(pill, 4, 4)
        painter.fillPath(path, TIE_COLOUR if burst.tie else BURST_COLOUR)
        painter.setPen(QColor("white"))
        painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), text)

    def _paint_text(
        self,
        painter: QPainter,
        inner: QRect,
        box: QRect,
        item: PhotoItem,
        palette: QPalette,
        selected: bool,
        metrics: QFontMetrics,
    ) -> None:
        line = metrics.height()
        text_colour = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        name_rect = QRect(inner.left(), box.bottom() + 4, inner.width(), line)
        painter.setPen(text_colour)
        painter.drawText(
            name_rect,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            metrics.elidedText(item.display_name, Qt.TextElideMode.ElideMiddle, name_rect.width()),
        )
        stars_rect = QRect(inner.left(), name_rect.bottom() + 1, inner.width(), line)
        if item.rating:
            painter.setPen(STAR_COLOUR)
            painter.drawText(
                stars_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), "★" * item.rating
            )
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            offset = metrics.horizontalAdvance("★" * item.rating)
            painter.drawText(
                stars_rect.adjusted(offset, 0, 0, 0),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                "☆" * (5 - item.rating),
            )
        colour = label_colour(item.label)
        if colour is not None:
            d = line - 4
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawEllipse(QRectF(stars_rect.right() - d, stars_rect.top() + 2, d, d))
        elif item.label:
            painter.setPen(text_colour)
            painter.drawText(
                stars_rect,
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                metrics.elidedText(item.label, Qt.TextElideMode.ElideRight, inner.width() // 2),
            )


class GridFitter(QObject):
    """Spreads the grid's columns over its whole width: the cells widen by the pixels a row has left over, so
    no gutter is left at the right (up to a cell wide, e.g. 110 px at 1600 px) whatever the window's width."""

    def __init__(self, grid: QListView, delegate: GridDelegate) -> None:
        super().__init__(grid)
        self.grid, self.delegate = grid, delegate
        grid.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        cell = self.delegate.cell
        width = self.grid.viewport().width()
        columns = max(1, width // (cell + 4))
        column_width = max(cell + 4, width // columns)
        self.delegate.width = column_width - 4
        size = QSize(column_width, cell + TEXT_HEIGHT + 4)
        if self.grid.gridSize() != size:
            self.grid.setGridSize(size)
