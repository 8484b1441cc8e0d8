"""The catalog's two histories: the file-action journal (:mod:`loda_desktop.fileops`) and the edit history
of ratings, flags and labels (:mod:`loda_desktop.culling`). :class:`HistoryMixin` is part of
:class:`loda_desktop.catalog.Catalog` and uses its connection and write transaction; see that module for
durability and threading.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from loda_desktop.catalog_schema import (
    EDIT_CHECKS,
    PathLike,
    check_edit_field,
    db_chunks,
    path_from_db,
    path_key,
    path_to_db,
    unique_keys,
)

__all__ = ["ActionRecord", "EditRecord", "HistoryMixin"]


@dataclass(frozen=True)
class ActionRecord:
    """One journal entry of :mod:`loda_desktop.fileops`; ``payload`` is its JSON document."""

    id: int
    kind: str
    state: str
    created: float
    updated: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class EditRecord:
    """One entry of the edit history (used by :mod:`loda_desktop.culling`).

    ``changes`` maps the photos' CURRENT paths to (value before, value after) for the photos that changed and
    are still cataloged; a photo moved since the edit appears under its new path.
    """

    id: int
    field: str  # "rating" | "flag" | "label"
    description: str
    state: str  # "done" | "undone"
    after_action: int  # the newest file-action journal id when the edit was made (0: none yet)
    created: float
    updated: float
    changes: dict[str, tuple[Any, Any]]


class HistoryMixin:
    """The journal and edit-history methods of :class:`loda_desktop.catalog.Catalog`."""

    _conn: sqlite3.Connection

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:  # provided by Catalog
        raise NotImplementedError

    # -- the file-action journal (used by loda_desktop.fileops) ----------------------------------------------

    def add_action(self, kind: str, payload: dict[str, Any], state: str = "pending") -> int:
        """Append a journal entry (committed before returning); returns its id."""
        now = time.time()
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO actions (kind, state, created, updated, payload) VALUES (?, ?, ?, ?, ?)",
                (kind, state, now, now, json.dumps(payload)),
            )
        return int(cur.lastrowid)

    def update_action(self, action_id: int, *, state: str | None = None, payload: dict[str, Any] | None = None) -> None:
        """Change a journal entry's state and/or payload (committed before returning)."""
        sets, args = ["updated = ?"], [time.time()]
        if state is not None:
            sets.append("state = ?")
            args.append(state)
        if payload is not None:
            sets.append("payload = ?")
            args.append(json.dumps(payload))
        with self._write() as conn:
            cur = conn.execute(f"UPDATE actions SET {', '.join(sets)} WHERE id = ?", (*args, action_id))
            if cur.rowcount == 0:
                raise KeyError(f"no journal entry {action_id}")

    def get_action(self, action_id: int) -> ActionRecord:
        row = self._conn.execute(
            "SELECT id, kind, state, created, updated, payload FROM actions WHERE id = ?", (action_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no journal entry {action_id}")
        return ActionRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))

    def actions(self, states: Iterable[str] | None = None, limit: int | None = None) -> list[ActionRecord]:
        """Journal entries, newest first, optionally only those in ``states``."""
        rows = self._newest_first("SELECT id, kind, state, created, updated, payload FROM actions", states, limit)
        return [ActionRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def _newest_first(self, select: str, states: Iterable[str] | None, limit: int | None) -> list[tuple]:
        """Rows of a history table (``select`` names its columns), newest first, only ``states`` when given."""
        query, args = select, []
        if states is not None:
            wanted = list(states)
            query += f" WHERE state IN ({','.join('?' * len(wanted))})"
            args.extend(wanted)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(int(limit))
        return self._conn.execute(query, args).fetchall()

    # -- the edit history (used by loda_desktop.culling) ---------------------------------------------------

    def record_edit(
        self, field: str, paths: Iterable[PathLike], value: Any, description: str, *, keep: int | None = None
    ) -> EditRecord | None:
        """Set ``field`` ("rating", "flag" or "label") of the cataloged ``paths`` to ``value`` and journal the
        values before it, in one transaction (committed before returning).

        Only photos whose value actually changes are written and journaled; uncataloged paths are ignored, as
        :meth:`set_rating` does. Returns the new entry, or None when nothing changed: no entry is made, so an
        undo never spends itself on a no-op. ``keep``: afterwards only the newest ``keep`` entries remain,
        which bounds the history's size.
        """
        field = check_edit_field(field)
        value = EDIT_CHECKS[field](value)
        return self.record_edits(field, dict.fromkeys(unique_keys(paths), value), description, keep=keep)

    def record_edits(
        self,
        field: str,
        values: Mapping[PathLike, Any],
        description: str,
        *,
        keep: int | None = None,
        touch: bool = True,
    ) -> EditRecord | None:
        """:meth:`record_edit` with a value per photo (``{path: value}``): one undoable entry, as reading the
        ratings of a folder's XMP sidecars makes. ``touch``: the change counts as made in the app and sets the
        photos' ``edited_at`` (an import from XMP does not; see :mod:`loda_desktop.sidecar_sync`)."""
        field = check_edit_field(field)
        wanted = {path_key(p): EDIT_CHECKS[field](v) for p, v in values.items()}
        if keep is not None and (not isinstance(keep, int) or keep < 1):
            raise ValueError(f"keep must be a positive integer or None, got {keep!r}")
        keys = list(wanted)
        with self._write() as conn:
            current: dict[str, tuple[int, Any]] = {}
            for chunk in db_chunks(keys):
                marks = ",".join("?" * len(chunk))
                query = f"SELECT path, id, {field} FROM photos WHERE path IN ({marks})"
                current.update((path_from_db(p), (pid, old)) for p, pid, old in conn.execute(query, chunk))
            changed = [(key, *current[key]) for key in keys if key in current and current[key][1] != wanted[key]]
            if not changed:
                return None
            now = time.time()
            after_action = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM actions").fetchone()[0])
            edit_id = int(
                conn.execute(
                    "INSERT INTO edits (field, description, state, after_action, created, updated) "
                    "VALUES (?, ?, 'done', ?, ?, ?)",
                    (field, str(description), after_action, now, now),
                ).lastrowid
            )
            conn.executemany(
                "INSERT INTO edit_items (edit_id, photo_id, old_value, new_value) VALUES (?, ?, ?, ?)",
                [(edit_id, photo_id, old, wanted[key]) for key, photo_id, old in changed],
            )
            conn.executemany(
                f"UPDATE photos SET {field} = ?, edited_at = CASE WHEN ? THEN ? ELSE edited_at END WHERE id = ?",
                [(wanted[key], touch, now, pid) for key, pid, _ in changed],
            )
            if keep is not None:
                conn.execute(
                    "DELETE FROM edits WHERE id NOT IN (SELECT id FROM edits ORDER BY id DESC LIMIT ?)", (keep,)
                )
        changes = {key: (old, wanted[key]) for key, _, old in changed}
        return EditRecord(edit_id, field, str(description), "done", after_action, now, now, changes)

    def revert_edit(self, edit_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Undo a ``done`` entry and mark it ``undone``, in one transaction (committed before returning).

        A photo whose value is still the one the edit gave it gets its value from before back; a photo whose
        value changed since (another window, another program) keeps the newer value. Returns
        ``({path: value restored}, {path: newer value left alone})``. ``KeyError`` for an unknown entry,
        ``ValueError`` for one already undone.
        """
        with self._write() as conn:
            row = conn.execute("SELECT field, state FROM edits WHERE id = ?", (edit_id,)).fetchone()
            if row is None:
                raise KeyError(f"no edit history entry {edit_id}")
            field, state = check_edit_field(row[0]), row[1]
            if state != "done":
                raise ValueError(f"edit history entry {edit_id} is {state}; only a done entry can be undone")
            query = (
                f"SELECT p.path, p.id, p.{field}, e.old_value, e.new_value FROM edit_items e "
                "JOIN photos p ON p.id = e.photo_id WHERE e.edit_id = ? ORDER BY p.path"
            )
            restored: dict[str, Any] = {}
            kept: dict[str, Any] = {}
            writes = []
            for stored, photo_id, now_value, old, new in conn.execute(query, (edit_id,)).fetchall():
                if now_value == new:
                    restored[path_from_db(stored)] = old
                    writes.append((old, photo_id))
                else:
                    kept[path_from_db(stored)] = now_value
            now = time.time()
            conn.executemany(
                f"UPDATE photos SET {field} = ?, edited_at = ? WHERE id = ?", [(v, now, i) for v, i in writes]
            )
            conn.execute("UPDATE edits SET state = 'undone', updated = ? WHERE id = ?", (now, edit_id))
        return restored, kept

    def edits(self, states: Iterable[str] | None = None, limit: int | None = None) -> list[EditRecord]:
        """Edit history entries, newest first, optionally only those in ``states``."""
        select = "SELECT id, field, description, state, after_action, created, updated FROM edits"
        return [self._edit_record(row) for row in self._newest_first(select, states, limit)]

    def get_edit(self, edit_id: int) -> EditRecord:
        row = self._conn.execute(
            "SELECT id, field, description, state, after_action, created, updated FROM edits WHERE id = ?",
            (edit_id,),
        ).fetchone()
        if row is None:
            raise KeyError(f"no edit history entry {edit_id}")
        return self._edit_record(row)

    def _edit_record(self, row: Sequence[Any]) -> EditRecord:
        query = (
            "SELECT p.path, e.old_value, e.new_value FROM edit_items e "
            "JOIN photos p ON p.id = e.photo_id WHERE e.edit_id = ? ORDER BY p.path"
        )
        changes = {path_from_db(path): (old, new) for path, old, new in self._conn.execute(query, (row[0],))}
        return EditRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], changes)

    # -- XMP sync state (used by loda_desktop.sidecar_sync) ------------------------------------------------

    def xmp_states(self, paths: Iterable[PathLike]) -> dict[str, tuple[float | None, str | None]]:
        """``{path: (edited_at, xmp_stamp)}`` of the cataloged ``paths``: when their rating, flag or label last
        changed in the app, and which XMP sources were last read or written for them."""
        keys = unique_keys(paths)
        out: dict[str, tuple[float | None, str | None]] = {}
        for chunk in db_chunks(keys):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT path, edited_at, xmp_stamp FROM photos WHERE path IN ({marks})"
            out.update((path_from_db(p), (edited, stamp)) for p, edited, stamp in self._conn.execute(query, chunk))
        return out

    def set_xmp_stamps(self, stamps: Mapping[PathLike, str | None]) -> None:
        """Remember which XMP sources were read or written for each photo (committed before returning)."""
        rows = [(stamp, path_to_db(path_key(p))) for p, stamp in stamps.items()]
        if rows:
            with self._write() as conn:
                conn.executemany("UPDATE photos SET xmp_stamp = ? WHERE path = ?", rows)
