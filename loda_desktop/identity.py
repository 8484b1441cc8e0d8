"""A photo's identity beyond its path, so that its catalog record (rating, flag, label, scores, edit history)
survives the photographer moving or renaming a folder outside the app.

Two keys
    The *path key* is the real path (:func:`loda_desktop.catalog_schema.path_key`: symlinks resolved), so the
    same folder reached through a link is the same photos. The *content key* (:func:`content_key`, stored in
    ``photos.content_key``, schema version 3) is the file's size plus a SHA-256 of its first and last 64 KiB:
    the header (the whole EXIF block, capture time to the sub-second, camera serial number, the embedded
    thumbnail) and the start and end of the compressed picture. Reading 128 KiB costs far less than decoding,
    and is done once per new or changed file. The EXIF capture time is not added separately: its bytes are
    inside the hashed header, exactly.

Relinking (:func:`relink_moved`, run by :meth:`Catalog.add_photos` on every open and scan)
    A path the catalog has never seen whose content key equals that of exactly ONE cataloged record whose file
    is gone from its path takes over that record: the record's path is changed, nothing else, so its ratings,
    scores and edit history stay and nothing is scored again (its size and mtime are kept: a moved file keeps its
    mtime; a file whose mtime changed loses its scores as any changed file does, its ratings stay). It never
    relinks to a record whose file still exists (a copy does not steal the original's record), nor when two
    records with that key are gone, nor when two new files of one scan share the key (ambiguous: both stay new).
    Records cataloged before version 3 get their content key the next time their folder is opened; one whose
    file moved before that cannot be recognised.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence

from loda_desktop.catalog_schema import CHUNK, db_chunks, path_from_db, path_to_db

logger = logging.getLogger(__name__)

__all__ = ["HASHED_BYTES", "content_key", "pending_content_keys", "relink_moved"]

HASHED_BYTES = 64 * 1024  # hashed at each end of the file


def content_key(path: str, size: int | None = None) -> str | None:
    """``"<size>:<sha256 of the first and last 64 KiB>"`` of the file at ``path``; None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            if size is None:
                size = os.fstat(f.fileno()).st_size
            digest = hashlib.sha256(f.read(HASHED_BYTES))
            if size > HASHED_BYTES:
                f.seek(max(HASHED_BYTES, size - HASHED_BYTES))
                digest.update(f.read(HASHED_BYTES))
    except (OSError, ValueError):
        return None
    return f"{size}:{digest.hexdigest()}"


def pending_content_keys(
    conn: sqlite3.Connection, stats: Sequence[tuple[str, tuple[int, int]]]
) -> tuple[dict[str, str], set[str]]:
    """Content keys to store for ``stats`` ((path key, (size, mtime_ns)) of files on disk): those of files that
    are new to the catalog, changed, or cataloged without one; and which of the paths are new. Read before the
    write transaction starts, so that no file is read while the catalog is locked."""
    keys = [key for key, _ in stats]
    stored: dict[str, tuple[int, int, str | None]] = {}
    for chunk in db_chunks(keys):
        marks = ",".join("?" * len(chunk))
        query = f"SELECT path, size, mtime_ns, content_key FROM photos WHERE path IN ({marks})"
        for path, size, mtime_ns, content in conn.execute(query, chunk):
            stored[path_from_db(path)] = (size, mtime_ns, content)
    computed: dict[str, str] = {}
    for key, st in stats:
        entry = stored.get(key)
        if entry is None or entry[:2] != st or entry[2] is None:
            content = content_key(key, st[0])
            if content is not None:
                computed[key] = content
    return computed, {key for key in keys if key not in stored}


def _gone(key: str) -> bool:
    try:
        return not os.path.isfile(key)
    except (OSError, ValueError):
        return True


def relink_moved(conn: sqlite3.Connection, contents: dict[str, str], new: Iterable[str]) -> list[tuple[str, str]]:
    """Point the record of each moved photo at its new path (module docstring); returns the (old, new) pairs.

    ``contents``: content keys by path (:func:`pending_content_keys`); ``new``: the paths not cataloged yet.
    Runs inside the caller's write transaction."""
    by_content: dict[str, list[str]] = {}
    for key in new:
        if key in contents:
            by_content.setdefault(contents[key], []).append(key)
    wanted = [c for c, paths in by_content.items() if len(paths) == 1]  # two new files alike: ambiguous
    candidates: dict[str, list[tuple[int, str]]] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT id, path, content_key FROM photos WHERE content_key IN ({marks})"
        for photo_id, path, content in conn.execute(query, chunk):
            candidates.setdefault(content, []).append((photo_id, path_from_db(path)))
    moved = []
    for content in wanted:
        gone = [(photo_id, old) for photo_id, old in candidates.get(content, []) if _gone(old)]
        if len(gone) != 1:  # none, or two records the file could be: leave it new
            continue
        photo_id, old = gone[0]
        new_key = by_content[content][0]
        if conn.execute("SELECT 1 FROM photos WHERE path = ?", (path_to_db(new_key),)).fetchone() is not None:
            continue  # cataloged meanwhile by another connection: it has a record of its own
        conn.execute("UPDATE photos SET path = ? WHERE id = ?", (path_to_db(new_key), photo_id))
        logger.info("relinked %r to %r (same content)", old, new_key)
        moved.append((old, new_key))
    return moved
