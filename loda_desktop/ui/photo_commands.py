"""What the Photo, Edit and File ▸ Export commands do: rating, flag and label changes on the selection (through
:class:`~loda_desktop.culling.Culling`, which journals them), undo, moving the rejected photos away, and the CSV
export of the current view.

Data: ratings, flags and labels are written through the window's :class:`Catalog`, opened in the UI thread
(single-row writes; the UI thread never decodes an image or runs the network). Moves and trash go through
:class:`FileActions` and its journal, so they can be undone after a restart.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from loda_desktop.culling import UndoResult
from loda_desktop.export import ExportRow, rank_rows, write_csv
from loda_desktop.fileops import ActionResult
from loda_desktop.scan import find_companions, is_supported

from .models import PhotoItem

if TYPE_CHECKING:
    from loda_desktop.sidecar_sync import ImportReport, WriteReport

    from .main_window import MainWindow

log = logging.getLogger(__name__)

__all__ = ["PhotoCommands"]


class PhotoCommands:
    """The window's commands that change photos; they report in the window's status bar."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.views = window.views
        self.model, self.proxy = window.model, window.proxy
        self.xmp_note = ""  # what reading XMP did while the open folder was listed ("" when nothing)

    def _say(self, message: str, timeout_ms: int) -> None:
        self.window.statusBar().showMessage(message, timeout_ms)

    # -- culling ----------------------------------------------------------------------------------------------
    def change(self, field: str, value: Any, *, advance: bool = False) -> None:
        """Change ``field`` of the selected photos through :class:`Culling` (which journals it for undo, also
        across restarts), show it in the views and keep the current photo where the photographer expects it."""
        views, proxy = self.views, self.proxy
        targets = views.selected_items()
        if not targets:
            return
        current = views.selection.currentIndex()
        neighbour: QPersistentModelIndex | None = None
        if current.isValid():
            row = current.row() + 1 if current.row() + 1 < proxy.rowCount() else current.row() - 1
            if row >= 0:
                neighbour = QPersistentModelIndex(proxy.mapToSource(proxy.index(row, 0)))
        current_source = QPersistentModelIndex(proxy.mapToSource(current)) if current.isValid() else None
        culling = self.window.culling
        setter = {"rating": culling.set_rating, "flag": culling.set_flag, "label": culling.toggle_label}
        try:
            edit = setter[field]([it.path for it in targets], value)
        except (sqlite3.Error, ValueError) as exc:
            self._say(f"Could not save the {field}: {exc}", 15000)
            return
        if edit is not None:
            self.model.set_fields(field, {path: after for path, (_, after) in edit.changes.items()})
            self.update_undo_text()
        if culling.sidecar_problems:  # the change is saved in the catalog; its sidecar is not
            self._say(f"XMP sidecar not written: {culling.sidecar_problems[0][1]}", 15000)
        if views.mode in ("compare", "survey"):  # the frames stay (no advance): the caption shows the change
            return
        still_visible = current_source is not None and proxy.mapFromSource(current_source).isValid()
        move = advance and self.window.auto_advance_action.isChecked() and len(targets) == 1
        if (move or not still_visible) and neighbour is not None and neighbour.isValid():
            views.set_current_source(neighbour.row())
        elif still_visible and len(targets) == 1:
            views.set_current_source(current_source.row())
        views.refresh_loupe()

    # -- file actions and undo --------------------------------------------------------------------------------
    def move_rejected(self, *, trash: bool = False, confirm: bool = True) -> ActionResult | None:
        """Move every rejected photo of the open folder to ``_rejected/`` (or the trash); undoable."""
        rejected = [it for it in self.model.items if it.flag == "reject"]
        if not rejected:
            self._say("No rejected photos.", 8000)
            return None
        # a photo still waiting for its score stays: the scoring thread is about to read it
        busy = self.window.scoring.busy
        waiting = [it for it in rejected if it.status == "pending" and busy]
        paths = [it.path for it in rejected if it.status != "pending" or not busy]
        if not paths:
            self._say("The rejected photos are still being scored; try again in a moment.", 8000)
            return None
        if trash and confirm:
            answer = QMessageBox.question(
                self.window,
                "Move to Trash",
                f"Move {len(paths)} rejected photo{'s' * (len(paths) != 1)} (and their sidecars) to the system "
                "trash?\n\nEdit ▸ Undo (Ctrl+Z) brings them back.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
        file_actions = self.window.file_actions
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            result = file_actions.trash(paths) if trash else file_actions.move_to_subfolder(paths)
        except (OSError, sqlite3.Error, ValueError) as exc:
            self._say(f"Nothing was moved: {exc}", 30000)
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.model.remove_paths(str(src) for src, _ in result.succeeded)
        if result.action_id is not None and result.succeeded:
            self.update_undo_text()  # the journal entry is now the newest step of the undo history
        message = result.message
        if waiting:
            message += f" {len(waiting)} still being scored stayed."
        self._say(message, 30000)
        if result.failed:
            self.show_problems("Some photos could not be moved", result.failed)
        return result

    def undo(self) -> UndoResult | None:
        """Undo the newest step of the one history kept in the catalog (:mod:`loda_desktop.culling`): a rating,
        flag or label change or a move / trash, whichever came last, also from before a restart. The history is
        global, so the step may concern photos this window does not show; the status bar then says so."""
        try:
            result = self.window.culling.undo()
        except sqlite3.Error as exc:
            self._say(f"Could not undo: {exc}", 15000)
            return None
        self.update_undo_text()
        if result.files is not None:
            files = result.files
            restored = [str(to) for _, to in files.succeeded if to is not None and is_supported(to)]
            self._add_restored(restored)
            self._say(files.message, 30000)
            if files.failed:
                self.show_problems("Some files could not be restored", files.failed)
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
            self.views.refresh_loupe()
        self._say(message, 8000)
        return result

    def _add_restored(self, paths: list[str]) -> None:
        mine = [p for p in paths if self._under_roots(p)]
        if not mine:
            return
        info = self.window.engine_info
        key = info.model_key if info else None
        try:
            records = self.window.catalog.rows(mine, key)
        except sqlite3.Error as exc:
            log.warning("cannot read restored photos: %s", exc)
            return
        pairs = find_companions(r.path for r, _ in records)  # a restored pair is one cell again
        self.model.add_items(PhotoItem.from_record(r.path, r, s, pairs.get(r.path, ())) for r, s in records)
        if len(mine) == 1:
            self.views.select_path(mine[0])

    def _under_roots(self, path: str) -> bool:
        return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in self.window.roots)

    def update_undo_text(self) -> None:
        """Edit ▸ Undo names the step Ctrl+Z would undo; refreshed after each change, so the shortcut is never
        left disabled by a menu opened when there was nothing to undo."""
        try:
            description = self.window.culling.next_undo()
        except sqlite3.Error as exc:
            log.warning("cannot read the undo history: %s", exc)
            description = None
        action = self.window.undo_action
        action.setText(f"&Undo {description}" if description else "&Undo")
        action.setEnabled(description is not None)

    def show_problems(self, title: str, problems: list[tuple[Path, str]]) -> None:
        lines = [f"{Path(p).name}: {reason}" for p, reason in problems[:20]]
        if len(problems) > 20:
            lines.append(f"… and {len(problems) - 20} more")
        buttons = QMessageBox.StandardButton.Ok
        box = QMessageBox(QMessageBox.Icon.Warning, title, "\n".join(lines), buttons, self.window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()

    # -- XMP sidecars (loda_desktop.sidecar_sync) ---------------------------------------------------------------
    def write_xmp(self, layout: str) -> WriteReport | None:
        """File ▸ Write XMP Sidecars: the rating, flag, label and score of every photo of the open folder into
        its sidecar in ``layout`` ("lightroom" or "darktable"), merged into one that exists."""
        from loda_desktop.sidecar_sync import write_sidecars

        paths = [it.path for it in self.model.items]
        if not paths:
            self._say("No photos to write XMP sidecars for.", 8000)
            return None
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            report = write_sidecars(self.window.catalog, paths, layout)
        except sqlite3.Error as exc:
            self._say(f"No XMP sidecar written: {exc}", 15000)
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
        self._say(report.describe(), 15000)
        if report.problems:
            self.show_problems("Some XMP sidecars were not written", [(Path(p), r) for p, r in report.problems])
        return report

    def on_xmp_read(self, generation: int, report: ImportReport) -> None:
        """The listing thread read ratings, flags or labels from XMP: say so (also after the scoring summary) and
        name the new step in Edit ▸ Undo."""
        if generation != self.window.generation:
            return
        self.xmp_note = report.describe()
        self._say(self.xmp_note, 30000)
        self.update_undo_text()

    # -- export -----------------------------------------------------------------------------------------------
    def choose_export(self) -> None:
        roots = self.window.roots
        base = os.path.basename(roots[0]) if roots else "photos"
        folder = roots[0] if roots and os.path.isdir(roots[0]) else ""
        start = os.path.join(folder, f"{base}-ranking.csv")
        title = "Export the current view as CSV"
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def export_rows(self) -> list[ExportRow]:
        """The current view (its filter and its order) as ranked export rows; rank 1 = best score shown."""
        info = self.window.engine_info
        key = info.model_key if info else None
        rows = [
            ExportRow(
                path=it.path,
                score=it.score if it.scored else None,
                spread=it.spread if it.scored else None,
                rating=it.rating,
                flag=it.flag,
                label=it.label,
                model=it.score_model or key if it.scored else key,
                status=None if it.status == "pending" else it.status,
                error=it.error,
                capture_time=it.capture_time,
                companions=it.companions,
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
            QMessageBox.warning(self.window, "Export failed", f"Could not write {path}:\n{exc}")
            return None
        self._say(f"Exported {len(rows):,} photos to {out}", 15000)
        return out
