"""Culling: star ratings, pick / reject flags and colour labels, and the one undo history behind Ctrl+Z.

Plain Python (no Qt): the window only calls :class:`Culling` and shows what it returns, and the tests drive it
without a display.

One history, across restarts
    Every rating, flag or label change is written together with its undo entry (the values before it) in the
    catalog (:meth:`Catalog.record_edit`), and every move or trash is an entry of the file-action journal
    (:mod:`loda_desktop.fileops`). :meth:`Culling.undo` takes whichever of the two was done last, so Ctrl+Z
    walks back through the photographer's work in the order they did it, whether it was a rating or a move,
    and whether the app was restarted in between. The order comes from the journal ids, not from the clock:
    each edit remembers the newest journal id at the time it was made.

What undo restores
    Each photo gets back the value it had before the change, unless its value has changed since by some
    other way than this history (another window on the same catalog, a second copy of the app): that newer
    value is kept and the result says so. Within this history undo goes newest first, so a photo rated 3,
    then 5, comes back to 3 and then to its first value, as a photographer expects. Keeping a newer value
    rather than overwriting it is the same choice :mod:`loda_desktop.fileops` makes when a file's original
    location is occupied: undo never destroys something done later.

Scope
    The history is global, like the file journal: Ctrl+Z undoes the newest change wherever it was made, also
    on photos of a folder that is not open. The result lists every photo it changed, so a window updates the
    ones it shows and can say how many it does not show.

XMP sidecars
    With ``xmp_layout`` "lightroom" or "darktable" (the ``xmp_sidecars`` setting), every change and every undo
    of a rating, flag or label also writes the photos' sidecars from the catalog's values
    (:func:`loda_desktop.sidecar_sync.write_sidecars`); a sidecar that cannot be written is listed in
    :attr:`Culling.sidecar_problems` and never stops the change itself.

Size
    Only the newest :data:`HISTORY_LIMIT` edits are kept (older ones can no longer be undone); the file
    journal keeps its own entries. Undoing an edit marks it ``undone`` (kept for the record, not redoable yet);
    a change that changes nothing (rating a 3-star photo 3 stars) makes no entry, so Ctrl+Z never seems to do
    nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import Any

from loda_desktop.catalog import ActionRecord, Catalog, EditRecord, PathLike
from loda_desktop.fileops import DONE, ActionResult, FileActions, describe_action
from loda_desktop.text import plural

__all__ = ["HISTORY_LIMIT", "Culling", "UndoResult", "describe_edit"]

HISTORY_LIMIT = 500  # edits kept for undo; a long session of single-key culling fits comfortably


def describe_edit(edit: EditRecord) -> str:
    """The words for an edit in the Edit menu and the status bar: "rating ★★★ (2 photos)"."""
    return f"{edit.description} ({plural(len(edit.changes), 'photo')})"


@dataclasses.dataclass
class UndoResult:
    """What :meth:`Culling.undo` did.

    For an edit, ``field`` names the field, ``restored`` maps each path to the value it got back and ``kept``
    each path whose newer value was left alone. For a file action, ``files`` is fileops' own result (files
    moved back, files that could not be). Neither: there was nothing to undo.
    """

    description: str  # what was undone ("" when nothing was)
    message: str  # one line for the status bar
    field: str | None = None
    restored: dict[str, Any] = dataclasses.field(default_factory=dict)
    kept: dict[str, Any] = dataclasses.field(default_factory=dict)
    files: ActionResult | None = None


class Culling:
    """Ratings, flags and labels of cataloged photos, each change undoable; see the module docstring.

    ``file_actions``: the app's :class:`FileActions` on the same catalog, so undo can interleave moves with
    edits (one is opened when not given). ``history_limit``: how many edits stay undoable.
    """

    def __init__(
        self,
        catalog: Catalog,
        file_actions: FileActions | None = None,
        *,
        history_limit: int = HISTORY_LIMIT,
        xmp_layout: str = "off",
    ) -> None:
        if file_actions is not None and file_actions.catalog is not catalog:
            raise ValueError("file_actions must use the same catalog connection")
        self.catalog = catalog
        self.file_actions = file_actions if file_actions is not None else FileActions(catalog)
        self.history_limit = history_limit
        self.xmp_layout = xmp_layout  # "off" | "lightroom" | "darktable": sidecars written on every change
        self.sidecar_problems: list[tuple[str, str]] = []  # (sidecar, why) of the last change's writes

    # -- changes ---------------------------------------------------------------------------------------------

    def set_rating(self, paths: Iterable[PathLike], rating: int) -> EditRecord | None:
        """Give ``paths`` ``rating`` stars (0 clears). Returns the history entry, None if nothing changed."""
        # a bad value gets plain words here and is refused by the catalog, before anything is written
        stars = "★" * rating if isinstance(rating, int) and 0 < rating <= 5 else repr(rating)
        return self._record("rating", paths, rating, f"rating {stars}" if rating != 0 else "rating cleared")

    def set_flag(self, paths: Iterable[PathLike], flag: str | None) -> EditRecord | None:
        """Flag ``paths`` "pick" or "reject" (None clears). Returns the entry, None if nothing changed."""
        return self._record("flag", paths, flag, flag if flag else "unflag")

    def set_label(self, paths: Iterable[PathLike], label: str | None) -> EditRecord | None:
        """Give ``paths`` a colour label (None or blank clears). Returns the entry, None if nothing changed."""
        clean = label.strip() if isinstance(label, str) else label
        return self._record("label", paths, label, f"label {clean}" if clean else "label cleared")

    def set_flags(self, values: Mapping[PathLike, str | None], description: str) -> EditRecord | None:
        """Give each photo its own flag (``{path: "pick" | "reject" | None}``) in ONE history entry, so a single
        Ctrl+Z undoes them all: keeping the best frame of a burst and rejecting the others
        (:func:`loda_desktop.bursts.keep_best_of_burst`). Returns the entry, None if nothing changed."""
        edit = self.catalog.record_edits("flag", values, description, keep=self.history_limit)
        self._write_sidecars(edit.changes if edit is not None else [])
        return edit

    def toggle_label(self, paths: Iterable[PathLike], label: str) -> EditRecord | None:
        """The label keys: clear ``label`` when every one of ``paths`` has it already, else set it on all.

        Decided on the catalog's values, the ones undo works on."""
        if isinstance(paths, (str, os.PathLike)):
            raise TypeError("expected an iterable of paths, not a single path")
        paths = list(paths)
        clean = label.strip() if isinstance(label, str) else label
        records = self.catalog.rows(paths, None)
        if records and all(photo.label == clean for photo, _ in records):
            return self.set_label(paths, None)
        return self.set_label(paths, label)

    def _record(self, name: str, paths: Iterable[PathLike], value: Any, description: str) -> EditRecord | None:
        edit = self.catalog.record_edit(name, paths, value, description, keep=self.history_limit)
        self._write_sidecars(edit.changes if edit is not None else [])
        return edit

    def _write_sidecars(self, paths: Iterable[str]) -> None:
        """Write back the sidecars of ``paths`` when the setting asks for it (see the module docstring)."""
        self.sidecar_problems = []
        paths = list(paths)
        if self.xmp_layout == "off" or not paths:
            return
        from loda_desktop.sidecar_sync import write_sidecars

        self.sidecar_problems = write_sidecars(self.catalog, paths, self.xmp_layout).problems

    # -- undo ------------------------------------------------------------------------------------------------

    def _newest(self) -> EditRecord | ActionRecord | None:
        """The newest undoable step: the last edit still ``done`` or the last file action still ``done``."""
        edits = self.catalog.edits(states=["done"], limit=1)
        actions = self.catalog.actions(states=[DONE], limit=1)
        edit = edits[0] if edits else None
        action = actions[0] if actions else None
        if action is not None and (edit is None or action.id > edit.after_action):
            return action
        return edit

    def next_undo(self) -> str | None:
        """What :meth:`undo` would undo now, in words ("rating ★★ (1 photo)"), or None when nothing."""
        newest = self._newest()
        if newest is None:
            return None
        return describe_action(newest) if isinstance(newest, ActionRecord) else describe_edit(newest)

    def undo(self) -> UndoResult:
        """Undo the newest step of the one history (an edit or a file action); see the module docstring."""
        newest = self._newest()
        if newest is None:
            return UndoResult("", "Nothing to undo.")
        if isinstance(newest, ActionRecord):
            result = self.file_actions.undo(newest.id)
            return UndoResult(describe_action(newest), result.message, files=result)
        description = describe_edit(newest)
        try:
            restored, kept = self.catalog.revert_edit(newest.id)
        except (KeyError, ValueError):  # undone (or trimmed) by another copy of the app in the meantime
            return UndoResult("", "Nothing undone: that change was already undone elsewhere.")
        self._write_sidecars(restored)
        message = f"Undid {description}."
        if kept:
            message += f" {plural(len(kept), 'photo')} changed since kept the newer value."
        return UndoResult(description, message, field=newest.field, restored=restored, kept=kept)
