"""Export a ranking as CSV or JSON.

Columns (:data:`CSV_COLUMNS`): path, score, spread, rank, rating, flag, label, model, status, error,
capture_time, companions, detail, burst, burst_rank. Columns are only ever appended (scripts read them by position
too):

- ``capture_time``: when the photo was taken, ISO 8601 as the catalog stores it (EXIF DateTimeOriginal with its
  sub-seconds and UTC offset when the camera wrote them, e.g. ``2024-05-01T10:00:00.120000+02:00``); empty when
  the file has none. :func:`with_capture_times` reads it from EXIF for photos the catalog has none for.
- ``companions``: the other files of a RAW + JPEG pair (:mod:`loda_desktop.scan`), file names in the photo's
  folder, ``;``-separated in the CSV (``IMG_0001.CR2``), a list in JSON; empty for a photo on its own.
- ``detail``: the mean score of the photo's detail crops at native resolution (``score`` combines it with the
  global view); empty for a photo too small for detail crops or scored without them.
- ``burst`` and ``burst_rank``: the photo's burst (:mod:`loda_desktop.bursts`; an id shared by its frames, the
  smallest catalog photo id among them) and its rank in it, 1 = the best frame; empty for a photo in no burst.

- :func:`rank_rows` gives rank 1..n by score, highest first, to rows whose status is "ok" and whose score is
  a finite number; ties are broken by path. Other rows (errors, not scored yet) get no rank and come last,
  sorted by path.
- :func:`write_csv` and :func:`write_json` write atomically (temporary file in the same directory, then
  ``os.replace``): if anything fails, the temporary file is removed and an existing output is untouched.
- CSV (:func:`write_csv`; :func:`write_csv_stream` to an open stream, same cells): UTF-8, line endings from the
  csv module (``\\r\\n``, RFC 4180), floats with 6 decimals, empty cells for missing values.
  JSON: a list of objects with the same keys, full-precision floats, ``null`` for missing.
- CSV injection (OWASP): a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR as a
  formula. Every text cell (:data:`TEXT_COLUMNS`: path, flag, label, model, status, error) that starts with one
  of them gets a leading apostrophe (``'=HYPERLINK(...)``), which spreadsheets show as text; the numeric cells
  (score, spread, rank, rating, detail, burst, burst_rank) are written as numbers, a negative score included.
  The trade-off: a value that really starts with one of them (a path or label starting with ``-``, an error
  message) gets the apostrophe too; a program reading the CSV gets the value back by dropping the first
  character of a text cell that starts with ``'`` followed by one of them (a cell starting with ``'`` alone is
  left as it is).
  JSON needs no such change: it has the values as they are.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from loda_desktop.catalog import Catalog, PhotoRecord, ScoreRecord
from loda_desktop.paths import atomic_write

CSV_COLUMNS = [
    "path",
    "score",
    "spread",
    "rank",
    "rating",
    "flag",
    "label",
    "model",
    "status",
    "error",
    "capture_time",
    "companions",
    "detail",
    "burst",
    "burst_rank",
]
TEXT_COLUMNS = frozenset({"path", "flag", "label", "model", "status", "error", "capture_time", "companions"})
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

__all__ = [
    "CSV_COLUMNS",
    "FORMULA_TRIGGERS",
    "TEXT_COLUMNS",
    "ExportRow",
    "neutralise_cell",
    "rank_rows",
    "rows_from_records",
    "with_capture_times",
    "write_csv",
    "write_csv_stream",
    "write_json",
]


@dataclass(frozen=True)
class ExportRow:
    """One line of the export; the fields are :data:`CSV_COLUMNS`, in order."""

    path: str
    score: float | None = None
    spread: float | None = None
    rank: int | None = None
    rating: int | None = None
    flag: str | None = None
    label: str | None = None
    model: str | None = None
    status: str | None = None  # "ok" | "error" | None (not scored)
    error: str | None = None
    capture_time: str | None = None  # ISO 8601
    companions: tuple[str, ...] = ()  # file names of the RAW (or other) files paired with this photo
    detail: float | None = None  # mean score of the detail crops at native resolution
    burst: int | None = None  # burst id; None: in no burst
    burst_rank: int | None = None  # 1 = the best frame of its burst

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rows_from_records(
    records: Iterable[tuple[PhotoRecord, ScoreRecord | None]],
    model_key: str | None = None,
    companions: Mapping[Path, Sequence[Path]] | None = None,
) -> list[ExportRow]:
    """Export rows from :meth:`Catalog.rows` output (unranked; pass them through :func:`rank_rows`);
    ``companions``: each pair's primary to its other files (:func:`loda_desktop.scan.find_companions`)."""
    companions = companions or {}
    out = []
    for photo, score in records:
        out.append(
            ExportRow(
                path=str(photo.path),
                score=score.score if score else None,
                spread=score.spread if score else None,
                rating=photo.rating,
                flag=photo.flag,
                label=photo.label,
                model=score.model_key if score else model_key,
                status=score.status if score else None,
                error=score.error if score else None,
                capture_time=photo.capture_time,
                companions=tuple(c.name for c in companions.get(Path(photo.path), ())),
                detail=score.detail if score else None,
                burst=score.burst if score else None,
                burst_rank=score.burst_rank if score else None,
            )
        )
    return out


def with_capture_times(
    catalog: Catalog, records: list[tuple[PhotoRecord, ScoreRecord | None]]
) -> list[tuple[PhotoRecord, ScoreRecord | None]]:
    """``records`` with the capture time of each photo the catalog has none for read from its EXIF (header only)
    and stored in the catalog, so that it is read once, as the window's metadata loader does."""
    from loda_desktop.exif import read_exif

    out = []
    for photo, score in records:
        if photo.capture_time is None and (iso := read_exif(photo.path).capture_time):
            with contextlib.suppress(ValueError):
                catalog.set_capture_time(photo.path, iso)
            photo = replace(photo, capture_time=iso)
        out.append((photo, score))
    return out


def _rankable(row: ExportRow) -> bool:
    return row.status == "ok" and isinstance(row.score, (int, float)) and math.isfinite(row.score)


def rank_rows(rows: Iterable[ExportRow]) -> list[ExportRow]:
    """New rows, ranked: scored rows by score descending (rank 1 = best; ties by path), then the rest."""
    rows = list(rows)
    scored = sorted((r for r in rows if _rankable(r)), key=lambda r: (-float(r.score or 0.0), str(r.path)))
    others = sorted((r for r in rows if not _rankable(r)), key=lambda r: str(r.path))
    ranked = [replace(r, rank=i) for i, r in enumerate(scored, start=1)]
    return ranked + [replace(r, rank=None) for r in others]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ";".join(value)
    if isinstance(value, float):
        return f"{value:.6f}" if math.isfinite(value) else ""
    return str(value)


def neutralise_cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula: a leading ``'`` if it starts with a trigger."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _csv_row(row: ExportRow) -> list[str]:
    cells = [_csv_cell(getattr(row, c)) for c in CSV_COLUMNS]
    return [neutralise_cell(v) if c in TEXT_COLUMNS else v for c, v in zip(CSV_COLUMNS, cells, strict=True)]


def write_csv_stream(rows: Iterable[ExportRow], stream: TextIO) -> None:
    """Write ``rows`` (in the given order) as CSV with a header to an open text stream (``loda score --csv -``:
    standard output); the one formatter behind :func:`write_csv` too. Text cells are neutralised (module doc)."""
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(_csv_row(row))


def write_csv(rows: Iterable[ExportRow], out_path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` (in the given order) as CSV with a header, atomically; returns the path written.

    A file name that is not valid UTF-8 (Linux allows any bytes) is written as its own bytes (surrogateescape):
    the cell is exactly the name, and the file is UTF-8 everywhere else."""
    out = Path(out_path)
    with atomic_write(out, encoding="utf-8", newline="", errors="surrogateescape") as f:
        write_csv_stream(rows, f)
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def write_json(rows: Iterable[ExportRow], out_path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` as a JSON list of objects (keys = :data:`CSV_COLUMNS`), atomically. A file name that is
    not valid UTF-8 is written with ``\\udcXX`` escapes (backslashreplace), which JSON reads back as the same
    surrogate-escaped name: the file stays valid UTF-8 and the name survives exactly."""
    out = Path(out_path)
    data = [{c: _json_value(getattr(r, c)) for c in CSV_COLUMNS} for r in rows]
    with atomic_write(out, encoding="utf-8", newline="\n", errors="backslashreplace") as f:
        json.dump(data, f, ensure_ascii=False, indent=2, allow_nan=False)
        f.write("\n")
    return out
