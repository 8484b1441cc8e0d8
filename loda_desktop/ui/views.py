"""The photo views: a thumbnail grid and a table over ONE proxy and ONE selection model, the loupe, and the
compare / survey view (:mod:`.compare`), in a stack.

:class:`PhotoViews` knows which view is shown, which photo is current and which are selected, and moves between
them; the culling actions are added to it, so their single keys work while any of the three has the focus.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QListView, QStackedWidget, QTableView, QWidget

from loda_desktop.catalog import path_key

from .compare import SURVEY_MAX, CompareView
from .decoder import Decoder
from .delegates import GridDelegate, GridFitter
from .loaders import ThumbnailLoader
from .loupe import LoupeView
from .models import Column, PhotoFilterProxy, PhotoItem, PhotoTableModel
from .quality_map import QualityMap

__all__ = ["CELL_SIZES", "VIEWS", "PhotoViews"]

VIEWS = ("grid", "table", "loupe", "compare", "survey")  # compare and survey share one widget
MULTI_VIEWS = ("compare", "survey")
CELL_SIZES = (120, 144, 176, 208, 256)
TABLE_WIDTHS = {
    Column.NAME: 220,
    Column.SCORE: 70,
    Column.SPREAD: 70,
    Column.DETAIL: 70,
    Column.BURST: 190,
    Column.RATING: 80,
    Column.FLAG: 60,
    Column.LABEL: 70,
    Column.CAPTURED: 150,
    Column.STATUS: 260,
}


def _make_grid(delegate: GridDelegate, proxy: PhotoFilterProxy) -> QListView:
    grid = QListView()
    grid.setObjectName("grid")
    grid.setViewMode(QListView.ViewMode.IconMode)
    grid.setMovement(QListView.Movement.Static)
    grid.setResizeMode(QListView.ResizeMode.Adjust)
    grid.setUniformItemSizes(True)
    grid.setLayoutMode(QListView.LayoutMode.Batched)
    grid.setBatchSize(500)
    grid.setSpacing(4)
    grid.setWrapping(True)
    grid.setDragEnabled(False)
    grid.setAcceptDrops(False)
    grid.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
    grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    grid.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    grid.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    grid.setItemDelegate(delegate)
    grid.setModel(proxy)
    return grid


def _make_table(proxy: PhotoFilterProxy, selection: QItemSelectionModel) -> QTableView:
    """The table, sharing the grid's selection model (so both always show the same selection)."""
    table = QTableView()
    table.setObjectName("table")
    table.setModel(proxy)
    old = table.selectionModel()
    table.setSelectionModel(selection)
    old.deleteLater()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAcceptDrops(False)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(24)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionsMovable(True)
    header.setHighlightSections(False)
    for column, width in TABLE_WIDTHS.items():
        header.resizeSection(column, width)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return table


class PhotoViews(QStackedWidget):
    """The grid, the table and the loupe over ``proxy``; ``mode_changed`` says which one is shown now."""

    mode_changed = Signal(str)
    thumbnail_zoom = Signal(int)  # Ctrl+/Ctrl− in the grid or the table: the thumbnails' size (the toolbar's)
    message = Signal(str)  # a note for the status bar

    def __init__(self, proxy: PhotoFilterProxy, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("views")
        self.proxy = proxy
        self.thumbnails = thumbnails
        self.grid_delegate = GridDelegate(self)
        self.grid = _make_grid(self.grid_delegate, proxy)
        self.selection = self.grid.selectionModel()
        self.grid_fitter = GridFitter(self.grid, self.grid_delegate)
        self.table = _make_table(proxy, self.selection)
        self.decoder = Decoder(thumbnails)
        self.quality_map = QualityMap(self._burst_frames, self)  # M: the detail crops over the loupe and compare
        self.loupe = LoupeView(thumbnails.request_preview, request_full=self._loupe_full, bursts=self._burst_info)
        self.quality_map.attach(self.loupe.canvas, lambda: self.loupe.item)
        self.compare = CompareView(thumbnails, self.decoder, self.neighbour, quality_map=self.quality_map)
        for widget in (self.grid, self.table, self.loupe, self.compare):
            self.addWidget(widget)
        self.decoder.ready.connect(self._on_decoded)
        self.compare.close_requested.connect(self.leave_loupe)
        self.compare.focus_changed.connect(self._focus_photo)
        self.view_before_loupe = "grid"
        self.loupe.step.connect(self.step)
        self.loupe.close_requested.connect(self.leave_loupe)
        self.grid.activated.connect(lambda _index: self.set_mode("loupe"))
        self.table.activated.connect(lambda _index: self.set_mode("loupe"))

    @property
    def model(self) -> PhotoTableModel:
        return self.proxy.sourceModel()

    def _burst_frames(self, item: PhotoItem) -> list[PhotoItem]:
        return self.model.bursts().get(item.burst, []) if item.burst is not None else []

    def _burst_info(self, item: PhotoItem):
        return self.model.burst_info(item)

    def set_quality_map(self, enabled: bool) -> None:
        """M: the detail crops coloured by their score over the loupe and the compare panes (:mod:`.quality_map`)."""
        self.quality_map.set_enabled(enabled)

    # -- which view ---------------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.compare.kind if self.currentWidget() is self.compare else VIEWS[self.currentIndex()]

    def current_view(self) -> QWidget:
        return self.currentWidget()

    def set_mode(self, mode: str) -> None:
        """Show the ``grid``, the ``table`` or the ``loupe`` (the selection is the same in all three)."""
        if mode not in VIEWS:
            raise ValueError(f"unknown view {mode!r}")
        if mode in ("loupe", *MULTI_VIEWS) and self.mode in ("grid", "table"):
            self.view_before_loupe = self.mode
        self.setCurrentIndex(min(VIEWS.index(mode), VIEWS.index("compare")))
        self.mode_changed.emit(mode)
        if mode == "loupe":  # the loupe asks for the full preview itself (show_item, showEvent)
            self.refresh_loupe()
        elif mode not in MULTI_VIEWS:
            index = self.selection.currentIndex()
            if index.isValid():
                column = Column.NAME if mode == "grid" else index.column()
                self.selection.setCurrentIndex(
                    self.proxy.index(index.row(), column), QItemSelectionModel.SelectionFlag.NoUpdate
                )
                self.current_view().scrollTo(self.selection.currentIndex())
        if self.isVisible():
            self.current_view().setFocus()

    def toggle_loupe(self) -> None:
        if self.mode == "loupe":
            self.leave_loupe()
        else:
            self.set_mode("loupe")

    def leave_loupe(self) -> None:
        self.set_mode(self.view_before_loupe)

    # -- compare, survey and zoom (:mod:`.compare`, :mod:`.zoom_canvas`) ------------------------------------------
    def toggle_compare(self) -> None:
        """C: the current photo and the next selected one (or the next in the view), side by side."""
        if self.mode == "compare":
            self.leave_loupe()
            return
        current = self.current_item()
        if current is None:
            self.mode_changed.emit(self.mode)  # the View menu's check stays on the view shown
            return
        selected = self.selected_items()
        at = next((i for i, it in enumerate(selected) if it is current), -1)
        others = [it for it in selected[at + 1 :] + selected[: max(0, at)] if it is not current]  # next after it
        other = others[0] if others else self.neighbour(current, 1, []) or self.neighbour(current, -1, [])
        if other is None:
            self.message.emit("Compare needs two photos.")
            self.mode_changed.emit(self.mode)
            return
        self.compare.show_items("compare", [current, other])
        self.set_mode("compare")

    def toggle_survey(self) -> None:
        """N: the selected photos (2 to 8) side by side."""
        if self.mode == "survey":
            self.leave_loupe()
            return
        items = self.selected_items()
        if not 2 <= len(items) <= SURVEY_MAX:
            self.message.emit(f"Survey shows 2 to {SURVEY_MAX} selected photos; {len(items)} selected.")
            self.mode_changed.emit(self.mode)
            return
        current = self.current_item()
        if current in items:  # the current photo first, under focus
            items.remove(current)
            items.insert(0, current)
        self.compare.show_items("survey", items)
        self.set_mode("survey")

    def zoom(self, steps: int) -> None:
        """Ctrl+/Ctrl−: zoom the photo in the loupe or the compare view; in the grid and table, the thumbnails."""
        if self.mode == "loupe":
            self.loupe.canvas.zoom_step(steps)
        elif self.mode in MULTI_VIEWS:
            self.compare.zoom_step(steps)
        else:
            self.thumbnail_zoom.emit(steps)

    def toggle_zoom(self) -> None:
        """Z: fit ↔ 100 % in the loupe and the compare view; from the grid or the table, the loupe at 100 %."""
        if self.mode in MULTI_VIEWS:
            self.compare.toggle_zoom()
            return
        if self.mode != "loupe":
            if self.current_item() is None:
                return
            self.set_mode("loupe")
        self.loupe.canvas.toggle_zoom()

    def neighbour(self, item: PhotoItem, delta: int, skip: list[PhotoItem]) -> PhotoItem | None:
        """The photo ``delta`` rows from ``item`` in the view's order, passing over those in ``skip``."""
        row = self.model.row_of(item.path)
        index = self.proxy.mapFromSource(self.model.index(row, 0)) if row is not None else QModelIndex()
        if not index.isValid():
            return None
        r = index.row() + delta
        while 0 <= r < self.proxy.rowCount():
            candidate = self.proxy.item_at(r)
            if all(candidate is not s for s in skip):
                return candidate
            r += delta
        return None

    def _focus_photo(self, item: PhotoItem | None) -> None:
        """The compare / survey pane under focus is the current photo (the culling keys act on it); the
        selection is left as it is."""
        row = self.model.row_of(item.path) if item is not None else None
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if index.isValid():
            self.selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)

    def _loupe_full(self, path: str, side: int, size: QSize | None) -> None:
        """The loupe's full-resolution decode; one stepped away from is dropped if it has not started."""
        self.decoder.want([path])
        self.decoder.request(path, side, size)

    def _on_decoded(self, path: str, side: int, image: QImage | None, error: str | None, size: QSize) -> None:
        self.loupe.set_decoded(path, side, image, error, size)
        self.compare.set_decoded(path, side, image, error, size)

    def set_cell_size(self, index: int) -> None:
        """The grid's cell: ``index`` into :data:`CELL_SIZES` (the toolbar's size slider)."""
        cell = CELL_SIZES[max(0, min(len(CELL_SIZES) - 1, index))]
        self.grid_delegate.cell = cell
        self.grid_fitter.fit()  # the columns spread over the whole width
        self.grid.doItemsLayout()

    def keep_current_visible(self) -> None:
        index = self.selection.currentIndex()
        if index.isValid() and self.mode in ("grid", "table"):
            self.current_view().scrollTo(index)

    # -- the loupe follows the current photo --------------------------------------------------------------------
    def refresh_loupe(self) -> None:
        if self.mode == "loupe":
            item = self.current_item()
            self.loupe.show_item(item, self.thumbnails.get(item) if item else None)

    def show_thumbnail(self, path: str) -> None:
        """A thumbnail arrived: the loupe shows it while its full preview is still being decoded."""
        if self.mode in MULTI_VIEWS:
            self.compare.show_thumbnail(path)
        item = self.loupe.item
        if self.mode == "loupe" and item is not None and item.path == path and self.loupe.canvas.image is None:
            self.loupe.show_item(item, self.thumbnails.get(item))

    def follow_current(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self.refresh_loupe()  # the new current index is the selection's by then

    def refresh_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        """Rows of the model changed: redraw the loupe if it shows one of them (the compare captions: always)."""
        if self.mode in MULTI_VIEWS:
            self.compare.refresh()
        item = self.loupe.item
        if item is not None and self.mode == "loupe":
            row = self.model.row_of(item.path)
            if row is not None and top_left.row() <= row <= bottom_right.row():
                self.loupe.refresh()

    # -- current photo and selection ------------------------------------------------------------------------------
    def current_item(self) -> PhotoItem | None:
        index = self.selection.currentIndex()
        return self.proxy.item_at(index.row()) if index.isValid() else None

    def selected_items(self) -> list[PhotoItem]:
        """The selected photos in view order; the current one when nothing is selected. In compare and survey:
        the photo under focus (what the culling keys change)."""
        if self.mode in MULTI_VIEWS:
            return [self.compare.focused_item] if self.compare.focused_item is not None else []
        rows = sorted({index.row() for index in self.selection.selectedIndexes()})
        if not rows:
            item = self.current_item()
            return [item] if item is not None else []
        return [self.proxy.item_at(r) for r in rows]

    def set_current_proxy_row(self, row: int) -> None:
        if 0 <= row < self.proxy.rowCount():
            column = self.selection.currentIndex().column() if self.mode == "table" else Column.NAME
            index = self.proxy.index(row, max(0, column))
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.selection.setCurrentIndex(index, flags)
            if self.mode != "loupe":
                self.current_view().scrollTo(index)

    def set_current_source(self, source_row: int) -> None:
        proxy_index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if proxy_index.isValid():
            self.set_current_proxy_row(proxy_index.row())

    def step(self, delta: int) -> None:
        """Move the current photo by ``delta`` rows of the view (the loupe's arrow keys)."""
        index = self.selection.currentIndex()
        row = index.row() + delta if index.isValid() else 0
        self.set_current_proxy_row(max(0, min(self.proxy.rowCount() - 1, row)))

    def select_path(self, path: str | os.PathLike[str]) -> bool:
        """Make the photo at ``path`` current (if it is in the view)."""
        row = self.model.row_of(path_key(path))
        if row is None or not self.proxy.mapFromSource(self.model.index(row, 0)).isValid():
            return False
        self.set_current_source(row)
        return True
