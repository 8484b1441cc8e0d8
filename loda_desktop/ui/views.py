"""The photo views: a thumbnail grid and a table over ONE proxy and ONE selection model, and the loupe, in a stack.

:class:`PhotoViews` knows which view is shown, which photo is current and which are selected, and moves between
them; the culling actions are added to it, so their single keys work while any of the three has the focus.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QListView, QStackedWidget, QTableView, QWidget

from loda_desktop.catalog import path_key

from .delegates import TEXT_HEIGHT, GridDelegate
from .loaders import ThumbnailLoader
from .loupe import LoupeView
from .models import Column, PhotoFilterProxy, PhotoItem, PhotoTableModel

__all__ = ["CELL_SIZES", "VIEWS", "PhotoViews"]

VIEWS = ("grid", "table", "loupe")
CELL_SIZES = (120, 144, 176, 208, 256)
TABLE_WIDTHS = {
    Column.NAME: 220,
    Column.SCORE: 70,
    Column.SPREAD: 70,
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

    def __init__(self, proxy: PhotoFilterProxy, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("views")
        self.proxy = proxy
        self.thumbnails = thumbnails
        self.grid_delegate = GridDelegate(self)
        self.grid = _make_grid(self.grid_delegate, proxy)
        self.selection = self.grid.selectionModel()
        self.table = _make_table(proxy, self.selection)
        self.loupe = LoupeView(thumbnails.request_preview)
        for widget in (self.grid, self.table, self.loupe):
            self.addWidget(widget)
        self.view_before_loupe = "grid"
        self.loupe.step.connect(self.step)
        self.loupe.close_requested.connect(self.leave_loupe)
        self.grid.activated.connect(lambda _index: self.set_mode("loupe"))
        self.table.activated.connect(lambda _index: self.set_mode("loupe"))

    @property
    def model(self) -> PhotoTableModel:
        return self.proxy.sourceModel()

    # -- which view ---------------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return VIEWS[self.currentIndex()]

    def current_view(self) -> QWidget:
        return self.currentWidget()

    def set_mode(self, mode: str) -> None:
        """Show the ``grid``, the ``table`` or the ``loupe`` (the selection is the same in all three)."""
        if mode not in VIEWS:
            raise ValueError(f"unknown view {mode!r}")
        if mode == "loupe" and self.mode != "loupe":
            self.view_before_loupe = self.mode
        self.setCurrentIndex(VIEWS.index(mode))
        self.mode_changed.emit(mode)
        if mode == "loupe":  # the loupe asks for the full preview itself (show_item, showEvent)
            self.refresh_loupe()
        else:
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

    def set_cell_size(self, index: int) -> None:
        """The grid's cell: ``index`` into :data:`CELL_SIZES` (the toolbar's size slider)."""
        cell = CELL_SIZES[max(0, min(len(CELL_SIZES) - 1, index))]
        self.grid_delegate.cell = cell
        self.grid.setGridSize(QSize(cell + 4, cell + TEXT_HEIGHT + 4))
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
        item = self.loupe.item
        if self.mode == "loupe" and item is not None and item.path == path and self.loupe.canvas.image is None:
            self.loupe.show_item(item, self.thumbnails.get(item))

    def follow_current(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self.refresh_loupe()  # the new current index is the selection's by then

    def refresh_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        """Rows of the model changed: redraw the loupe if it shows one of them."""
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
        """The selected photos in view order; the current one when nothing is selected."""
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
