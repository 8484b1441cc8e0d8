"""The main window: open a shoot, watch it being scored, cull it from the keyboard, export the ranking.

Layout: a toolbar (open, view mode, sort, filters: :mod:`.toolbar`), an "untrained model" banner when it applies
(:mod:`.banner`), the views (a thumbnail grid and a table over ONE proxy and ONE selection model, and the loupe:
:mod:`.views`), and a status bar with the scoring progress, Pause and Cancel (:mod:`.statusbar`).

:class:`MainWindow` composes these parts and wires their signals to the background workers (:mod:`.workers`).
Every command is declared once in :data:`.actions.ACTIONS`, from which the menus, the keyboard shortcuts and the
keyboard reference (Help ▸ Keyboard Shortcuts) are built; the culling keys work while the grid, table or loupe
has focus. What the commands do to photos is in :mod:`.photo_commands` (on top of the Qt-free
:mod:`loda_desktop.culling`: ratings, flags, labels and the undo history kept in the catalog).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QVBoxLayout, QWidget

from loda_desktop.catalog import Catalog, path_key
from loda_desktop.culling import Culling, UndoResult
from loda_desktop.engine import ScoreSummary
from loda_desktop.fileops import ActionResult, FileActions
from loda_desktop.model_store import DEFAULT_MODEL, save_active_model
from loda_desktop.paths import cache_dir, config_dir
from loda_desktop.settings import Settings, load_settings_reporting
from loda_desktop.thumbnails import ThumbnailCache

from .actions import LABEL_KEYS, build_actions, build_menus
from .banner import ModelBanner
from .drops import FolderDrops
from .models import PhotoItem, PhotoTableModel
from .photo_commands import PhotoCommands
from .shortcuts_dialog import ShortcutsDialog
from .statusbar import StatusPanel, count_text, crops_text
from .toolbar import ViewToolBar
from .views import PhotoViews
from .workers import EngineInfo, MetadataLoader, Progress, ScoringController, ThumbnailLoader
from .workspace import StableProxy, Workspace

log = logging.getLogger(__name__)

__all__ = ["LABEL_KEYS", "MainWindow"]

APP_TITLE = "LoDa Desktop"


class MainWindow(QMainWindow):
    """The application window. ``settings`` default to the saved ones; ``catalog_path`` to the user's catalog."""

    engine_changed = Signal(object)  # EngineInfo
    engine_failed = Signal(str)  # the model cannot be used (the banner says why)
    model_loaded = Signal(str)  # the network is in memory (it loads in the scoring thread at startup)
    scoring_finished = Signal(object)  # ScoreSummary (also when cancelled)
    scoring_failed = Signal(str)
    photos_added = Signal(int)  # how many rows the model got

    # -- construction ---------------------------------------------------------------------------------------
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
            settings, settings_problems = load_settings_reporting()
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
        # ratings, flags, labels and the undo history; sidecars written on each change when the setting says so
        self.culling = Culling(self.catalog, self.file_actions, xmp_layout=self.settings.xmp_sidecars)
        self._restore_current: str | None = None
        self._shortcuts_dialog: ShortcutsDialog | None = None

        self.thumbnails = ThumbnailLoader(self, disk_cache=ThumbnailCache(cache_dir() / "thumbnails"))
        self.metadata = MetadataLoader(self, catalog_path=catalog_path)
        self.scoring = ScoringController(self, catalog_path=catalog_path)
        self.model = PhotoTableModel(self, thumbnails=self.thumbnails)
        self.proxy = StableProxy(self)  # arriving scores do not move photos (.order)
        self.proxy.setSourceModel(self.model)

        self._build_parts()
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

    def _build_parts(self) -> None:
        """The views, the actions (declared in :mod:`.actions`), the menus, the toolbar and the status bar. The
        parts' widgets stay reachable as attributes of the window (``window.grid``, ``window.min_score``, …)."""
        self.views = PhotoViews(self.proxy, self.thumbnails)
        self.grid, self.table, self.loupe = self.views.grid, self.views.table, self.views.loupe
        self.grid_delegate, self.selection = self.views.grid_delegate, self.views.selection
        self._build_central()

        self.action_map = build_actions(self, self.views)
        for name, action in self.action_map.items():  # each one is also the attribute ``<id>_action``
            setattr(self, f"{name}_action", action)
        self.rating_actions = [self.action_map[f"rate_{n}"] for n in range(6)]
        self.label_actions = [self.action_map[f"label_{colour}"] for colour in LABEL_KEYS.values()]
        self.menus = build_menus(self.menuBar(), self.action_map)
        self.menus["&Edit"].aboutToShow.connect(self._update_undo_text)

        self.toolbar = ViewToolBar(self.action_map, self.proxy, self.table.horizontalHeader(), self)
        self.addToolBar(self.toolbar)
        bar = self.toolbar
        self.sort_combo, self.order_button, self.search = bar.sort_combo, bar.order_button, bar.search
        self.min_score, self.min_rating, self.zoom_slider = bar.min_score, bar.min_rating, bar.zoom_slider

        self.status = StatusPanel(self.statusBar(), self.pause_action, self.cancel_action)
        status = self.status
        self.progress_bar, self.progress_label = status.progress_bar, status.progress_label
        self.pause_button, self.cancel_button = status.pause_button, status.cancel_button
        self.count_label, self.model_label = status.count_label, status.model_label
        self.finetune_button = status.finetune_button
        self.photo_commands = PhotoCommands(self)
        self.workspace = Workspace(self)  # stable order, Open Recent (before _connect: see Workspace)
        self.drops = FolderDrops(self, self.open_folders)

    def _build_central(self) -> None:
        """The banner above the views, and the hint shown instead of them until a folder is open."""
        self.banner_bar = ModelBanner()
        self.banner, self.banner_button = self.banner_bar.label, self.banner_bar.button
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
        worker.xmp_read.connect(self._on_xmp_read)
        self.thumbnails.ready.connect(self.model.thumbnail_ready)
        self.thumbnails.ready.connect(self.views.show_thumbnail)
        self.thumbnails.preview_ready.connect(self.loupe.set_preview)
        self.metadata.capture_times.connect(self._on_capture_times)
        self.selection.currentChanged.connect(self.views.follow_current)
        self.model.dataChanged.connect(self._on_data_changed)
        self.model.rowsInserted.connect(self._schedule_counts)
        self.model.rowsRemoved.connect(self._schedule_counts)
        self.model.modelReset.connect(self._schedule_counts)
        self.proxy.rowsInserted.connect(self._schedule_counts)
        self.proxy.rowsRemoved.connect(self._schedule_counts)
        self.proxy.layoutChanged.connect(self._schedule_counts)
        self.views.mode_changed.connect(lambda mode: self.action_map[mode].setChecked(True))
        self.toolbar.sorted.connect(self.views.keep_current_visible)
        self.zoom_slider.valueChanged.connect(self.views.set_cell_size)
        self.banner_button.clicked.connect(self._on_banner_button)
        self.finetune_button.clicked.connect(lambda: self.show_finetune())
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(150)
        self._counts_timer.timeout.connect(self._update_counts)

    # -- preferences (window.ini next to settings.json; LODA_HOME moves it too) -----------------------------
    def _restore_prefs(self) -> None:
        p = self.prefs
        geometry = p.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.toolbar.restore_sort(str(p.value("view/sort", "Capture date")), p.value("view/reversed", False, type=bool))
        self.table.setSortingEnabled(True)  # header clicks sort too (the indicator already matches)
        self.hide_rejected_action.setChecked(p.value("filter/hide_rejected", False, type=bool))
        self.proxy.set_hide_rejected(self.hide_rejected_action.isChecked())
        self.min_rating.setCurrentIndex(min(5, max(0, p.value("filter/min_rating", 0, type=int))))
        self.auto_advance_action.setChecked(p.value("cull/auto_advance", True, type=bool))
        self.toolbar.set_cell(p.value("view/cell", 176, type=int))
        self.views.set_cell_size(self.zoom_slider.value())
        view = str(p.value("view/mode", "grid"))
        self.set_view(view if view in ("grid", "table") else "grid")

    def _save_prefs(self) -> None:
        p = self.prefs
        p.setValue("window/geometry", self.saveGeometry())
        p.setValue("view/sort", self.sort_combo.currentText())
        p.setValue("view/reversed", self.order_button.isChecked())
        p.setValue("view/mode", self.view_mode if self.view_mode != "loupe" else self.views.view_before_loupe)
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

    def open_folders(self, roots: list[str | os.PathLike[str]], *, retry_failed: bool = False) -> int:
        """Show the photos under ``roots`` (folders or photo files) and score them; returns the generation."""
        self.roots = [path_key(r) for r in roots]
        self.model.clear()
        self.thumbnails.forget()
        self.summary = None
        self.photo_commands.xmp_note = ""
        self.toolbar.score_range = None
        self.toggle_pause(False)
        self.generation = self.scoring.open(self.roots, retry_failed=retry_failed)
        names = ", ".join(os.path.basename(r) or r for r in self.roots)
        self.setWindowTitle(f"{names} — {APP_TITLE}")
        self.empty_hint.hide()
        self.views.show()
        self._on_progress(Progress(self.generation, "scanning"))
        if not self.views.hasFocus() and self.view_mode != "loupe":
            self.current_view().setFocus()
        return self.generation

    def rescan(self, *, retry_failed: bool = False) -> None:
        if self.roots:
            current = self.current_item()
            self.open_folders(self.roots, retry_failed=retry_failed)
            self._restore_current = current.path if current else None

    def retry_failed(self) -> None:
        """Scoring ▸ Retry Failed: rescan, and try again the photos that could not be scored."""
        self.rescan(retry_failed=True)

    # -- the engine and the model banner --------------------------------------------------------------------
    def _on_engine_ready(self, info: EngineInfo) -> None:
        self.engine_info, self.engine_error = info, None
        state = "preparing it for this computer (first run only)…" if info.preparing else "loading…"
        self.model_label.setText(f"Model: {info.model_name} · {crops_text(info.settings)} · {state}")
        self._update_banner()
        self.engine_changed.emit(info)

    def _on_model_loaded(self, description: str) -> None:
        if self.engine_info is not None:
            info = self.engine_info
            self.model_label.setText(f"Model: {info.model_name} · {crops_text(info.settings)} · {description}")
            if self.prefs.value("model/failed", "") == info.settings.model:  # it loads again: forget the failure
                self._forget_failed_model()
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
        try:
            self.settings = self._default_settings()
        except OSError as exc:
            log.warning("cannot save the settings: %s", exc)
            self.settings = dataclasses.replace(self.settings, model=DEFAULT_MODEL)

    def use_default_model(self) -> None:
        """Switch to the default model (the banner's button after a model failed) and re-score."""
        self.model_notice = None
        try:
            settings = self._default_settings()
        except OSError as exc:
            self.statusBar().showMessage(f"Could not save the settings: {exc}", 15000)
            settings = dataclasses.replace(self.settings, model=DEFAULT_MODEL)
        self.apply_settings(settings)

    def _default_settings(self) -> Settings:
        """The settings with the default model, saved; the failure on record is forgotten (OSError: not saved)."""
        self._forget_failed_model()
        return save_active_model(DEFAULT_MODEL, self.settings)

    def _forget_failed_model(self) -> None:
        self.prefs.remove("model/failed")
        self.prefs.remove("model/failed_reason")

    def _on_banner_button(self) -> None:
        if self.engine_error and self.settings.model != DEFAULT_MODEL:
            self.use_default_model()
        else:  # the note about a fallback: read, dismissed
            self.model_notice = None
            self._update_banner()

    def _update_banner(self) -> None:
        info = self.engine_info
        self.banner_bar.show_state(
            engine_error=self.engine_error,
            model_notice=self.model_notice,
            engine_notice=info.notice if info is not None else None,
            offer_default=self.settings.model != DEFAULT_MODEL,
        )

    # -- worker signals -------------------------------------------------------------------------------------
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
            self.views.set_current_source(self.model.row_of(restore))
            self._restore_current = None
        elif not self.selection.currentIndex().isValid() and self.proxy.rowCount():
            self.views.set_current_proxy_row(0)
        self.photos_added.emit(added)

    def _on_results(self, generation: int, results: list[tuple]) -> None:
        if generation != self.generation or self._closed:
            return
        self.model.apply_results(results)

    def _on_progress(self, progress: Progress) -> None:
        if progress.generation != self.generation or self._closed:
            return
        self.progress = progress
        self.status.show_progress(progress)

    def _on_finished(self, generation: int, summary: ScoreSummary) -> None:
        if generation != self.generation or self._closed:
            return
        self.summary = summary
        self.status.show_progress_widgets(False)
        self.toggle_pause(False)
        if summary.unscored_reason:
            self._update_banner()
        if summary.save_problem:  # disk full, read-only catalog: stays until the next message
            self.statusBar().showMessage(summary.save_problem)
        else:
            text = summary.describe() if summary.total else "No photos to score."
            self.statusBar().showMessage(f"{text} {self.photo_commands.xmp_note}".strip(), 30000)
        self._update_counts()
        self.scoring_finished.emit(summary)

    def _on_failed(self, generation: int, message: str) -> None:
        if generation != self.generation or self._closed:
            return
        self.status.show_progress_widgets(False)
        self.statusBar().showMessage(f"Scoring stopped: {message}", 60000)
        if self.engine_info is None:
            self._update_banner()
        self.scoring_failed.emit(message)

    def _on_capture_times(self, generation: int, found: dict[str, str]) -> None:
        if generation == self.generation and found and not self._closed:
            self.model.set_fields("capture_time", found)

    def _on_xmp_read(self, generation: int, report: object) -> None:  # a slot of this UI-thread object: queued
        self.photo_commands.on_xmp_read(generation, report)

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex, _roles: list[int]) -> None:
        self.views.refresh_changed(top_left, bottom_right)
        self._schedule_counts()

    def _schedule_counts(self, *_: object) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _update_counts(self) -> None:
        if self._closed:
            return
        items = self.model.items
        self.count_label.setText(count_text(items, self.proxy.rowCount()))
        scores = [it.score for it in items if it.scored]
        if scores:
            self.toolbar.set_score_range(min(scores), max(scores))

    # -- views, sort and current photo (PhotoViews, ViewToolBar) --------------------------------------------
    @property
    def view_mode(self) -> str:
        return self.views.mode

    def current_view(self) -> QWidget:
        return self.views.current_view()

    def set_view(self, mode: str) -> None:
        """Show the ``grid``, the ``table`` or the ``loupe`` (the selection is the same in all three)."""
        self.views.set_mode(mode)

    def sort_by(self, name: str, reverse: bool = False) -> None:
        """Sort as the toolbar does: one of "Score", "Name", "Capture date", "Rating"."""
        self.toolbar.sort_by(name, reverse)

    def current_item(self) -> PhotoItem | None:
        return self.views.current_item()

    def _set_current_proxy_row(self, row: int) -> None:
        self.views.set_current_proxy_row(row)

    def step(self, delta: int) -> None:
        """Move the current photo by ``delta`` rows of the view (the loupe's arrow keys)."""
        self.views.step(delta)

    def select_path(self, path: str | os.PathLike[str]) -> bool:
        """Make the photo at ``path`` current (if it is in the view)."""
        return self.views.select_path(path)

    # -- culling, undo, moves and export (PhotoCommands) ----------------------------------------------------
    def rate(self, rating: int) -> None:
        self.photo_commands.change("rating", rating)

    def set_flag(self, flag: str | None) -> None:
        self.photo_commands.change("flag", flag, advance=True)

    def toggle_label(self, colour: str) -> None:
        """The label keys: set ``colour`` on the selection, or clear it where every photo has it already."""
        self.photo_commands.change("label", colour)

    def undo(self) -> UndoResult | None:
        """Undo the newest step of the one history kept in the catalog (see :meth:`PhotoCommands.undo`)."""
        return self.photo_commands.undo()

    def move_rejected(self, *, trash: bool = False, confirm: bool = True) -> ActionResult | None:
        """Move every rejected photo of the open folder to ``_rejected/`` (or the trash); undoable."""
        return self.photo_commands.move_rejected(trash=trash, confirm=confirm)

    def _update_undo_text(self) -> None:
        self.photo_commands.update_undo_text()

    def export_csv(self, path: str | os.PathLike[str]) -> Path | None:
        """Write the current view as CSV (atomically); returns the file, or None after telling why not."""
        return self.photo_commands.export_csv(path)

    # -- scoring control, settings, fine-tuning and help ----------------------------------------------------
    def toggle_pause(self, paused: bool | None = None) -> None:
        paused = self.pause_action.isChecked() if paused is None else paused
        self.pause_action.setChecked(paused)
        if paused:
            self.scoring.pause()
        else:
            self.scoring.resume()
        self.status.show_paused(paused)

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
                base_name=self.engine_info.model_name if self.engine_info else None,  # resolved off the UI thread
                parent=self,
            )
            dialog.model_accepted.connect(self._use_finetuned)
            dialog.status_changed.connect(self.status.show_finetune)
            dialog.finished.connect(self._on_finetune_closed)
            self.finetune_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _on_finetune_closed(self, _code: int) -> None:
        dialog, self.finetune_dialog = self.finetune_dialog, None
        self.finetune_button.hide()
        if dialog is not None:
            dialog.deleteLater()

    def _use_finetuned(self, name: str) -> None:
        self.apply_settings(save_active_model(name, self.settings))

    def apply_settings(self, settings: Settings | None) -> None:
        """Use new settings: rebuild the engine in the scoring thread, then rescore the open folder."""
        if settings is None:
            return
        self.settings = settings
        self.culling.xmp_layout = settings.xmp_sidecars
        self.scoring.cancel()
        self.scoring.configure(settings)
        if self.roots:
            self.open_folders(self.roots)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help ▸ Keyboard Shortcuts: the reference generated from the action table; not modal."""
        if self._shortcuts_dialog is None:
            self._shortcuts_dialog = ShortcutsDialog(self.action_map, self)
        self._shortcuts_dialog.show()
        self._shortcuts_dialog.raise_()
        self._shortcuts_dialog.activateWindow()
        return self._shortcuts_dialog

    # -- closing --------------------------------------------------------------------------------------------
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
