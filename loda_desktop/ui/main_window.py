"""The main window: open a shoot, watch it being scored, cull it from the keyboard, export the ranking.

Layout: a toolbar (open, view mode, sort, filters), an "untrained model" banner when it applies, the views
(a thumbnail grid and a table over ONE proxy and ONE selection model, and the loupe), and a status bar with
the scoring progress, Pause and Cancel.

Keyboard map (the culling keys work while the grid, table or loupe has focus):

======================  ====================================================
0 – 5                   rating (0 clears)
P / X / U               pick / reject / unflag, then advance to the next photo
6 / 7 / 8 / 9           colour label red / yellow / green / blue (again: clear)
arrow keys              move (in the loupe: Left/Up previous, Right/Down next)
Return, Space, E        loupe on / off (Escape leaves it)
G / T                   grid / table
H                       hide rejected photos
Ctrl+Z                  undo (ratings, flags, labels; moves and trash, also after a restart)
Ctrl+Backspace          move rejected photos to the ``_rejected`` subfolder
Ctrl+Shift+Backspace    move rejected photos to the system trash (asks first)
Ctrl+O / F5             open a folder / rescan it
Ctrl+Shift+E            export the current view as CSV
Ctrl++ / Ctrl+-         larger / smaller thumbnails
Ctrl+, / Ctrl+Q         settings / quit
======================  ====================================================

Data: ratings, flags and labels are written through a :class:`Catalog` opened in the UI thread (single-row
writes; the UI thread never decodes an image or runs the network). Moves and trash go through
:class:`FileActions` and its journal, so they can be undone after a restart.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import sqlite3
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QStackedWidget,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from loda_desktop.catalog import Catalog, path_key
from loda_desktop.culling import Culling, UndoResult
from loda_desktop.engine import DEFAULT_MODEL, ScoreSummary
from loda_desktop.exif import ExifInfo
from loda_desktop.export import ExportRow, rank_rows, write_csv
from loda_desktop.fileops import ActionResult, FileActions
from loda_desktop.paths import cache_dir, config_dir
from loda_desktop.scan import REJECT_DIR, is_supported
from loda_desktop.settings import Settings, load_settings, save_settings
from loda_desktop.thumbnails import ThumbnailCache

from .delegates import TEXT_HEIGHT, GridDelegate
from .loupe import LoupeView
from .models import SORT_KEYS, Column, PhotoFilterProxy, PhotoItem, PhotoTableModel, stars
from .workers import EngineInfo, MetadataLoader, Progress, ScoringController, ThumbnailLoader

log = logging.getLogger(__name__)

__all__ = ["LABEL_KEYS", "MainWindow"]

APP_TITLE = "LoDa Desktop"
LABEL_KEYS = {"6": "red", "7": "yellow", "8": "green", "9": "blue"}
VIEWS = ("grid", "table", "loupe")
CELL_SIZES = (120, 144, 176, 208, 256)


def _load_settings_reporting() -> tuple[Settings, list[str]]:
    """The saved settings, and what was wrong with the file (a bad value, a damaged file kept as .bak)."""
    problems: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(record.getMessage())

    settings_log = logging.getLogger("loda_desktop.settings")
    handler = Collect(logging.WARNING)
    settings_log.addHandler(handler)
    try:
        return load_settings(), problems
    finally:
        settings_log.removeHandler(handler)


class MainWindow(QMainWindow):
    """The application window. ``settings`` default to the saved ones; ``catalog_path`` to the user's catalog."""

    engine_changed = Signal(object)  # EngineInfo
    engine_failed = Signal(str)  # the model cannot be used (the banner says why)
    model_loaded = Signal(str)  # the network is in memory (it loads in the scoring thread at startup)
    scoring_finished = Signal(object)  # ScoreSummary (also when cancelled)
    scoring_failed = Signal(str)
    photos_added = Signal(int)  # how many rows the model got

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        catalog_path: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        settings_problems: list[str] = []
        if settings is None:
            settings, settings_problems = _load_settings_reporting()
        self.settings = settings
        self.catalog_path = catalog_path
        self.catalog = Catalog(catalog_path)  # CatalogError: shown by app.main
        self._closed = False
        try:
            self.file_actions = FileActions(self.catalog)
        except BaseException:
            self.catalog.close()
            raise
        self.prefs = QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)
        self.engine_info: EngineInfo | None = None
        self.engine_error: str | None = None
        self.model_notice: str | None = None  # the saved model failed last time: the default is used instead
        self.finetune_dialog = None  # the fine-tune in progress or waiting for review (FinetuneDialog)
        self.roots: list[str] = []
        self.generation = 0
        self.progress: Progress | None = None
        self.summary: ScoreSummary | None = None
        self.culling = Culling(self.catalog, self.file_actions)  # ratings, flags, labels and the undo history
        self._score_range: tuple[float, float] | None = None
        self._restore_current: str | None = None
        self._progress_shown: bool | None = None

        self.thumbnails = ThumbnailLoader(self, disk_cache=ThumbnailCache(cache_dir() / "thumbnails"))
        self.metadata = MetadataLoader(self, catalog_path=catalog_path)
        self.scoring = ScoringController(self, catalog_path=catalog_path)
        self.model = PhotoTableModel(self, thumbnails=self.thumbnails)
        self.proxy = PhotoFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self._build_views()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self._restore_prefs()
        self.grid_delegate.warm_up(self.grid.palette(), self.grid.font())
        self._fall_back_from_failed_model()
        self._update_banner()
        self.scoring.configure(self.settings)
        for recovered in self.file_actions.recovered:
            self.statusBar().showMessage(recovered.message, 15000)
        if settings_problems:
            self.statusBar().showMessage("Settings: " + "; ".join(settings_problems), 30000)

    # -- construction ---------------------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.grid_delegate = GridDelegate(self)
        self.grid = QListView()
        self.grid.setObjectName("grid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(500)
        self.grid.setSpacing(4)
        self.grid.setWrapping(True)
        self.grid.setDragEnabled(False)
        self.grid.setAcceptDrops(False)
        self.grid.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.grid.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.grid.setItemDelegate(self.grid_delegate)
        self.grid.setModel(self.proxy)

        self.table = QTableView()
        self.table.setObjectName("table")
        self.table.setModel(self.proxy)
        self.selection = self.grid.selectionModel()
        old = self.table.selectionModel()
        self.table.setSelectionModel(self.selection)
        old.deleteLater()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAcceptDrops(False)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        widths = {Column.NAME: 220, Column.SCORE: 70, Column.SPREAD: 70, Column.RATING: 80, Column.FLAG: 60}
        widths |= {Column.LABEL: 70, Column.CAPTURED: 150, Column.STATUS: 260}
        for column, width in widths.items():
            header.resizeSection(column, width)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

        self.loupe = LoupeView(self.thumbnails.request_preview)

        self.views = QStackedWidget()
        self.views.setObjectName("views")
        for widget in (self.grid, self.table, self.loupe):
            self.views.addWidget(widget)

        self.banner_bar = QFrame()
        self.banner_bar.setObjectName("bannerBar")
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner_button = QPushButton()
        self.banner_button.setObjectName("bannerButton")
        self.banner_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.banner_button.clicked.connect(self._on_banner_button)
        banner_layout = QHBoxLayout(self.banner_bar)
        banner_layout.setContentsMargins(0, 0, 8, 0)
        banner_layout.addWidget(self.banner, 1)
        banner_layout.addWidget(self.banner_button)
        self.banner_bar.hide()

        self.empty_hint = QLabel(
            "Drop a folder of photos here, or use File ▸ Open Folder… (Ctrl+O).\n"
            "Every photo gets a LoDa quality score; sort, pick, reject and export from the keyboard."
        )
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner_bar)
        layout.addWidget(self.empty_hint, 1)
        layout.addWidget(self.views, 1)
        self.views.hide()
        self.setCentralWidget(central)

    def _action(
        self,
        text: str,
        slot,
        shortcut: str | QKeySequence | list | None = None,
        *,
        culling: bool = False,
        checkable: bool = False,
        tip: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        if culling:  # single keys: only while the photos have focus (not while typing in the search box)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.views.addAction(action)
        else:
            self.addAction(action)
        return action

    def _build_actions(self) -> None:
        style = self.style()
        a = self._action
        self.open_action = a("&Open Folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        self.open_action.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon))
        self.rescan_action = a("&Rescan", self.rescan, "F5", tip="Scan the open folder again for new photos")
        self.export_action = a("&Export CSV…", self.choose_export, "Ctrl+Shift+E", tip="Export the current view")
        self.export_action.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton))
        self.settings_action = a("&Settings…", self.show_settings, "Ctrl+,")
        self.quit_action = a("&Quit", self.close, QKeySequence.StandardKey.Quit)

        self.undo_action = a("&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.move_rejected_action = a(
            f"&Move Rejected to {REJECT_DIR}",
            lambda: self.move_rejected(trash=False),
            "Ctrl+Backspace",
            tip=f"Move every rejected photo into a {REJECT_DIR} subfolder next to it (undoable)",
        )
        self.trash_rejected_action = a(
            "Move Rejected to &Trash…",
            lambda: self.move_rejected(trash=True),
            "Ctrl+Shift+Backspace",
            tip="Send every rejected photo to the system trash (undoable)",
        )

        self.rating_actions = []
        for n in range(6):
            text = f"Rate {stars(n)}" if n else "Clear Rating"
            self.rating_actions.append(a(text, lambda _=False, n=n: self.rate(n), str(n), culling=True))
        self.pick_action = a("&Pick", lambda: self.set_flag("pick"), "P", culling=True)
        self.reject_action = a("Re&ject", lambda: self.set_flag("reject"), "X", culling=True)
        self.unflag_action = a("&Unflag", lambda: self.set_flag(None), "U", culling=True)
        self.label_actions = []
        for key, colour in LABEL_KEYS.items():
            self.label_actions.append(
                a(f"Label {colour.capitalize()}", lambda _=False, c=colour: self.toggle_label(c), key, culling=True)
            )
        self.auto_advance_action = a("&Advance After Flag", lambda: None, checkable=True)
        self.auto_advance_action.setChecked(True)

        self.view_group = QActionGroup(self)
        self.grid_action = a("&Grid", lambda: self.set_view("grid"), "G", culling=True, checkable=True)
        self.table_action = a("&Table", lambda: self.set_view("table"), "T", culling=True, checkable=True)
        self.loupe_action = a(
            "&Loupe", self.toggle_loupe, ["E", "Return", "Enter", "Space"], culling=True, checkable=True
        )
        for action in (self.grid_action, self.table_action, self.loupe_action):
            self.view_group.addAction(action)
        self.grid_action.setChecked(True)
        self.hide_rejected_action = a(
            "&Hide Rejected", lambda on: self.proxy.set_hide_rejected(on), "H", culling=True, checkable=True
        )
        self.zoom_in_action = a("&Larger Thumbnails", lambda: self.zoom(1), QKeySequence.StandardKey.ZoomIn)
        self.zoom_out_action = a("&Smaller Thumbnails", lambda: self.zoom(-1), QKeySequence.StandardKey.ZoomOut)

        self.pause_action = a("&Pause Scoring", self.toggle_pause, "F9", checkable=True)
        self.cancel_action = a("&Cancel Scoring", self.cancel_scoring, "Shift+F9")
        self.finetune_action = a(
            "&Fine-tune on My Ratings…", self.show_finetune, tip="Train the model on your ratings, picks and rejects"
        )

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (self.open_action, self.rescan_action, self.export_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.move_rejected_action)
        edit_menu.addAction(self.trash_rejected_action)
        edit_menu.aboutToShow.connect(self._update_undo_text)

        photo_menu = bar.addMenu("&Photo")
        for action in (self.pick_action, self.reject_action, self.unflag_action):
            photo_menu.addAction(action)
        photo_menu.addAction(self.auto_advance_action)
        photo_menu.addSeparator()
        for action in self.rating_actions:
            photo_menu.addAction(action)
        photo_menu.addSeparator()
        for action in self.label_actions:
            photo_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        for action in (self.grid_action, self.table_action, self.loupe_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.hide_rejected_action)
        view_menu.addSeparator()
        view_menu.addAction(self.zoom_in_action)
        view_menu.addAction(self.zoom_out_action)

        scoring_menu = bar.addMenu("&Scoring")
        scoring_menu.addAction(self.pause_action)
        scoring_menu.addAction(self.cancel_action)
        scoring_menu.addSeparator()
        scoring_menu.addAction(self.finetune_action)
        scoring_menu.addAction(self.settings_action)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addAction(self.open_action)
        bar.addAction(self.export_action)
        bar.addSeparator()
        for action in (self.grid_action, self.table_action, self.loupe_action):
            bar.addAction(action)
        bar.addSeparator()

        bar.addWidget(QLabel(" Sort "))
        self.sort_combo = QComboBox()
        self.sort_combo.setObjectName("sortCombo")
        self.sort_combo.addItems(list(SORT_KEYS))
        self.sort_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        bar.addWidget(self.sort_combo)
        self.order_button = QToolButton()
        self.order_button.setObjectName("orderButton")
        self.order_button.setCheckable(True)
        self.order_button.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.order_button.setToolTip("Reverse the order")
        bar.addWidget(self.order_button)
        bar.addSeparator()

        bar.addAction(self.hide_rejected_action)
        bar.addWidget(QLabel(" Score ≥ "))
        self.min_score = QDoubleSpinBox()
        self.min_score.setObjectName("minScore")
        self.min_score.setDecimals(3)
        self.min_score.setRange(-1.0, 1.0)
        self.min_score.setSingleStep(0.01)
        self.min_score.setSpecialValueText("any")
        self.min_score.setValue(self.min_score.minimum())
        self.min_score.setKeyboardTracking(False)
        self.min_score.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        bar.addWidget(self.min_score)
        bar.addWidget(QLabel(" Rating ≥ "))
        self.min_rating = QComboBox()
        self.min_rating.setObjectName("minRating")
        self.min_rating.addItems(["any", *(stars(n) for n in range(1, 6))])
        self.min_rating.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        bar.addWidget(self.min_rating)
        bar.addSeparator()
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Filter by name")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(180)
        bar.addWidget(self.search)
        bar.addSeparator()
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self.zoom_slider.setObjectName("zoom")
        self.zoom_slider.setRange(0, len(CELL_SIZES) - 1)
        self.zoom_slider.setValue(CELL_SIZES.index(176))
        self.zoom_slider.setMaximumWidth(100)
        self.zoom_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.zoom_slider.setToolTip("Thumbnail size (Ctrl++ / Ctrl+-)")
        bar.addWidget(self.zoom_slider)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progressLabel")
        self.pause_button = QToolButton()
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setDefaultAction(self.pause_action)
        self.pause_button.setText("Pause")
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setDefaultAction(self.cancel_action)
        self.cancel_button.setText("Cancel")
        self.model_label = QLabel()
        self.model_label.setObjectName("modelLabel")
        self.finetune_button = QToolButton()
        self.finetune_button.setObjectName("finetuneButton")
        self.finetune_button.setAutoRaise(True)
        self.finetune_button.setToolTip("Show the fine-tuning: progress, live plot, Cancel, Accept or Discard")
        self.finetune_button.clicked.connect(lambda: self.show_finetune())
        self.finetune_button.hide()
        status.addPermanentWidget(self.finetune_button)
        for widget in (self.progress_label, self.progress_bar, self.pause_button, self.cancel_button):
            status.addPermanentWidget(widget)
        status.addPermanentWidget(self.count_label)
        status.addPermanentWidget(self.model_label)
        self._show_progress_widgets(False)

    def _connect(self) -> None:
        worker = self.scoring.worker
        worker.engine_ready.connect(self._on_engine_ready)
        worker.engine_failed.connect(self._on_engine_failed)
        worker.model_loaded.connect(self._on_model_loaded)
        worker.scanned.connect(self._on_scanned)
        worker.photos_found.connect(self._on_photos_found)
        worker.results.connect(self._on_results)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self.thumbnails.ready.connect(self.model.thumbnail_ready)
        self.thumbnails.ready.connect(self._on_thumbnail)
        self.thumbnails.preview_ready.connect(self._on_preview)
        self.metadata.capture_times.connect(self._on_capture_times)
        self.selection.currentChanged.connect(self._on_current_changed)
        self.model.dataChanged.connect(self._on_data_changed)
        self.model.rowsInserted.connect(self._schedule_counts)
        self.model.rowsRemoved.connect(self._schedule_counts)
        self.model.modelReset.connect(self._schedule_counts)
        self.proxy.rowsInserted.connect(self._schedule_counts)
        self.proxy.rowsRemoved.connect(self._schedule_counts)
        self.proxy.layoutChanged.connect(self._schedule_counts)
        self.loupe.step.connect(self.step)
        self.loupe.close_requested.connect(self.leave_loupe)
        self.grid.activated.connect(lambda _index: self.set_view("loupe"))
        self.table.activated.connect(lambda _index: self.set_view("loupe"))
        self.sort_combo.currentTextChanged.connect(lambda _text: self._apply_sort())
        self.order_button.toggled.connect(lambda _on: self._apply_sort())
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._on_header_sort)
        self.min_score.valueChanged.connect(self._on_min_score)
        self.min_rating.currentIndexChanged.connect(self.proxy.set_min_rating)
        self.search.textChanged.connect(self.proxy.set_text)
        self.zoom_slider.valueChanged.connect(self._set_cell_size)
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(150)
        self._counts_timer.timeout.connect(self._update_counts)

    # -- preferences (window.ini next to settings.json; LODA_HOME moves it too) ------------------------------
    def _restore_prefs(self) -> None:
        p = self.prefs
        geometry = p.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        sort_name = str(p.value("view/sort", "Score"))
        if sort_name not in SORT_KEYS:
            sort_name = "Score"
        self.sort_combo.blockSignals(True)
        self.sort_combo.setCurrentText(sort_name)
        self.sort_combo.blockSignals(False)
        self.order_button.blockSignals(True)
        self.order_button.setChecked(p.value("view/reversed", False, type=bool))
        self.order_button.blockSignals(False)
        self._apply_sort()
        self.table.setSortingEnabled(True)  # header clicks sort too (the indicator already matches)
        self.hide_rejected_action.setChecked(p.value("filter/hide_rejected", False, type=bool))
        self.proxy.set_hide_rejected(self.hide_rejected_action.isChecked())
        self.min_rating.setCurrentIndex(min(5, max(0, p.value("filter/min_rating", 0, type=int))))
        self.auto_advance_action.setChecked(p.value("cull/auto_advance", True, type=bool))
        cell = p.value("view/cell", 176, type=int)
        self.zoom_slider.setValue(min(range(len(CELL_SIZES)), key=lambda i: abs(CELL_SIZES[i] - cell)))
        self._set_cell_size(self.zoom_slider.value())
        view = str(p.value("view/mode", "grid"))
        self.set_view(view if view in ("grid", "table") else "grid")

    def _save_prefs(self) -> None:
        p = self.prefs
        p.setValue("window/geometry", self.saveGeometry())
        p.setValue("view/sort", self.sort_combo.currentText())
        p.setValue("view/reversed", self.order_button.isChecked())
        p.setValue("view/mode", self.view_mode if self.view_mode != "loupe" else self._view_before_loupe)
        p.setValue("view/cell", self.grid_delegate.cell)
        p.setValue("filter/hide_rejected", self.proxy.hide_rejected)
        p.setValue("filter/min_rating", self.proxy.min_rating)
        p.setValue("cull/auto_advance", self.auto_advance_action.isChecked())
        if self.roots:
            p.setValue("files/last_folder", self.roots[0])
        p.sync()

    # -- opening --------------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = str(self.prefs.value("files/last_folder", str(Path.home())))
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", start)
        if folder:
            self.open_folders([folder])

    def open_folders(self, roots: list[str | os.PathLike[str]]) -> int:
        """Show the photos under ``roots`` (folders or photo files) and score them; returns the generation."""
        self.roots = [path_key(r) for r in roots]
        self.model.clear()
        self.thumbnails.forget()
        self.summary = None
        self._score_range = None
        self.toggle_pause(False)
        self.generation = self.scoring.open(self.roots)
        names = ", ".join(os.path.basename(r) or r for r in self.roots)
        self.setWindowTitle(f"{names} — {APP_TITLE}")
        self.empty_hint.hide()
        self.views.show()
        self._on_progress(Progress(self.generation, "scanning"))
        if not self.views.hasFocus() and self.view_mode != "loupe":
            self.current_view().setFocus()
        return self.generation

    def rescan(self) -> None:
        if self.roots:
            current = self.current_item()
            self.open_folders(self.roots)
            self._restore_current = current.path if current else None

    # -- worker signals -------------------------------------------------------------------------------------
    def _on_engine_ready(self, info: EngineInfo) -> None:
        self.engine_info, self.engine_error = info, None
        self.model_label.setText(f"Model: {info.model_name} · {info.settings.crops} crops · loading…")
        self._update_banner()
        self.engine_changed.emit(info)

    def _on_model_loaded(self, description: str) -> None:
        if self.engine_info is not None:
            info = self.engine_info
            self.model_label.setText(f"Model: {info.model_name} · {info.settings.crops} crops · {description}")
            if self.prefs.value("model/failed", "") == info.settings.model:  # it loads again: forget the failure
                self.prefs.remove("model/failed")
                self.prefs.remove("model/failed_reason")
        self.model_loaded.emit(description)

    def _on_engine_failed(self, message: str) -> None:
        self.engine_info, self.engine_error = None, message
        self.model_label.setText("Model: not loaded")
        if self.settings.model != DEFAULT_MODEL:  # the next launch starts with the default model instead
            self.prefs.setValue("model/failed", self.settings.model)
            self.prefs.setValue("model/failed_reason", message)
            self.prefs.sync()
        self._update_banner()
        self.engine_failed.emit(message)

    def _fall_back_from_failed_model(self) -> None:
        """A saved model that failed to load last time is not tried again silently: the default model is used
        (and saved as the setting), and the banner says so."""
        failed = str(self.prefs.value("model/failed", "") or "")
        if not failed or failed != self.settings.model or failed == DEFAULT_MODEL:
            return
        reason = str(self.prefs.value("model/failed_reason", "") or "it could not be loaded")
        self.model_notice = (
            f"The model '{failed}' could not be loaded last time ({reason}), so the default model is used."
            " Choose it again in Settings ▸ Model once it is fixed."
        )
        self.settings = dataclasses.replace(self.settings, model=DEFAULT_MODEL)
        try:
            save_settings(self.settings)
        except OSError as exc:
            log.warning("cannot save the settings: %s", exc)
        self.prefs.remove("model/failed")
        self.prefs.remove("model/failed_reason")

    def use_default_model(self) -> None:
        """Switch to the default model (the banner's button after a model failed) and re-score."""
        self.model_notice = None
        settings = dataclasses.replace(self.settings, model=DEFAULT_MODEL)
        try:
            save_settings(settings)
        except OSError as exc:
            self.statusBar().showMessage(f"Could not save the settings: {exc}", 15000)
        self.prefs.remove("model/failed")
        self.prefs.remove("model/failed_reason")
        self.apply_settings(settings)

    def _on_banner_button(self) -> None:
        if self.engine_error and self.settings.model != DEFAULT_MODEL:
            self.use_default_model()
        else:  # the note about a fallback: read, dismissed
            self.model_notice = None
            self._update_banner()

    def _update_banner(self) -> None:
        button = None
        if self.engine_error:
            text = f"⚠  The model cannot be used: {self.engine_error}"
            if self.settings.model != DEFAULT_MODEL:
                button = "Use the Default Model"
            text += "  Your photos, ratings, flags and labels are not affected; they just have no new scores."
            level = "error"
        elif self.model_notice:
            text, level, button = f"⚠  {self.model_notice}", "warning", "Dismiss"
        elif self.engine_info is not None and self.engine_info.notice:
            text, level = f"⚠  {self.engine_info.notice}", "warning"
        else:
            self.banner_bar.hide()
            return
        self.banner.setText(text)
        self.banner.setProperty("level", level)
        self.banner_button.setVisible(button is not None)
        self.banner_button.setText(button or "")
        self.banner_bar.setStyleSheet(
            "QFrame#bannerBar { background: %s; } QLabel#banner { padding: 7px 12px; font-weight: 600;"
            " color: #1b1b1b; }" % ("#f2a33a" if level == "warning" else "#ff8080")
        )
        self.banner_bar.show()

    def _on_scanned(self, generation: int, count: int, problems: list[tuple[str, str]]) -> None:
        if generation != self.generation or self._closed:
            return
        if count == 0:
            self.statusBar().showMessage("No photos found in " + ", ".join(self.roots), 15000)
        if problems:
            shown = "; ".join(f"{p}: {m}" for p, m in problems[:3])
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            self.statusBar().showMessage(f"Some folders could not be read: {shown}{more}", 15000)

    def _on_photos_found(self, generation: int, items: list[PhotoItem]) -> None:
        if generation != self.generation or self._closed:
            return
        added = self.model.add_items(items)
        self.metadata.request(generation, [it.path for it in items if not it.capture_time and it.size])
        restore = self._restore_current
        if restore and self.model.row_of(restore) is not None:
            self._set_current_source(self.model.row_of(restore))
            self._restore_current = None
        elif not self.selection.currentIndex().isValid() and self.proxy.rowCount():
            self._set_current_proxy_row(0)
        self.photos_added.emit(added)

    def _on_results(self, generation: int, results: list[tuple]) -> None:
        if generation != self.generation or self._closed:
            return
        self.model.apply_results(results)

    def _on_progress(self, progress: Progress) -> None:
        if progress.generation != self.generation or self._closed:
            return
        self.progress = progress
        phase = progress.phase
        busy = phase not in ("done", "cancelled")
        self._show_progress_widgets(busy)
        if not busy:
            return
        bar = self.progress_bar
        if phase in ("scanning", "loading model") or progress.total == 0:
            bar.setRange(0, 0)  # busy indicator
        else:
            bar.setRange(0, progress.total)
            bar.setValue(progress.done)
        label = {
            "scanning": "Scanning…",
            "loading": f"Reading the catalog… {progress.total:,} photos",
            "loading model": "Loading the model…",
            "paused": "Paused · " + progress.describe(),
        }.get(phase, progress.describe())
        self.progress_label.setText(label)

    def _show_progress_widgets(self, visible: bool) -> None:
        if self._progress_shown == visible:
            return
        self._progress_shown = visible
        for widget in (self.progress_bar, self.progress_label, self.pause_button, self.cancel_button):
            widget.setVisible(visible)
        self.pause_action.setEnabled(visible)
        self.cancel_action.setEnabled(visible)

    def _on_finished(self, generation: int, summary: ScoreSummary) -> None:
        if generation != self.generation or self._closed:
            return
        self.summary = summary
        self._show_progress_widgets(False)
        self.toggle_pause(False)
        if summary.unscored_reason:
            self._update_banner()
        self.statusBar().showMessage(summary.describe() if summary.total else "No photos to score.", 30000)
        self._update_counts()
        self.scoring_finished.emit(summary)

    def _on_failed(self, generation: int, message: str) -> None:
        if generation != self.generation or self._closed:
            return
        self._show_progress_widgets(False)
        self.statusBar().showMessage(f"Scoring stopped: {message}", 60000)
        if self.engine_info is None:
            self._update_banner()
        self.scoring_failed.emit(message)

    def _on_capture_times(self, generation: int, found: dict[str, str]) -> None:
        if generation == self.generation and found and not self._closed:
            self.model.set_fields("capture_time", found)

    def _on_thumbnail(self, path: str) -> None:
        item = self.loupe.item
        if self.view_mode == "loupe" and item is not None and item.path == path and self.loupe.canvas.image is None:
            self.loupe.show_item(item, self.thumbnails.get(item))

    def _on_preview(self, path: str, image, error: str | None, exif: ExifInfo) -> None:
        self.loupe.set_preview(path, image, error, exif)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.view_mode == "loupe":
            item = self.proxy.item_at(current.row()) if current.isValid() else None
            self.loupe.show_item(item, self.thumbnails.get(item) if item else None)

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, roles: list[int]) -> None:
        item = self.loupe.item
        if item is not None and self.view_mode == "loupe":
            row = self.model.row_of(item.path)
            if row is not None and top_left.row() <= row <= bottom_right.row():
                self.loupe.refresh()
        self._schedule_counts()

    # -- counts and the score filter's range -----------------------------------------------------------------
    def _schedule_counts(self, *_: object) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _update_counts(self) -> None:
        if self._closed:
            return
        items = self.model.items
        total, shown = len(items), self.proxy.rowCount()
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
        self.count_label.setText(" · ".join(parts) if total else "")
        scores = [it.score for it in items if it.scored]
        if scores:
            self._set_score_range(min(scores), max(scores))

    def _set_score_range(self, lo: float, hi: float) -> None:
        """Fit the "Score ≥" box to the scores seen: a step of about 1/100 of the range, "any" below it."""
        span = max(hi - lo, 1e-6)
        step = 10 ** math.floor(math.log10(span / 10))
        low, high = math.floor(lo / step) * step, math.ceil(hi / step) * step
        if self._score_range == (low, high):
            return
        self._score_range = (low, high)
        box = self.min_score
        was_any = box.value() <= box.minimum()
        current = box.value()
        box.blockSignals(True)
        decimals = max(0, min(6, -math.floor(math.log10(step))))
        box.setDecimals(decimals)
        box.setSingleStep(step)
        box.setRange(low - step, high)
        box.setValue(box.minimum() if was_any else min(max(current, low), high))
        box.blockSignals(False)

    def _on_min_score(self, value: float) -> None:
        self.proxy.set_min_score(None if value <= self.min_score.minimum() else value)

    # -- sorting and views ------------------------------------------------------------------------------------
    def _apply_sort(self) -> None:
        name = self.sort_combo.currentText()
        if name not in SORT_KEYS:
            return
        column, natural = SORT_KEYS[name]
        order = natural
        if self.order_button.isChecked():
            descending = natural == Qt.SortOrder.DescendingOrder
            order = Qt.SortOrder.AscendingOrder if descending else Qt.SortOrder.DescendingOrder
        self.order_button.setText("↑" if order == Qt.SortOrder.AscendingOrder else "↓")
        self.proxy.sort(column, order)
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(column, order)
        header.blockSignals(False)
        self._keep_current_visible()

    def sort_by(self, name: str, reverse: bool = False) -> None:
        """Sort as the toolbar does: one of "Score", "Name", "Capture date", "Rating"."""
        if name not in SORT_KEYS:
            raise ValueError(f"unknown sort key {name!r}; use one of {', '.join(SORT_KEYS)}")
        self.order_button.blockSignals(True)
        self.order_button.setChecked(reverse)
        self.order_button.blockSignals(False)
        if self.sort_combo.currentText() == name:
            self._apply_sort()
        else:
            self.sort_combo.setCurrentText(name)

    def _on_header_sort(self, column: int, order: Qt.SortOrder) -> None:
        for name, (key_column, natural) in SORT_KEYS.items():
            if key_column == column:
                self.sort_combo.blockSignals(True)
                self.sort_combo.setCurrentText(name)
                self.sort_combo.blockSignals(False)
                self.order_button.blockSignals(True)
                self.order_button.setChecked(order != natural)
                self.order_button.setText("↑" if order == Qt.SortOrder.AscendingOrder else "↓")
                self.order_button.blockSignals(False)
                break
        self._keep_current_visible()

    def _keep_current_visible(self) -> None:
        index = self.selection.currentIndex()
        if index.isValid() and self.view_mode in ("grid", "table"):
            self.current_view().scrollTo(index)

    @property
    def view_mode(self) -> str:
        return VIEWS[self.views.currentIndex()]

    def current_view(self) -> QWidget:
        return self.views.currentWidget()

    def set_view(self, mode: str) -> None:
        """Show the ``grid``, the ``table`` or the ``loupe`` (the selection is the same in all three)."""
        if mode not in VIEWS:
            raise ValueError(f"unknown view {mode!r}")
        if mode == "loupe" and self.view_mode != "loupe":
            self._view_before_loupe = self.view_mode
        self.views.setCurrentIndex(VIEWS.index(mode))
        {"grid": self.grid_action, "table": self.table_action, "loupe": self.loupe_action}[mode].setChecked(True)
        if mode == "loupe":  # the loupe asks for the full preview itself (show_item, showEvent)
            item = self.current_item()
            self.loupe.show_item(item, self.thumbnails.get(item) if item else None)
        else:
            index = self.selection.currentIndex()
            if index.isValid():
                column = Column.NAME if mode == "grid" else index.column()
                self.selection.setCurrentIndex(
                    self.proxy.index(index.row(), column), QItemSelectionModel.SelectionFlag.NoUpdate
                )
                self.current_view().scrollTo(self.selection.currentIndex())
        if self.views.isVisible():
            self.current_view().setFocus()

    _view_before_loupe = "grid"

    def toggle_loupe(self) -> None:
        if self.view_mode == "loupe":
            self.leave_loupe()
        else:
            self.set_view("loupe")

    def leave_loupe(self) -> None:
        self.set_view(self._view_before_loupe)

    def _set_cell_size(self, index: int) -> None:
        cell = CELL_SIZES[max(0, min(len(CELL_SIZES) - 1, index))]
        self.grid_delegate.cell = cell
        self.grid.setGridSize(QSize(cell + 4, cell + TEXT_HEIGHT + 4))
        self.grid.doItemsLayout()

    def zoom(self, step: int) -> None:
        self.zoom_slider.setValue(self.zoom_slider.value() + step)

    # -- current item and selection ---------------------------------------------------------------------------
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

    def _set_current_proxy_row(self, row: int) -> None:
        if 0 <= row < self.proxy.rowCount():
            column = self.selection.currentIndex().column() if self.view_mode == "table" else Column.NAME
            index = self.proxy.index(row, max(0, column))
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.selection.setCurrentIndex(index, flags)
            if self.view_mode != "loupe":
                self.current_view().scrollTo(index)

    def _set_current_source(self, source_row: int) -> None:
        proxy_index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if proxy_index.isValid():
            self._set_current_proxy_row(proxy_index.row())

    def step(self, delta: int) -> None:
        """Move the current photo by ``delta`` rows of the view (the loupe's arrow keys)."""
        index = self.selection.currentIndex()
        row = index.row() + delta if index.isValid() else 0
        self._set_current_proxy_row(max(0, min(self.proxy.rowCount() - 1, row)))

    def select_path(self, path: str | os.PathLike[str]) -> bool:
        """Make the photo at ``path`` current (if it is in the view)."""
        row = self.model.row_of(path_key(path))
        if row is None or not self.proxy.mapFromSource(self.model.index(row, 0)).isValid():
            return False
        self._set_current_source(row)
        return True

    # -- culling ----------------------------------------------------------------------------------------------
    def rate(self, rating: int) -> None:
        self._change("rating", rating)

    def set_flag(self, flag: str | None) -> None:
        self._change("flag", flag, advance=True)

    def toggle_label(self, colour: str) -> None:
        """The label keys: set ``colour`` on the selection, or clear it where every photo has it already."""
        self._change("label", colour)

    def _change(self, field: str, value: Any, *, advance: bool = False) -> None:
        """Change ``field`` of the selected photos through :class:`Culling` (which journals it for undo, also
        across restarts), show it in the views and keep the current photo where the photographer expects it."""
        targets = self.selected_items()
        if not targets:
            return
        current = self.selection.currentIndex()
        neighbour: QPersistentModelIndex | None = None
        if current.isValid():
            row = current.row() + 1 if current.row() + 1 < self.proxy.rowCount() else current.row() - 1
            if row >= 0:
                neighbour = QPersistentModelIndex(self.proxy.mapToSource(self.proxy.index(row, 0)))
        current_source = QPersistentModelIndex(self.proxy.mapToSource(current)) if current.isValid() else None
        setter = {"rating": self.culling.set_rating, "flag": self.culling.set_flag, "label": self.culling.toggle_label}
        try:
            edit = setter[field]([it.path for it in targets], value)
        except (sqlite3.Error, ValueError) as exc:
            self.statusBar().showMessage(f"Could not save the {field}: {exc}", 15000)
            return
        if edit is not None:
            self.model.set_fields(field, {path: after for path, (_, after) in edit.changes.items()})
            self._update_undo_text()
        still_visible = current_source is not None and self.proxy.mapFromSource(current_source).isValid()
        move = advance and self.auto_advance_action.isChecked() and len(targets) == 1
        if (move or not still_visible) and neighbour is not None and neighbour.isValid():
            self._set_current_source(neighbour.row())
        elif still_visible and len(targets) == 1:
            self._set_current_source(current_source.row())
        self._refresh_loupe()

    def _refresh_loupe(self) -> None:
        if self.view_mode == "loupe":
            item = self.current_item()
            self.loupe.show_item(item, self.thumbnails.get(item) if item else None)

    # -- file actions and undo --------------------------------------------------------------------------------
    def move_rejected(self, *, trash: bool = False, confirm: bool = True) -> ActionResult | None:
        """Move every rejected photo of the open folder to ``_rejected/`` (or the trash); undoable."""
        rejected = [it for it in self.model.items if it.flag == "reject"]
        if not rejected:
            self.statusBar().showMessage("No rejected photos.", 8000)
            return None
        # a photo still waiting for its score stays: the scoring thread is about to read it
        waiting = [it for it in rejected if it.status == "pending" and self.scoring.busy]
        paths = [it.path for it in rejected if it.status != "pending" or not self.scoring.busy]
        if not paths:
            self.statusBar().showMessage("The rejected photos are still being scored; try again in a moment.", 8000)
            return None
        if trash and confirm:
            answer = QMessageBox.question(
                self,
                "Move to Trash",
                f"Move {len(paths)} rejected photo{'s' * (len(paths) != 1)} (and their sidecars) to the system "
                "trash?\n\nEdit ▸ Undo (Ctrl+Z) brings them back.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            result = self.file_actions.trash(paths) if trash else self.file_actions.move_to_subfolder(paths)
        except (OSError, sqlite3.Error, ValueError) as exc:
            self.statusBar().showMessage(f"Nothing was moved: {exc}", 30000)
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.model.remove_paths(str(src) for src, _ in result.succeeded)
        if result.action_id is not None and result.succeeded:
            self._update_undo_text()  # the journal entry is now the newest step of the undo history
        message = result.message
        if waiting:
            message += f" {len(waiting)} still being scored stayed."
        self.statusBar().showMessage(message, 30000)
        if result.failed:
            self._show_problems("Some photos could not be moved", result.failed)
        return result

    def undo(self) -> UndoResult | None:
        """Undo the newest step of the one history kept in the catalog (:mod:`loda_desktop.culling`): a rating,
        flag or label change or a move / trash, whichever came last, also from before a restart. The history is
        global, so the step may concern photos this window does not show; the status bar then says so."""
        try:
            result = self.culling.undo()
        except sqlite3.Error as exc:
            self.statusBar().showMessage(f"Could not undo: {exc}", 15000)
            return None
        self._update_undo_text()
        if result.files is not None:
            files = result.files
            restored = [str(to) for _, to in files.succeeded if to is not None and is_supported(to)]
            self._add_restored(restored)
            self.statusBar().showMessage(files.message, 30000)
            if files.failed:
                self._show_problems("Some files could not be restored", files.failed)
            return result
        message = result.message
        if result.field is not None:
            # kept: values changed outside this history; the views show what the catalog now holds
            self.model.set_fields(result.field, {**result.restored, **result.kept})
            elsewhere = sum(1 for path in result.restored if self.model.row_of(path) is None)
            if elsewhere and elsewhere == len(result.restored):
                message += " Not open in this window."
            elif elsewhere:
                message += f" {elsewhere} of them {'is' if elsewhere == 1 else 'are'} not open in this window."
            self._refresh_loupe()
        self.statusBar().showMessage(message, 8000)
        return result

    def _add_restored(self, paths: list[str]) -> None:
        mine = [p for p in paths if self._under_roots(p)]
        if not mine:
            return
        key = self.engine_info.model_key if self.engine_info else None
        try:
            records = self.catalog.rows(mine, key)
        except sqlite3.Error as exc:
            log.warning("cannot read restored photos: %s", exc)
            return
        self.model.add_items(PhotoItem.from_record(r.path, r, s) for r, s in records)
        if len(mine) == 1:
            self.select_path(mine[0])

    def _under_roots(self, path: str) -> bool:
        return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in self.roots)

    def _update_undo_text(self) -> None:
        """Edit ▸ Undo names the step Ctrl+Z would undo; refreshed after each change, so the shortcut is never
        left disabled by a menu opened when there was nothing to undo."""
        try:
            description = self.culling.next_undo()
        except sqlite3.Error as exc:
            log.warning("cannot read the undo history: %s", exc)
            description = None
        self.undo_action.setText(f"&Undo {description}" if description else "&Undo")
        self.undo_action.setEnabled(description is not None)

    def _show_problems(self, title: str, problems: list[tuple[Path, str]]) -> None:
        lines = [f"{Path(p).name}: {reason}" for p, reason in problems[:20]]
        if len(problems) > 20:
            lines.append(f"… and {len(problems) - 20} more")
        box = QMessageBox(QMessageBox.Icon.Warning, title, "\n".join(lines), QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()

    # -- export -----------------------------------------------------------------------------------------------
    def choose_export(self) -> None:
        base = os.path.basename(self.roots[0]) if self.roots else "photos"
        folder = self.roots[0] if self.roots and os.path.isdir(self.roots[0]) else ""
        start = os.path.join(folder, f"{base}-ranking.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export the current view as CSV", start, "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def export_rows(self) -> list[ExportRow]:
        """The current view (its filter and its order) as ranked export rows; rank 1 = best score shown."""
        key = self.engine_info.model_key if self.engine_info else None
        rows = [
            ExportRow(
                path=it.path,
                score=it.score if it.scored else None,
                spread=it.spread if it.scored else None,
                rating=it.rating,
                flag=it.flag,
                label=it.label,
                model=key,
                status=None if it.status == "pending" else it.status,
                error=it.error,
            )
            for it in self.proxy.visible_items()
        ]
        ranked = {r.path: r for r in rank_rows(rows)}
        return [ranked[r.path] for r in rows]

    def export_csv(self, path: str | os.PathLike[str]) -> Path | None:
        """Write the current view as CSV (atomically); returns the file, or None after telling why not."""
        rows = self.export_rows()
        try:
            out = write_csv(rows, path)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"Could not write {path}:\n{exc}")
            return None
        self.statusBar().showMessage(f"Exported {len(rows):,} photos to {out}", 15000)
        return out

    # -- scoring control and settings --------------------------------------------------------------------------
    def toggle_pause(self, paused: bool | None = None) -> None:
        paused = self.pause_action.isChecked() if paused is None else paused
        self.pause_action.setChecked(paused)
        if paused:
            self.scoring.pause()
        else:
            self.scoring.resume()
        self.pause_action.setText("&Resume Scoring" if paused else "&Pause Scoring")
        self.pause_button.setText("Resume" if paused else "Pause")

    def cancel_scoring(self) -> None:
        self.scoring.cancel()
        self.toggle_pause(False)

    def show_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings))
        dialog.open()

    def show_finetune(self, *, config=None):
        """Show the Fine-tune dialog: the one running or waiting for review, else a new one on the open folders'
        ratings. It is not modal: culling goes on while it trains, and the status bar shows its progress (a
        click brings it back). Accept makes the new profile the active model and re-scores. ``config`` (a
        :class:`trainer.finetune.FinetuneConfig`) overrides the defaults of a new dialog."""
        from trainer.finetune import Rated

        from .finetune_dialog import FinetuneDialog

        dialog = self.finetune_dialog
        if dialog is None:
            rated = [Rated(Path(it.path), it.rating, it.flag) for it in self.model.items if it.rating or it.flag]
            dialog = FinetuneDialog(
                self.roots,
                self.settings.model,
                settings=self.settings,
                catalog_path=self.catalog_path,
                rated=rated,
                config=config,
                parent=self,
            )
            dialog.model_accepted.connect(self._use_finetuned)
            dialog.status_changed.connect(self._on_finetune_status)
            dialog.finished.connect(self._on_finetune_closed)
            self.finetune_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _on_finetune_status(self, text: str) -> None:
        self.finetune_button.setText(text)
        self.finetune_button.setVisible(bool(text))

    def _on_finetune_closed(self, _code: int) -> None:
        dialog, self.finetune_dialog = self.finetune_dialog, None
        self.finetune_button.hide()
        if dialog is not None:
            dialog.deleteLater()

    def _use_finetuned(self, name: str) -> None:
        settings = dataclasses.replace(self.settings, model=name)
        save_settings(settings)
        self.apply_settings(settings)

    def apply_settings(self, settings: Settings | None) -> None:
        """Use new settings: rebuild the engine in the scoring thread, then rescore the open folder."""
        if settings is None:
            return
        self.settings = settings
        self.scoring.cancel()
        self.scoring.configure(settings)
        if self.roots:
            self.open_folders(self.roots)

    # -- drag and drop ----------------------------------------------------------------------------------------
    @staticmethod
    def _dropped_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        return [p for p in paths if os.path.isdir(p) or (os.path.isfile(p) and is_supported(p))]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_folders(paths)

    # -- closing ----------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._save_prefs()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every background thread and close the catalog (idempotent). Scores already made are kept."""
        if self._closed:
            return
        self._closed = True
        self._counts_timer.stop()
        if self.finetune_dialog is not None:
            self.finetune_dialog.shutdown()
        self.scoring.shutdown()
        self.thumbnails.shutdown()
        self.metadata.shutdown()
        self.catalog.close()
