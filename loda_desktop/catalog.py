"""The catalog: one SQLite file per user holding photos, their scores per model profile, the file-action
journal and the edit history (rating, flag and label changes, for undo).

Storage
    ``data_dir()/catalog.sqlite3`` by default. WAL journal, ``synchronous=NORMAL``: every committed write
    survives the process being killed (an OS crash or power cut may lose the last few). Schema version in
    ``PRAGMA user_version``; the migrations of :mod:`loda_desktop.catalog_schema` upgrade older files step by
    step, and a file written by a newer app is refused rather than damaged.

Identity
    A photo is its absolute path (``os.path.abspath``; symlinks are not resolved) plus ``(size, mtime_ns)``.
    When :meth:`Catalog.add_photos` sees a changed size or mtime, the photo keeps its rating, flag and label
    (the user's data) but loses its scores (the pixels may have changed).

Edit history
    :meth:`Catalog.record_edit` changes a rating, flag or label AND journals the values before it in one
    transaction, so a change is never saved without its undo entry (or the other way round). Entries point at
    photos by their row id, not their path: they follow a photo that :meth:`Catalog.rename_path` moved, and
    vanish with a photo whose record is dropped. Each entry remembers the newest file-action journal id at the
    time it was made (``after_action``), which orders the two histories exactly, without trusting the clock.
    What undo means for the photographer is :mod:`loda_desktop.culling`'s business.

Threads
    One connection per :class:`Catalog` object, usable only from the thread that opened it (sqlite3 enforces
    it). Each thread that needs the catalog opens its own ``Catalog(path)``: WAL lets readers run alongside the
    single writer, and a busy timeout makes a second writer wait instead of failing.

Every public method takes and returns plain Python values and dataclasses, never ``sqlite3.Row``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loda_desktop.catalog_schema import (
    EDIT_CHECKS,
    EDIT_FIELDS,
    EDIT_STATES,
    FLAGS,
    MIGRATIONS,
    SCHEMA_VERSION,
    check_edit_field,
    check_flag,
    check_label,
    check_model_key,
    check_number,
    check_rating,
    path_from_db,
    path_to_db,
)
from loda_desktop.paths import catalog_path

logger = logging.getLogger(__name__)

_CHUNK = 500  # host parameters per IN (...) query; well below SQLite's limit

PathLike = str | os.PathLike[str]

__all__ = [
    "EDIT_FIELDS",
    "EDIT_STATES",
    "FLAGS",
    "SCHEMA_VERSION",
    "ActionRecord",
    "Catalog",
    "CatalogError",
    "EditRecord",
    "PhotoRecord",
    "ScoreRecord",
    "path_key",
]


class CatalogError(Exception):
    """The catalog file cannot be used (written by a newer version, or damaged)."""


@dataclass(frozen=True)
class PhotoRecord:
    path: Path
    size: int
    mtime_ns: int
    rating: int  # 0..5; 0 = unrated
    flag: str | None  # "pick" | "reject" | None
    label: str | None
    capture_time: str | None  # ISO 8601


@dataclass(frozen=True)
class ScoreRecord:
    score: float | None  # None when status == "error"
    spread: float | None  # spread of the per-crop scores, when the scorer reports it
    status: str  # "ok" | "error"
    error: str | None
    model_key: str
    created: float = 0.0  # seconds since the epoch


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


def path_key(path: PathLike) -> str:
    """The catalog's key for a path: absolute, normalised, symlinks kept."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def _chunks(keys: Sequence[str], size: int = _CHUNK) -> Iterator[list[str | bytes]]:
    for start in range(0, len(keys), size):
        yield [path_to_db(key) for key in keys[start : start + size]]  # as photos.path stores them


def _unique_keys(paths: Iterable[PathLike]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        raise TypeError("expected an iterable of paths, not a single path")
    return list(dict.fromkeys(path_key(p) for p in paths))


def _stat_file(key: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of a regular file (symlinks followed), or None if it is gone or not a file."""
    try:
        st = os.stat(key)
    except (OSError, ValueError):  # ValueError: a NUL or a lone surrogate, which no file name can hold
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_size, st.st_mtime_ns


_PHOTO_COLUMNS = "p.path, p.size, p.mtime_ns, p.rating, p.flag, p.label, p.capture_time"
_SCORE_COLUMNS = "s.score, s.spread, s.status, s.error, s.model_key, s.created"


def _photo(row: Sequence[Any]) -> PhotoRecord:
    return PhotoRecord(Path(path_from_db(row[0])), row[1], row[2], row[3], row[4], row[5], row[6])


def _score(row: Sequence[Any]) -> ScoreRecord | None:
    if row[2] is None:  # status is NOT NULL, so NULL means no score row (LEFT JOIN)
        return None
    return ScoreRecord(row[0], row[1], row[2], row[3], row[4], row[5])


class Catalog:
    """A connection to one catalog file. See the module docstring for threading and durability."""

    def __init__(self, path: PathLike | None = None, *, timeout: float = 30.0) -> None:
        self.path = Path(path) if path is not None else catalog_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; multi-statement writes use explicit BEGIN IMMEDIATE in _write().
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.warning("catalog %s: WAL not available here, using journal_mode=%s", self.path, mode)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    # -- lifecycle -----------------------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on success and rolled back on any exception."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as conn:  # re-read inside the lock: another process may be migrating too
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {self.path} has schema version {version}, newer than this app supports "
                    f"({SCHEMA_VERSION}); update LoDa Desktop or use another catalog file"
                )
            while version < SCHEMA_VERSION:
                logger.info("catalog %s: migrating schema %d -> %d", self.path, version, version + 1)
                MIGRATIONS[version](conn)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    # -- photos --------------------------------------------------------------------------------------------

    def add_photos(self, paths: Iterable[PathLike]) -> dict[str, str]:
        """Catalog photos (or refresh their size/mtime). A changed file keeps its user data, loses its scores.

        Paths that no longer exist, or are not regular files, are skipped. A photo the database refuses is left
        out, logged and returned in ``{path: reason}`` (empty when all went in): it never stops the others."""
        stats = [(key, st) for key in _unique_keys(paths) if (st := _stat_file(key)) is not None]
        problems: dict[str, str] = {}
        if not stats:
            return problems
        with self._write() as conn:
            for key, (size, mtime_ns) in stats:
                conn.execute("SAVEPOINT photo")  # undoes this photo's statements alone when one fails
                try:
                    self._upsert(conn, key, size, mtime_ns)
                except (sqlite3.IntegrityError, sqlite3.InterfaceError, ValueError, OverflowError) as exc:
                    conn.execute("ROLLBACK TO photo")
                    logger.warning("not cataloged: %r: %s", key, problems.setdefault(key, str(exc)))
                conn.execute("RELEASE photo")
        return problems

    @staticmethod
    def _upsert(conn: sqlite3.Connection, key: str, size: int, mtime_ns: int) -> int:
        stored = path_to_db(key)
        row = conn.execute("SELECT id, size, mtime_ns FROM photos WHERE path = ?", (stored,)).fetchone()
        if row is None:
            cur = conn.execute("INSERT INTO photos (path, size, mtime_ns) VALUES (?, ?, ?)", (stored, size, mtime_ns))
            return int(cur.lastrowid)
        photo_id, old_size, old_mtime = row
        if (old_size, old_mtime) != (size, mtime_ns):
            conn.execute("UPDATE photos SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, photo_id))
            conn.execute("DELETE FROM scores WHERE photo_id = ?", (photo_id,))
        return int(photo_id)

    def needs_scoring(self, paths: Iterable[PathLike], model_key: str, *, retry_errors: bool = False) -> list[Path]:
        """The existing files among ``paths`` that have no score for ``model_key`` valid for their content.

        A path needs scoring when it is not cataloged, when its size or mtime on disk differ from the
        catalog's, or when it has no score row for ``model_key`` (with ``retry_errors``, an error row counts
        as no row). Files that no longer exist are left out. Order of ``paths`` is kept, duplicates dropped.
        """
        check_model_key(model_key)
        keys = _unique_keys(paths)
        known: dict[str, tuple[int, int, str | None]] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT p.path, p.size, p.mtime_ns, s.status FROM photos p "
                "LEFT JOIN scores s ON s.photo_id = p.id AND s.model_key = ? "
                f"WHERE p.path IN ({marks})"
            )
            for path, size, mtime_ns, status in self._conn.execute(query, (model_key, *chunk)):
                known[path_from_db(path)] = (size, mtime_ns, status)
        todo = []
        for key in keys:
            st = _stat_file(key)
            if st is None:
                continue
            entry = known.get(key)
            if entry is None or entry[:2] != st or entry[2] is None or (retry_errors and entry[2] == "error"):
                todo.append(Path(key))
        return todo

    def _photo_id(self, conn: sqlite3.Connection, key: str, *, add: bool) -> int | None:
        row = conn.execute("SELECT id FROM photos WHERE path = ?", (path_to_db(key),)).fetchone()
        if row is not None:
            return int(row[0])
        if not add:
            return None
        st = _stat_file(key)
        if st is None:
            raise KeyError(f"not in the catalog and not a readable file: {key}")
        return self._upsert(conn, key, *st)

    def _put(self, path: PathLike, values: tuple[Any, ...]) -> None:
        key = path_key(path)
        with self._write() as conn:
            photo_id = self._photo_id(conn, key, add=True)
            conn.execute(
                "INSERT OR REPLACE INTO scores (photo_id, model_key, score, spread, status, error, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (photo_id, *values, time.time()),
            )

    def put_score(self, path: PathLike, model_key: str, score: float, spread: float | None = None) -> None:
        """Store a score (committed before returning). An uncataloged existing file is cataloged first."""
        check_model_key(model_key)
        score_f = check_number("score", score, optional=False)
        spread_f = check_number("spread", spread, optional=True)
        self._put(path, (model_key, score_f, spread_f, "ok", None))

    def put_error(self, path: PathLike, model_key: str, message: str) -> None:
        """Record that ``path`` could not be scored with ``model_key`` and why (committed before returning).

        The photo must be cataloged already or exist on disk; otherwise ``KeyError``.
        """
        check_model_key(model_key)
        self._put(path, (model_key, None, None, "error", str(message) or "unknown error"))

    def get(self, path: PathLike, model_key: str | None = None) -> tuple[PhotoRecord, ScoreRecord | None]:
        """The record of one photo and its score for ``model_key`` (``None``: the most recent score of any
        model). Raises ``KeyError`` for a path not in the catalog."""
        key = path_key(path)
        select = f"SELECT p.id, {_PHOTO_COLUMNS} FROM photos p WHERE p.path = ?"
        row = self._conn.execute(select, (path_to_db(key),)).fetchone()
        if row is None:
            raise KeyError(f"not in the catalog: {key}")
        photo_id, photo = row[0], _photo(row[1:])
        query = f"SELECT {_SCORE_COLUMNS} FROM scores s WHERE s.photo_id = ?"
        args: tuple[Any, ...] = (photo_id,)
        if model_key is None:
            query += " ORDER BY s.created DESC LIMIT 1"
        else:
            query += " AND s.model_key = ?"
            args += (model_key,)
        score_row = self._conn.execute(query, args).fetchone()
        return photo, (_score(score_row) if score_row is not None else None)

    def rows(
        self, paths: Iterable[PathLike] | None, model_key: str | None
    ) -> list[tuple[PhotoRecord, ScoreRecord | None]]:
        """Records (and scores for ``model_key``) of ``paths``, in their order, skipping uncataloged ones.

        ``paths=None`` means every cataloged photo, sorted by path; ``model_key=None`` gives no scores.
        """
        select = (
            f"SELECT {_PHOTO_COLUMNS}, {_SCORE_COLUMNS} FROM photos p "
            "LEFT JOIN scores s ON s.photo_id = p.id AND s.model_key = ?"
        )
        key_arg = model_key  # None matches no score row: "s.model_key = NULL" is never true

        def convert(row: Sequence[Any]) -> tuple[PhotoRecord, ScoreRecord | None]:
            return _photo(row[:7]), _score(row[7:])

        if paths is None:
            return [convert(r) for r in self._conn.execute(select + " ORDER BY p.path", (key_arg,))]
        keys = _unique_keys(paths)
        found: dict[str, tuple[PhotoRecord, ScoreRecord | None]] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            for r in self._conn.execute(f"{select} WHERE p.path IN ({marks})", (key_arg, *chunk)):
                found[path_from_db(r[0])] = convert(r)
        return [found[k] for k in keys if k in found]

    def _update_many(self, column: str, value: Any, paths: Iterable[PathLike]) -> int:
        keys = _unique_keys(paths)
        changed = 0
        with self._write() as conn:
            for chunk in _chunks(keys):
                marks = ",".join("?" * len(chunk))
                cur = conn.execute(f"UPDATE photos SET {column} = ? WHERE path IN ({marks})", (value, *chunk))
                changed += cur.rowcount
        return changed

    def set_rating(self, paths: Iterable[PathLike], rating: int) -> int:
        """Set the star rating (0..5) of cataloged photos; returns how many rows changed."""
        return self._update_many("rating", check_rating(rating), paths)

    def set_flag(self, paths: Iterable[PathLike], flag: str | None) -> int:
        """Set the flag ("pick", "reject", or None to clear); returns how many rows changed."""
        return self._update_many("flag", check_flag(flag), paths)

    def set_label(self, paths: Iterable[PathLike], label: str | None) -> int:
        """Set a free-text label (stripped; empty means None); returns how many rows changed."""
        return self._update_many("label", check_label(label), paths)

    def set_capture_time(self, path: PathLike, iso: str | None) -> bool:
        """Set the capture time (ISO 8601 text, or None); returns whether the photo is cataloged."""
        if iso is not None:
            from datetime import datetime

            try:
                datetime.fromisoformat(iso)
            except (TypeError, ValueError):
                raise ValueError(f"capture time must be ISO 8601 text, got {iso!r}") from None
        return self._update_many("capture_time", iso, [path]) > 0

    def rename_path(self, old: PathLike, new: PathLike) -> bool:
        """Point the record of ``old`` at ``new`` (after the file was moved); rating, flag, label and scores
        follow. A stale record already at ``new`` is dropped, since the caller just put this file there.
        Returns False when ``old`` is not cataloged."""
        old_key, new_key = path_to_db(path_key(old)), path_to_db(path_key(new))
        if old_key == new_key:
            return self._conn.execute("SELECT 1 FROM photos WHERE path = ?", (old_key,)).fetchone() is not None
        with self._write() as conn:
            row = conn.execute("SELECT id FROM photos WHERE path = ?", (old_key,)).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM photos WHERE path = ?", (new_key,))
            conn.execute("UPDATE photos SET path = ? WHERE id = ?", (new_key, row[0]))
        return True

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        key = path_to_db(path_key(path))  # type: ignore[arg-type]
        return self._conn.execute("SELECT 1 FROM photos WHERE path = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0])

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
        if keep is not None and (not isinstance(keep, int) or keep < 1):
            raise ValueError(f"keep must be a positive integer or None, got {keep!r}")
        keys = _unique_keys(paths)
        with self._write() as conn:
            current: dict[str, tuple[int, Any]] = {}
            for chunk in _chunks(keys):
                marks = ",".join("?" * len(chunk))
                query = f"SELECT path, id, {field} FROM photos WHERE path IN ({marks})"
                current.update((path_from_db(p), (pid, old)) for p, pid, old in conn.execute(query, chunk))
            changed = [(key, *current[key]) for key in keys if key in current and current[key][1] != value]
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
                [(edit_id, photo_id, old, value) for _, photo_id, old in changed],
            )
            conn.executemany(f"UPDATE photos SET {field} = ? WHERE id = ?", [(value, pid) for _, pid, _ in changed])
            if keep is not None:
                conn.execute(
                    "DELETE FROM edits WHERE id NOT IN (SELECT id FROM edits ORDER BY id DESC LIMIT ?)", (keep,)
                )
        changes = {key: (old, value) for key, _, old in changed}
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
            conn.executemany(f"UPDATE photos SET {field} = ? WHERE id = ?", writes)
            conn.execute("UPDATE edits SET state = 'undone', updated = ? WHERE id = ?", (time.time(), edit_id))
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
