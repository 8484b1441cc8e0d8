"""The catalog: one SQLite file per user holding photos, their scores per model profile, the file-action
journal and the edit history (rating, flag and label changes, for undo).

Storage
    ``data_dir()/catalog.sqlite3`` by default. WAL journal, ``synchronous=NORMAL``: every committed write
    survives the process being killed (an OS crash or power cut may lose the last few). Schema version in
    ``PRAGMA user_version``; the migrations of :mod:`loda_desktop.catalog_schema` upgrade older files step by
    step, and a file written by a newer app is refused rather than damaged.

Identity
    A photo is its real path (``os.path.realpath``: symlinks resolved) plus ``(size, mtime_ns)``.
    When :meth:`Catalog.add_photos` sees a changed size or mtime, the photo keeps its rating, flag and label
    (the user's data) but loses its scores (the pixels may have changed). A photo moved or renamed outside the
    app is recognised by its content key and its record follows it (:mod:`loda_desktop.identity`).

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

The journal and the edit history live in :mod:`loda_desktop.catalog_history` (a mixin of :class:`Catalog`).

Every public method takes and returns plain Python values and dataclasses, never ``sqlite3.Row``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loda_desktop.catalog_history import ActionRecord, EditRecord, HistoryMixin
from loda_desktop.catalog_schema import (
    EDIT_FIELDS,
    EDIT_STATES,
    ERROR_KINDS,
    FLAGS,
    MIGRATIONS,
    SCHEMA_VERSION,
    PathLike,
    check_embedding,
    check_flag,
    check_label,
    check_model_key,
    check_number,
    check_rating,
    check_regions,
    check_side,
    db_chunks,
    path_from_db,
    path_key,
    path_to_db,
    unique_keys,
)
from loda_desktop.identity import pending_content_keys, relink_moved
from loda_desktop.paths import catalog_path

logger = logging.getLogger(__name__)

__all__ = [
    "EDIT_FIELDS",
    "EDIT_STATES",
    "FLAGS",
    "SCHEMA_VERSION",
    "ActionRecord",
    "Catalog",
    "CatalogError",
    "EditRecord",
    "PathLike",
    "PhotoRecord",
    "Region",
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


Region = tuple[int, int, int, float]  # a detail crop: (x, y, size, score), in the photo's pixels after EXIF orientation


@dataclass(frozen=True)
class ScoreRecord:
    score: float | None  # None when status == "error"; the combined score (global and detail) the grid sorts by
    spread: float | None  # spread of the per-crop scores, when the scorer reports it
    status: str  # "ok" | "error"
    error: str | None
    model_key: str
    created: float = 0.0  # seconds since the epoch
    global_score: float | None = None  # the paper's score: the 384-px view alone
    detail: float | None = None  # mean over the native-resolution detail crops; None: too small for them
    regions: tuple[Region, ...] = ()  # the detail crops with their scores
    width: int | None = None  # the photo's size after EXIF orientation, when the scorer reported it
    height: int | None = None
    burst: int | None = None  # burst id (the smallest photo id of the burst); None: not in a burst of 2+
    burst_rank: int | None = None  # 1 = the best frame of the burst
    burst_tie: bool = False  # the best frame is within noise of the second (loda_desktop.bursts)


def _stat_file(key: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of a regular file (symlinks followed), or None if it is gone or not a file."""
    try:
        st = os.stat(key)
    except (OSError, ValueError):  # ValueError: a NUL or a lone surrogate, which no file name can hold
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_size, st.st_mtime_ns


def _retry(key: str, status: str, kind: str | None, retry_errors: bool) -> bool:
    """Whether an existing, unchanged file's score row is tried again (see :meth:`Catalog.needs_scoring`)."""
    if status != "error":
        return False
    return retry_errors or kind == "missing" or (kind == "unreadable" and os.access(key, os.R_OK))


_PHOTO_COLUMNS = "p.path, p.size, p.mtime_ns, p.rating, p.flag, p.label, p.capture_time"
_SCORE_COLUMNS = (
    "s.score, s.spread, s.status, s.error, s.model_key, s.created, s.global_score, s.detail, s.regions, s.width,"
    " s.height, s.burst, s.burst_rank, s.burst_tie"
)


def _photo(row: Sequence[Any]) -> PhotoRecord:
    return PhotoRecord(Path(path_from_db(row[0])), row[1], row[2], row[3], row[4], row[5], row[6])


def _score(row: Sequence[Any]) -> ScoreRecord | None:
    if row[2] is None:  # status is NOT NULL, so NULL means no score row (LEFT JOIN)
        return None
    regions = tuple((int(x), int(y), int(size), float(v)) for x, y, size, v in json.loads(row[8])) if row[8] else ()
    return ScoreRecord(*row[:8], regions, row[9], row[10], row[11], row[12], bool(row[13]))


class Catalog(HistoryMixin):
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
            if self._conn.in_transaction:  # SQLite already rolled back after SQLITE_FULL, IOERR, NOMEM...
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
        stats = [(key, st) for key in unique_keys(paths) if (st := _stat_file(key)) is not None]
        problems: dict[str, str] = {}
        if not stats:
            return problems
        contents, new = pending_content_keys(self._conn, stats)  # files read before the catalog is locked
        with self._write() as conn:
            relink_moved(conn, contents, new)  # a photo moved outside the app takes its record along
            for key, (size, mtime_ns) in stats:
                conn.execute("SAVEPOINT photo")  # undoes this photo's statements alone when one fails
                try:
                    self._upsert(conn, key, size, mtime_ns, contents.get(key))
                except (sqlite3.IntegrityError, sqlite3.InterfaceError, ValueError, OverflowError) as exc:
                    conn.execute("ROLLBACK TO photo")
                    logger.warning("not cataloged: %r: %s", key, problems.setdefault(key, str(exc)))
                conn.execute("RELEASE photo")
        return problems

    @staticmethod
    def _upsert(conn: sqlite3.Connection, key: str, size: int, mtime_ns: int, content: str | None = None) -> int:
        stored = path_to_db(key)
        row = conn.execute("SELECT id, size, mtime_ns FROM photos WHERE path = ?", (stored,)).fetchone()
        if row is None:
            cur = conn.execute(
                "INSERT INTO photos (path, size, mtime_ns, content_key) VALUES (?, ?, ?, ?)",
                (stored, size, mtime_ns, content),
            )
            return int(cur.lastrowid)
        photo_id, old_size, old_mtime = row
        if (old_size, old_mtime) != (size, mtime_ns):
            conn.execute("UPDATE photos SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, photo_id))
            conn.execute("DELETE FROM scores WHERE photo_id = ?", (photo_id,))
        if content is not None:
            conn.execute("UPDATE photos SET content_key = ? WHERE id = ?", (content, photo_id))
        return int(photo_id)

    def needs_scoring(self, paths: Iterable[PathLike], model_key: str, *, retry_errors: bool = False) -> list[Path]:
        """The existing files among ``paths`` that have no score for ``model_key`` valid for their content.

        A path needs scoring when it is not cataloged, when its size or mtime on disk differ from the
        catalog's, when it has no score row for ``model_key``, or when its error row's cause is gone: a file
        that was missing exists again, a file that was unreadable can be read now. An image that could not be
        decoded is not tried again while the file is unchanged, unless ``retry_errors`` (every error row counts
        as no row). Files that no longer exist are left out. Order of ``paths`` is kept, duplicates dropped.
        """
        check_model_key(model_key)
        keys = unique_keys(paths)
        known: dict[str, tuple[int, int, str | None, str | None]] = {}
        for chunk in db_chunks(keys):
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT p.path, p.size, p.mtime_ns, s.status, s.error_kind FROM photos p "
                "LEFT JOIN scores s ON s.photo_id = p.id AND s.model_key = ? "
                f"WHERE p.path IN ({marks})"
            )
            for path, size, mtime_ns, status, kind in self._conn.execute(query, (model_key, *chunk)):
                known[path_from_db(path)] = (size, mtime_ns, status, kind)
        todo = []
        for key in keys:
            st = _stat_file(key)
            if st is None:
                continue
            entry = known.get(key)
            if entry is None or entry[:2] != st or entry[2] is None or _retry(key, entry[2], entry[3], retry_errors):
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

    def _put(self, path: PathLike, values: tuple[Any, ...], parts: tuple[Any, ...] = (None,) * 6) -> None:
        key = path_key(path)
        with self._write() as conn:
            photo_id = self._photo_id(conn, key, add=True)
            conn.execute(  # a new score row: the photo's burst is decided again (loda_desktop.bursts)
                "INSERT OR REPLACE INTO scores (photo_id, model_key, score, spread, status, error, error_kind, "
                "created, global_score, detail, regions, width, height, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (photo_id, *values, time.time(), *parts),
            )

    def put_score(
        self,
        path: PathLike,
        model_key: str,
        score: float,
        spread: float | None = None,
        *,
        global_score: float | None = None,
        detail: float | None = None,
        regions: Iterable[Any] | None = None,
        width: int | None = None,
        height: int | None = None,
        embedding: bytes | None = None,
    ) -> None:
        """Store a score (committed before returning). An uncataloged existing file is cataloged first.

        ``score`` is the combined score; the keywords are the parts of a multi-scale score
        (``model.scorer.ImageScore``): ``regions`` as ``(x, y, size, score)`` tuples (``model.scorer.Region``),
        ``embedding`` as float16 little-endian bytes. A new score clears the photo's burst fields."""
        check_model_key(model_key)
        score_f = check_number("score", score, optional=False)
        spread_f = check_number("spread", spread, optional=True)
        parts = (
            check_number("global_score", global_score, optional=True),
            check_number("detail", detail, optional=True),
            check_regions(regions),
            check_side("width", width),
            check_side("height", height),
            check_embedding(embedding),
        )
        self._put(path, (model_key, score_f, spread_f, "ok", None, None), parts)

    def put_error(self, path: PathLike, model_key: str, message: str, kind: str = "decode") -> None:
        """Record that ``path`` could not be scored with ``model_key`` and why (committed before returning).

        ``kind`` (:data:`~loda_desktop.catalog_schema.ERROR_KINDS`) decides when :meth:`needs_scoring` tries it
        again. The photo must be cataloged already or exist on disk; otherwise ``KeyError``.
        """
        check_model_key(model_key)
        if kind not in ERROR_KINDS:
            raise ValueError(f"error kind must be one of {', '.join(ERROR_KINDS)}, got {kind!r}")
        self._put(path, (model_key, None, None, "error", str(message) or "unknown error", kind))

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
            return _photo(row[:7]), _score(row[7:])  # 7 photo columns, then the score's

        if paths is None:
            return [convert(r) for r in self._conn.execute(select + " ORDER BY p.path", (key_arg,))]
        keys = unique_keys(paths)
        found: dict[str, tuple[PhotoRecord, ScoreRecord | None]] = {}
        for chunk in db_chunks(keys):
            marks = ",".join("?" * len(chunk))
            for r in self._conn.execute(f"{select} WHERE p.path IN ({marks})", (key_arg, *chunk)):
                found[path_from_db(r[0])] = convert(r)
        return [found[k] for k in keys if k in found]

    # -- bursts (loda_desktop.bursts) -----------------------------------------------------------------------

    def _select_by_path(self, select: str, args: tuple[Any, ...], paths: Iterable[PathLike]) -> Iterator[tuple]:
        """Rows of ``select`` (a query whose first column is ``p.path`` and whose WHERE clause ends with
        ``p.path IN``) for the cataloged ``paths``, one ``IN (...)`` query per chunk."""
        for chunk in db_chunks(unique_keys(paths)):
            yield from self._conn.execute(f"{select} ({','.join('?' * len(chunk))})", (*args, *chunk))

    def photo_ids(self, paths: Iterable[PathLike]) -> dict[str, int]:
        """``{path: photo id}`` of the cataloged ``paths`` (the id stays with a photo that is moved or renamed)."""
        rows = self._select_by_path("SELECT p.path, p.id FROM photos p WHERE p.path IN", (), paths)
        return {path_from_db(path): int(photo_id) for path, photo_id in rows}

    def embeddings(self, paths: Iterable[PathLike], model_key: str) -> dict[str, bytes]:
        """``{path: embedding}`` of the ``paths`` whose score under ``model_key`` has one: float16 little-endian
        bytes of a unit vector (``np.frombuffer(b, "<f2")``), the model's own features, for grouping bursts."""
        select = (
            "SELECT p.path, s.embedding FROM photos p JOIN scores s ON s.photo_id = p.id AND s.model_key = ?"
            " WHERE s.embedding IS NOT NULL AND p.path IN"
        )
        return {path_from_db(path): bytes(blob) for path, blob in self._select_by_path(select, (model_key,), paths)}

    def set_bursts(self, model_key: str, values: Mapping[PathLike, tuple[int | None, int | None, bool]]) -> int:
        """Store each photo's ``(burst, burst_rank, burst_tie)`` under ``model_key`` in one transaction
        (``(None, None, False)``: in no burst). Photos without a score row for ``model_key`` are left out;
        returns how many rows were written."""
        check_model_key(model_key)
        rows = []
        for path, (burst, rank, tie) in values.items():
            where = path_to_db(path_key(path))
            if burst is None:
                rows.append((None, None, None, model_key, where))
            else:
                rows.append((int(burst), None if rank is None else int(rank), int(bool(tie)), model_key, where))
        if not rows:
            return 0
        with self._write() as conn:
            cur = conn.executemany(
                "UPDATE scores SET burst = ?, burst_rank = ?, burst_tie = ? WHERE model_key = ? AND photo_id ="
                " (SELECT id FROM photos WHERE path = ?)",
                rows,
            )
        return int(cur.rowcount)

    def burst_members(self, burst: int, model_key: str) -> list[tuple[Path, int | None, bool]]:
        """The photos of burst ``burst`` under ``model_key``, best first: ``(path, burst_rank, burst_tie)``."""
        query = (
            "SELECT p.path, s.burst_rank, s.burst_tie FROM scores s JOIN photos p ON p.id = s.photo_id"
            " WHERE s.model_key = ? AND s.burst = ? ORDER BY s.burst_rank IS NULL, s.burst_rank, p.path"
        )
        rows = self._conn.execute(query, (model_key, int(burst))).fetchall()
        return [(Path(path_from_db(path)), rank, bool(tie)) for path, rank, tie in rows]

    def _update_many(self, column: str, value: Any, paths: Iterable[PathLike]) -> int:
        keys = unique_keys(paths)
        changed = 0
        with self._write() as conn:
            for chunk in db_chunks(keys):
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
