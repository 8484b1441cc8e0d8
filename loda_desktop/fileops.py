"""File actions the photographer asks for (reject into a subfolder, move to the trash), each one undoable,
also after a restart or a crash.

The journal
    Every action is ONE entry in the catalog's ``actions`` table, written and committed with state
    ``pending`` before the first file is touched, listing each file's original and planned location (plus its
    size and mtime, to recognise it later). When the action ends the entry becomes ``done`` (or ``failed``
    when no file could be handled) with the outcome of each file. Undo marks the entry ``undoing`` first,
    then ``undone`` (or ``partial``). Opening :class:`FileActions` reconciles entries a crash left ``pending``
    or ``undoing`` by looking at where the files actually are; the outcome is in ``FileActions.recovered``.
    A file a kill left with two names (between link and unlink, the same inode) is finished like the move it was
    part of; a group a crash split (a photo moved, its sidecar not) is made whole; an undo the crash cut short
    becomes ``done`` again, with the files already back marked, so the next undo (Ctrl+Z) resumes it.

Never overwrite
    Files are moved with "link to the new name, then unlink the old one" (an atomic no-clobber rename), or
    check-then-rename where the filesystem has no hard links, or copy-then-delete across devices. A clash in
    the destination gets " (1)", " (2)", ... before the extension. Undo refuses, with a reason per file, when
    the original location is occupied or the file is gone.

Sidecars
    ``IMG_1.CR2.xmp`` always travels with ``IMG_1.CR2``; ``IMG_1.xmp`` travels with it too, unless another
    photo with the stem ``IMG_1`` stays behind: the shared sidecar then stays with that one.
    A renamed photo's sidecars get the same new stem.

RAW + JPEG pairs
    The other file of a pair (:func:`loda_desktop.scan.split_pair`: ``IMG_1.JPG`` and ``IMG_1.CR2`` in one
    folder) travels with the photo asked for, whichever of the two it is, with its own sidecars: the pair stays
    one photo, and on a name clash both get the same new stem. Its journal item is marked ``"companion": true``
    (entries written before pairs have no such key and undo as they always did); it counts as part of its
    photo, not as a photo of its own, in messages. A companion with a catalog record (cataloged before the
    pair existed) has its record moved too.

Catalog
    A moved photo's catalog record follows it (rating, flag, label and scores kept). A trashed photo keeps its
    record, so restoring it from the trash brings its rating and scores back.

Trash restore
    On freedesktop systems (Linux, the BSDs) undo finds the ``.trashinfo`` whose ``Path=`` is the original
    location in ``$XDG_DATA_HOME/Trash`` (default ``~/.local/share/Trash``), ``<mount>/.Trash/<uid>`` or
    ``<mount>/.Trash-<uid>``, moves the file back and deletes the ``.trashinfo``. On Windows and macOS undo
    tells the user to restore the files from the system trash by hand.

One :class:`FileActions` per catalog file at a time (the app's single writer for file actions).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loda_desktop.catalog import ActionRecord, Catalog
from loda_desktop.file_plan import plan
from loda_desktop.safe_moves import (
    TrashIndex,
    file_id,
    find_trashinfo,
    is_freedesktop,
    move_no_clobber,
    reason_of,
    same_file,
)
from loda_desktop.scan import REJECT_DIR
from loda_desktop.text import plural

logger = logging.getLogger(__name__)


# Journal entry states.
PENDING = "pending"  # written before the first file is touched
DONE = "done"  # finished; at least one file was handled; undoable
FAILED = "failed"  # finished; no file could be handled; nothing to undo
UNDOING = "undoing"  # an undo started
UNDONE = "undone"  # every file that could come back came back
PARTIAL = "partial"  # undo left some files where they are; undo(action_id) may retry them

# Journal item states.
_PLANNED, _DONE, _FAILED, _UNDONE, _LOST, _MANUAL = "planned", "done", "failed", "undone", "lost", "manual"
# Reasons crash recovery gives a file the action never reached.
_NOT_MOVED, _NOT_TRASHED = "not moved: the action was interrupted", "not trashed: the action was interrupted"

__all__ = [
    "DONE",
    "FAILED",
    "PARTIAL",
    "PENDING",
    "UNDOING",
    "UNDONE",
    "ActionResult",
    "FileActions",
    "HistoryEntry",
    "JournalItem",
    "describe_action",
    "find_trashinfo",
    "is_freedesktop",
]


@dataclass
class ActionResult:
    """What an action (or an undo) did, file by file.

    ``succeeded`` holds (from, to) pairs, ``to`` being None for files sent to the trash; ``failed`` holds
    (path, reason) pairs with a reason a person can read. Sidecars appear alongside their photos.
    """

    kind: str  # "move" | "trash" | "undo" | "recover"
    action_id: int | None = None
    succeeded: list[tuple[Path, Path | None]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class JournalItem:
    src: Path  # the original location
    dst: Path | None  # where it was moved (None for the trash)
    sidecar: bool
    state: str  # planned | done | failed | undone | lost | manual
    reason: str | None
    companion: bool = False  # the RAW (or JPEG) partner of a pair, moved with its photo


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    kind: str  # "move" | "trash"
    state: str  # pending | done | failed | undoing | undone | partial
    created: float
    updated: float
    description: str
    items: tuple[JournalItem, ...]

    @property
    def undoable(self) -> bool:
        return self.state in (DONE, PARTIAL)


def describe_action(record: ActionRecord) -> str:
    """What a journal entry did, in the words of the Edit menu ("Move 3 photos to _rejected")."""
    n = sum(1 for i in record.payload.get("items", []) if not i["sidecar"] and not i.get("companion"))
    if record.kind == "move":
        return f"Move {plural(n, 'photo')} to {record.payload.get('subfolder', REJECT_DIR)}"
    if record.kind == "trash":
        return f"Move {plural(n, 'photo')} to the trash"
    return record.kind


# -- the actions -------------------------------------------------------------------------------------------


def _check_subfolder(subfolder: str) -> None:
    bad = (
        not isinstance(subfolder, str)
        or not subfolder.strip()
        or subfolder in (".", "..")
        or "/" in subfolder
        or (os.sep in subfolder)
        or (os.altsep is not None and os.altsep in subfolder)
    )
    if bad:
        raise ValueError(f"subfolder must be a single folder name, got {subfolder!r}")


def _groups(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Items grouped per photo; the photo comes first in each group."""
    for _, group in itertools.groupby(items, key=lambda item: item["group"]):
        yield list(group)


def _count_photos(items: list[dict[str, Any]], state: str) -> int:
    return sum(1 for i in items if not i["sidecar"] and not i.get("companion") and i["state"] == state)


class FileActions:
    """Undoable file actions journaled in ``catalog``. Opening reconciles entries a crash left unfinished."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.recovered: list[ActionResult] = self._reconcile()

    # -- planning ----------------------------------------------------------------------------------------

    @staticmethod
    def _plan(
        paths: Iterable[str | os.PathLike[str]], subfolder: str | None
    ) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
        return plan(paths, subfolder)

    # -- actions -----------------------------------------------------------------------------------------

    def move_to_subfolder(self, paths: Iterable[str | os.PathLike[str]], subfolder: str = REJECT_DIR) -> ActionResult:
        """Move each photo (and its sidecars) into ``<its folder>/<subfolder>/``; one journal entry."""
        _check_subfolder(subfolder)
        items, failed = self._plan(paths, subfolder)
        result = ActionResult("move", failed=failed)
        if not items:
            result.message = "Nothing was moved." + (f" {plural(len(failed), 'file')} failed." if failed else "")
            return result
        new_dirs = sorted({os.path.dirname(i["dst"]) for i in items if not os.path.isdir(os.path.dirname(i["dst"]))})
        payload = {"subfolder": subfolder, "items": items, "created_dirs": new_dirs}
        result.action_id = self.catalog.add_action("move", payload, PENDING)
        try:
            for group in _groups(items):
                photo = group[0]
                for item in group:
                    if item is not photo and photo["state"] != _DONE:
                        self._fail(result, item, "kept with its photo, which was not moved")
                        continue
                    try:
                        os.makedirs(os.path.dirname(item["dst"]), exist_ok=True)
                        move_no_clobber(item["src"], item["dst"])
                    except OSError as exc:
                        self._fail(result, item, reason_of(exc))
                        continue
                    item["state"] = _DONE
                    if not item["sidecar"]:
                        self.catalog.rename_path(item["src"], item["dst"])
                    result.succeeded.append((Path(item["src"]), Path(item["dst"])))
        finally:
            moved = any(i["state"] == _DONE for i in items)
            self.catalog.update_action(result.action_id, state=DONE if moved else FAILED, payload=payload)
        result.message = f"Moved {plural(_count_photos(items, _DONE), 'photo')} to {subfolder}." + (
            f" {plural(len(result.failed), 'file')} could not be moved." if result.failed else ""
        )
        return result

    def trash(self, paths: Iterable[str | os.PathLike[str]]) -> ActionResult:
        """Send each photo (and its sidecars) to the system trash with send2trash; one journal entry."""
        from send2trash import send2trash

        items, failed = self._plan(paths, None)
        result = ActionResult("trash", failed=failed)
        if not items:
            result.message = "Nothing was moved to the trash." + (
                f" {plural(len(failed), 'file')} failed." if failed else ""
            )
            return result
        payload: dict[str, Any] = {"items": items}
        result.action_id = self.catalog.add_action("trash", payload, PENDING)
        try:
            for group in _groups(items):
                photo = group[0]
                for item in group:
                    if item is not photo and photo["state"] != _DONE:
                        self._fail(result, item, "kept with its photo, which was not trashed")
                        continue
                    try:
                        send2trash(item["src"])
                    except OSError as exc:
                        self._fail(result, item, reason_of(exc))
                        continue
                    item["state"] = _DONE
                    result.succeeded.append((Path(item["src"]), None))
            if is_freedesktop():  # remember where each file went, for undo
                index = TrashIndex()
                for item in items:
                    if item["state"] == _DONE:
                        found = index.find(item["src"], file_id=item["file_id"])
                        item["trashinfo"] = str(found[0]) if found else None
        finally:
            trashed = any(i["state"] == _DONE for i in items)
            self.catalog.update_action(result.action_id, state=DONE if trashed else FAILED, payload=payload)
        result.message = f"Moved {plural(_count_photos(items, _DONE), 'photo')} to the trash." + (
            f" {plural(len(result.failed), 'file')} could not be trashed." if result.failed else ""
        )
        return result

    @staticmethod
    def _fail(result: ActionResult, item: dict[str, Any], reason: str) -> None:
        item["state"] = _FAILED
        item["reason"] = reason
        result.failed.append((Path(item["src"]), reason))

    # -- undo --------------------------------------------------------------------------------------------

    def undo_last(self) -> ActionResult:
        """Undo the most recent action that is ``done`` (not undone, not already partly undone)."""
        entries = self.catalog.actions(states=[DONE], limit=1)
        if not entries:
            return ActionResult("undo", message="Nothing to undo.")
        return self.undo(entries[0].id)

    def undo(self, action_id: int) -> ActionResult:
        """Undo one journal entry (``done``, or ``partial`` to retry the files a previous undo left)."""
        record = self.catalog.get_action(action_id)
        result = ActionResult("undo", action_id)
        if record.state not in (DONE, PARTIAL):
            result.message = f"This action cannot be undone (it is {record.state})."
            return result
        payload = record.payload
        items: list[dict[str, Any]] = payload["items"]
        if record.kind == "trash" and not is_freedesktop():
            for item in items:
                if item["state"] == _DONE:
                    item["state"] = _MANUAL
                    reason = "restore it from the system trash by hand (Put Back / Restore)"
                    item["reason"] = reason
                    result.failed.append((Path(item["src"]), reason))
            self.catalog.update_action(action_id, state=PARTIAL, payload=payload)
            result.message = "Restore these files from the system trash: " + ", ".join(
                os.path.basename(str(p)) for p, _ in result.failed
            )
            return result

        self.catalog.update_action(action_id, state=UNDOING)
        index = TrashIndex()
        try:
            for group in reversed(list(_groups(items))):
                photo = group[0]
                for item in group:
                    if item["state"] != _DONE:
                        continue
                    if item is not photo and photo["state"] == _DONE:
                        reason = "kept with its photo, which could not be restored"
                        item["reason"] = reason
                        result.failed.append((Path(item["src"]), reason))
                        continue
                    if record.kind == "move":
                        self._undo_move_item(item, result)
                    else:
                        self._undo_trash_item(item, result, index)
        finally:
            state = self._state_after_undo(items)
            self.catalog.update_action(action_id, state=state, payload=payload)
        if record.kind == "move":
            for directory in payload.get("created_dirs", []):
                with contextlib.suppress(OSError):
                    os.rmdir(directory)  # only succeeds when empty
        restored = _count_photos(items, _UNDONE)
        result.message = f"Restored {plural(restored, 'photo')}." + (
            f" {plural(len(result.failed), 'file')} could not be restored." if result.failed else ""
        )
        return result

    @staticmethod
    def _state_after_undo(items: list[dict[str, Any]]) -> str:
        if not any(i["state"] == _DONE for i in items):
            return UNDONE
        return PARTIAL if any(i["state"] == _UNDONE for i in items) else DONE

    def _undo_move_item(self, item: dict[str, Any], result: ActionResult) -> None:
        src, dst = item["src"], item["dst"]
        if os.path.lexists(src) and same_file(src, dst):  # an undo killed between link and unlink: finish it
            os.unlink(dst)
            item["state"], item["reason"] = _UNDONE, None
            if not item["sidecar"]:
                self.catalog.rename_path(dst, src)
            result.succeeded.append((Path(dst), Path(src)))
            return
        if os.path.lexists(src):
            item["reason"] = f"the original location {src} is now occupied; the file stays at {dst}"
            result.failed.append((Path(dst), item["reason"]))
            return
        if not os.path.lexists(dst):
            item["state"] = _LOST
            item["reason"] = f"the moved file {dst} is gone"
            result.failed.append((Path(dst), item["reason"]))
            return
        try:
            os.makedirs(os.path.dirname(src), exist_ok=True)
            move_no_clobber(dst, src)
        except OSError as exc:
            item["reason"] = reason_of(exc)
            result.failed.append((Path(dst), item["reason"]))
            return
        item["state"], item["reason"] = _UNDONE, None
        if not item["sidecar"]:
            self.catalog.rename_path(dst, src)
        result.succeeded.append((Path(dst), Path(src)))

    @staticmethod
    def _undo_trash_item(item: dict[str, Any], result: ActionResult, index: TrashIndex) -> None:
        src = item["src"]
        if os.path.lexists(src) and _drop_trashed_twin(src, item, index):  # killed between link and unlink
            item["state"], item["reason"] = _UNDONE, None
            result.succeeded.append((Path(src), Path(src)))
            return
        if os.path.lexists(src):
            item["reason"] = f"the original location {src} is now occupied; the file stays in the trash"
            result.failed.append((Path(src), item["reason"]))
            return
        found = index.find(src, file_id=item.get("file_id"), prefer=item.get("trashinfo"))
        if found is None:
            item["state"] = _LOST
            item["reason"] = "not found in the trash (was the trash emptied?)"
            result.failed.append((Path(src), item["reason"]))
            return
        info, trashed = found
        try:
            os.makedirs(os.path.dirname(src), exist_ok=True)
            move_no_clobber(str(trashed), src)
        except OSError as exc:
            item["reason"] = reason_of(exc)
            result.failed.append((Path(src), item["reason"]))
            return
        with contextlib.suppress(OSError):
            os.unlink(info)
        item["state"], item["reason"] = _UNDONE, None
        result.succeeded.append((trashed, Path(src)))

    # -- history and crash recovery ----------------------------------------------------------------------

    def history(self, limit: int | None = None) -> list[HistoryEntry]:
        """Journal entries, newest first."""
        entries = []
        for record in self.catalog.actions(limit=limit):
            items = record.payload.get("items", [])
            entries.append(
                HistoryEntry(
                    id=record.id,
                    kind=record.kind,
                    state=record.state,
                    created=record.created,
                    updated=record.updated,
                    description=describe_action(record),
                    items=tuple(
                        JournalItem(
                            src=Path(i["src"]),
                            dst=Path(i["dst"]) if i.get("dst") else None,
                            sidecar=bool(i["sidecar"]),
                            state=i["state"],
                            reason=i.get("reason"),
                            companion=bool(i.get("companion")),
                        )
                        for i in items
                    ),
                )
            )
        return entries

    def _reconcile(self) -> list[ActionResult]:
        results = []
        for record in reversed(self.catalog.actions(states=[PENDING, UNDOING])):
            payload = record.payload
            items: list[dict[str, Any]] = payload.get("items", [])
            result = ActionResult("recover", record.id)
            index = TrashIndex()
            if record.state == PENDING:
                recovered = [item for item in items if item["state"] == _PLANNED]
                for item in recovered:
                    if record.kind == "move":
                        self._recover_move_item(item)
                    else:
                        self._recover_trash_item(item, index)
                self._complete_groups(record.kind, items, index)
                for item in recovered:
                    if item["state"] == _DONE:
                        result.succeeded.append((Path(item["src"]), Path(item["dst"]) if item["dst"] else None))
                    else:
                        result.failed.append((Path(item["src"]), item["reason"] or ""))
                state = DONE if any(i["state"] == _DONE for i in items) else FAILED
            else:
                for item in items:
                    if item["state"] == _DONE and self._is_back(record.kind, item, index):
                        item["state"], item["reason"] = _UNDONE, None
                        if record.kind == "move" and not item["sidecar"]:
                            self.catalog.rename_path(item["dst"], item["src"])
                        result.succeeded.append((Path(item["dst"] or item["src"]), Path(item["src"])))
                # an undo the crash cut short is resumed by the next Ctrl+Z: done, not partial (which only a
                # file that could not go back makes, and which Ctrl+Z passes over)
                state = DONE if any(i["state"] == _DONE for i in items) else UNDONE
            self.catalog.update_action(record.id, state=state, payload=payload)
            result.message = (
                f"Recovered an interrupted {record.kind} action (journal entry {record.id}); it is now {state}."
            )
            logger.warning("%s", result.message)
            results.append(result)
        return results

    def _complete_groups(self, kind: str, items: list[dict[str, Any]], index: TrashIndex) -> None:
        """Make each group whole again after a crash: a photo moved (or trashed) while its sidecars or RAW partner
        were not yet is finished, so that no photo sits in ``_rejected`` with its sidecar left behind; a moved
        sidecar whose photo did not move goes back."""
        from send2trash import send2trash

        for group in _groups(items):
            photo = group[0]
            for item in group[1:]:
                try:
                    if photo["state"] == _DONE and item.get("reason") in (_NOT_MOVED, _NOT_TRASHED):
                        if kind == "move":
                            move_no_clobber(item["src"], item["dst"])
                        else:
                            send2trash(item["src"])
                            found = index.find(item["src"], file_id=item.get("file_id"))
                            item["trashinfo"] = str(found[0]) if found else None
                        item["state"], item["reason"] = _DONE, None
                    elif photo["state"] != _DONE and item["state"] == _DONE and kind == "move":
                        move_no_clobber(item["dst"], item["src"])
                        item["state"], item["reason"] = _FAILED, _NOT_MOVED
                    else:
                        continue
                except OSError as exc:
                    logger.warning("could not complete %s with its photo: %s", item["src"], reason_of(exc))
                    continue
                if kind == "move" and not item["sidecar"]:  # a RAW partner with a catalog record of its own
                    old, new = (item["src"], item["dst"]) if item["state"] == _DONE else (item["dst"], item["src"])
                    self.catalog.rename_path(old, new)

    def _recover_move_item(self, item: dict[str, Any]) -> None:
        src, dst = item["src"], item["dst"]
        at_src, at_dst = os.path.lexists(src), os.path.lexists(dst)
        if at_dst and not at_src:
            item["state"] = _DONE
            if not item["sidecar"]:
                self.catalog.rename_path(src, dst)
            return
        item["state"] = _FAILED
        if at_src and not at_dst:
            item["reason"] = _NOT_MOVED
        elif at_src and same_file(src, dst):  # interrupted between link and unlink
            os.unlink(dst)
            item["reason"] = _NOT_MOVED
        elif at_src:
            item["reason"] = f"the action was interrupted; both {src} and {dst} exist, left as they are"
        else:
            item["reason"] = "the file is neither at its original location nor at its destination"

    @staticmethod
    def _recover_trash_item(item: dict[str, Any], index: TrashIndex) -> None:
        src = item["src"]
        if os.path.lexists(src):
            item["state"], item["reason"] = _FAILED, _NOT_TRASHED
            return
        found = index.find(src, file_id=item.get("file_id")) if is_freedesktop() else None
        item["state"] = _DONE
        item["trashinfo"] = str(found[0]) if found else None
        if found is None and is_freedesktop():
            item["reason"] = "gone from its folder, but not found in the trash"

    @staticmethod
    def _is_back(kind: str, item: dict[str, Any], index: TrashIndex) -> bool:
        """Whether an interrupted undo already put this file back at its original location. Killed between
        link and unlink, the file has both names (one inode): the undo is finished by removing the other."""
        src = item["src"]
        if not os.path.lexists(src):
            return False
        if kind == "move" and os.path.lexists(item["dst"]):
            if not same_file(src, item["dst"]):
                return False
            os.unlink(item["dst"])
            return True
        recorded = item.get("file_id")
        back = recorded is None or file_id(src) == tuple(recorded)
        if back and kind == "trash":
            _drop_trashed_twin(src, item, index)
        return back


def _drop_trashed_twin(src: str, item: dict[str, Any], index: TrashIndex) -> bool:
    """Remove the trash's second name of ``src`` (same inode: a restore killed between link and unlink) and its
    ``.trashinfo``; whether there was one."""
    found = index.find(src, file_id=item.get("file_id"), prefer=item.get("trashinfo")) if is_freedesktop() else None
    if found is None or not same_file(str(found[1]), src):
        return False
    os.unlink(found[1])
    with contextlib.suppress(OSError):
        os.unlink(found[0])
    return True
