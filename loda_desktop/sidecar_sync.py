"""Keeping the catalog and the photos' XMP in step: ratings, flags and labels read from XMP when a folder is
opened (:func:`import_xmp`), and written to sidecars when they change in the app or on demand
(:func:`write_sidecars`). What XMP says and how it is parsed is :mod:`.xmp`; how a sidecar is merged,
:mod:`.xmp_write`.

Reading: newest wins, never silently
    Each photo remembers which XMP sources it last read or wrote (``photos.xmp_stamp``: the sidecars' names,
    sizes and mtimes, and the photo's own for embedded XMP). While they are unchanged nothing is read again,
    so a sidecar read once never overwrites what is changed in the app afterwards. When a source is new or has
    changed, its time — ``xmp:MetadataDate``, else the file's mtime — is compared with the photo's last change
    in the app (``photos.edited_at``, set by every rating, flag or label change and undo): the newer one wins.
    Values read go into the catalog as one undoable edit per field ("ratings read from XMP"); they do not count
    as changes made in the app. The report counts the values that replaced ones set in the app and the sources
    that lost to newer changes in the app, and each is logged with its photo.

Writing: merged, atomic, kept for undo
    ``lightroom`` writes ``NAME.xmp``, ``darktable`` ``NAME.EXT.xmp`` (an existing file of either case is
    used). An existing sidecar is merged (:func:`.xmp_write.merge_sidecar`); one that cannot be parsed is left
    alone and reported, never replaced. The file is written to a temporary file and renamed into place
    (:func:`loda_desktop.paths.atomic_write`). The first time the app changes a sidecar it did not write (one
    with no ``loda:`` property), the original is copied to ``data_dir()/xmp-originals/``; an undo writes the
    sidecar again from the values the catalog restored. Photos themselves are never written.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .catalog import Catalog, EditRecord, PathLike, PhotoRecord, path_key
from .catalog_schema import unique_keys
from .paths import atomic_write, data_dir
from .scan import find_companions
from .text import plural
from .xmp import (
    EMBEDDED_SUFFIXES,
    LODA_NS,
    XmpDocument,
    XmpError,
    XmpValues,
    find_sidecars,
    folder_listing,
    read_photo_xmp,
    read_xmp_file,
    top_descriptions,
)
from .xmp_write import SidecarValues, merge_sidecar, new_document

log = logging.getLogger(__name__)

__all__ = [
    "LAYOUTS",
    "WRITE_LAYOUTS",
    "ImportReport",
    "WriteReport",
    "import_xmp",
    "sidecar_path",
    "write_sidecars",
]

LAYOUTS = ("off", "lightroom", "darktable")  # the xmp_sidecars setting
WRITE_LAYOUTS = ("lightroom", "darktable")
FIELDS = ("rating", "flag", "label")
EMPTY: dict[str, Any] = {"rating": 0, "flag": None, "label": None}
ORIGINALS = "xmp-originals"


@dataclass
class ImportReport:
    """What :func:`import_xmp` did."""

    values: int = 0  # ratings, flags and labels changed
    photos: int = 0  # photos with at least one of them changed
    replaced: int = 0  # values that replaced one set in the app (the source was newer)
    kept_newer: int = 0  # sources older than the photo's last change in the app: not read
    edits: list[EditRecord] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (source, why it was ignored)

    def add(self, other: ImportReport) -> None:
        """Count ``other`` in too (a folder is read chunk by chunk)."""
        self.values += other.values
        self.photos += other.photos
        self.replaced += other.replaced
        self.kept_newer += other.kept_newer
        self.edits += other.edits
        self.problems += other.problems

    def describe(self) -> str:
        """One line for the status bar and the command line; empty when there is nothing to say."""
        parts = []
        if self.values:
            parts.append(f"Read {plural(self.values, 'value')} from XMP ({plural(self.photos, 'photo')})")
        if self.replaced:
            parts.append(f"{self.replaced} replaced {'a value' if self.replaced == 1 else 'values'} set in the app")
        if self.kept_newer:
            parts.append(f"{plural(self.kept_newer, 'photo')} kept newer changes made in the app over their XMP")
        if self.problems:
            parts.append(f"{plural(len(self.problems), 'XMP source')} ignored (unreadable; see the log)")
        return "; ".join(parts) + "." if parts else ""


@dataclass
class WriteReport:
    """What :func:`write_sidecars` did."""

    written: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (sidecar, why it was not written)
    originals: list[Path] = field(default_factory=list)  # copies kept of sidecars changed for the first time

    def describe(self) -> str:
        text = f"Wrote {plural(len(self.written), 'XMP sidecar')}."
        if self.problems:
            text += f" {plural(len(self.problems), 'sidecar')} not written: {self.problems[0][1]}"
        return text


# -- reading ------------------------------------------------------------------------------------------------


def _stamp(photo: Path, sidecars: list[Path], record: PhotoRecord) -> str:
    """What the photo's XMP sources are now: the sidecars' names, sizes and mtimes, and for a format that can
    hold XMP the photo's own size and mtime."""
    parts = []
    for sidecar in sidecars:
        try:
            st = sidecar.stat()
            parts.append(f"{sidecar.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{sidecar.name}:gone")
    if photo.suffix.lower() in EMBEDDED_SUFFIXES:
        parts.append(f"@{record.size}:{record.mtime_ns}")
    return "|".join(parts)


def _source_time(values_source: Path, metadata_date: float | None) -> float | None:
    if metadata_date is not None:
        return metadata_date
    try:
        return values_source.stat().st_mtime
    except OSError:
        return None


def _when(seconds: float | None) -> str:
    return datetime.fromtimestamp(seconds).isoformat(sep=" ", timespec="seconds") if seconds else "unknown"


def _take_values(
    key: str,
    record: PhotoRecord,
    values: XmpValues,
    edited_at: float | None,
    source_time: float | None,
    changes: dict[str, dict[str, Any]],
    report: ImportReport,
) -> bool:
    """Note in ``changes`` the rating, flag and label ``values`` give the photo at ``key`` where they differ from
    its ``record``, counting (and logging) those that replace a value set in the app; whether any changed."""
    new = {
        "rating": record.rating if values.rating is None else values.rating,
        "flag": values.flag_after(record.flag),
        "label": values.label if values.label_stated else record.label,
    }
    changed = False
    for name, value in new.items():
        old = getattr(record, name)
        if value == old:
            continue
        changes[name][key] = value
        report.values += 1
        changed = True
        if edited_at is not None and old != EMPTY[name]:
            report.replaced += 1
            log.warning(
                "XMP %s (%s) replaces the %s %r set in the app (%s) with %r: the newer one wins",
                values.source,
                _when(source_time),
                name,
                old,
                _when(edited_at),
                value,
            )
    return changed


def import_xmp(
    catalog: Catalog,
    paths: Iterable[PathLike],
    *,
    keep: int | None = None,
    embedded: bool = True,
    pairs: Mapping[Path, Sequence[Path]] | None = None,
) -> ImportReport:
    """Read the XMP of the cataloged ``paths`` into the catalog; see the module docstring for the rule.

    ``keep``: the edit history's size (:data:`loda_desktop.culling.HISTORY_LIMIT` by default). ``pairs``: the
    RAW companions of RAW + JPEG pairs (:func:`loda_desktop.scan.find_companions`) when the caller has them
    already; looked up here otherwise."""
    if keep is None:
        from .culling import HISTORY_LIMIT

        keep = HISTORY_LIMIT
    keys = unique_keys(paths)
    report = ImportReport()
    states = catalog.xmp_states(keys)
    records = {path_key(r.path): r for r, _ in catalog.rows(keys, None)}
    if pairs is None:  # a RAW + JPEG pair: the RAW's own sidecar speaks for the photo too
        pairs = find_companions(records)
    listings: dict[Path, dict[str, list[str]]] = {}
    stamps: dict[str, str] = {}
    changes: dict[str, dict[str, Any]] = {name: {} for name in FIELDS}
    for key in keys:
        record = records.get(key)
        if record is None:
            continue
        photo = Path(key)
        listing = listings.get(photo.parent)
        if listing is None:
            listing = listings[photo.parent] = folder_listing(photo.parent)
        edited_at, old_stamp = states.get(key, (None, None))
        companions = pairs.get(photo, [])
        stamp = _stamp(photo, find_sidecars(photo, listing, companions), record)
        if stamp == (old_stamp or ""):
            continue
        stamps[key] = stamp
        values = read_photo_xmp(photo, listing, embedded=embedded, problems=report.problems, companions=companions)
        if values is None:
            continue
        source_time = _source_time(values.source, values.metadata_date)
        if edited_at is not None and source_time is not None and edited_at > source_time:
            report.kept_newer += 1
            log.info(
                "XMP %s (%s) not read: %s was changed in the app later (%s)",
                values.source,
                _when(source_time),
                photo.name,
                _when(edited_at),
            )
            continue
        report.photos += _take_values(key, record, values, edited_at, source_time, changes, report)
    for name, values_by_path in changes.items():
        if values_by_path:
            edit = catalog.record_edits(name, values_by_path, f"{name}s read from XMP", keep=keep, touch=False)
            if edit is not None:
                report.edits.append(edit)
    catalog.set_xmp_stamps(stamps)
    if report.values or report.kept_newer:
        log.info("XMP import: %s", report.describe())
    return report


# -- writing ------------------------------------------------------------------------------------------------


def sidecar_path(photo: Path, layout: str, listing: dict[str, list[str]] | None = None) -> Path:
    """The sidecar ``layout`` writes for ``photo``: ``NAME.xmp`` (lightroom) or ``NAME.EXT.xmp`` (darktable);
    an existing file of that name in another case (``NAME.XMP``) is used instead of making a second one."""
    if layout not in WRITE_LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(WRITE_LAYOUTS)}, got {layout!r}")
    photo = Path(photo)
    wanted = (photo.name if layout == "darktable" else photo.stem) + ".xmp"
    existing = (listing if listing is not None else folder_listing(photo.parent)).get(wanted.lower())
    return photo.with_name(sorted(existing)[0]) if existing else photo.with_name(wanted)


def _ours(document: XmpDocument) -> bool:
    """Whether LoDa has written this sidecar before (it holds a ``loda:`` property)."""
    prefix = f"{{{LODA_NS}}}"
    return any(
        any(k.startswith(prefix) for k in d.attrib) or any(str(c.tag).startswith(prefix) for c in d)
        for d in top_descriptions(document.root)
    )


def _keep_original(target: Path, originals: Path) -> Path:
    """Copy a sidecar LoDa is about to change for the first time; an earlier copy is never replaced."""
    digest = hashlib.sha256(str(target).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    copy = originals / f"{digest}-{target.name}"
    if not copy.exists():
        originals.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, copy)
        log.info("kept the original of %s as %s", target, copy)
    return copy


def _sidecar_values(record: PhotoRecord, score: Any, edited_at: float | None) -> SidecarValues:
    when = datetime.fromtimestamp(edited_at) if edited_at else datetime.now()
    return SidecarValues(
        rating=int(record.rating),
        flag=record.flag,
        label=record.label,
        metadata_date=when.astimezone().isoformat(timespec="seconds"),
        score=score.score if score is not None and score.status == "ok" else None,
        model=score.model_key if score is not None and score.status == "ok" else None,
        written=datetime.now().astimezone().isoformat(timespec="seconds"),
    )


def _write_one(target: Path, values: SidecarValues, layout: str, originals: Path | None, report: WriteReport) -> bool:
    """Merge ``values`` into the sidecar ``target`` (atomically); False, with the reason in ``report``, when it
    cannot be read or written."""
    try:
        exists = target.exists()
        document = read_xmp_file(target) if exists else new_document()
        if exists and not _ours(document):
            report.originals.append(_keep_original(target, originals or data_dir() / ORIGINALS))
        data = merge_sidecar(document, values, darktable_layout=layout == "darktable")
        with atomic_write(target, "wb") as f:
            f.write(data)
    except (OSError, XmpError) as exc:
        reason = f"{target.name}: {exc}" if isinstance(exc, XmpError) else f"{target.name}: {exc.strerror or exc}"
        report.problems.append((str(target), reason))
        log.warning("XMP sidecar %s not written: %s", target, exc)
        return False
    report.written.append(target)
    return True


def write_sidecars(
    catalog: Catalog, paths: Iterable[PathLike], layout: str, *, originals: Path | None = None
) -> WriteReport:
    """Write (merge) the sidecar of each cataloged photo in ``paths`` with its rating, flag, label and latest
    score, in ``layout``; see the module docstring. A sidecar that cannot be written is reported, the others
    are still written. ``originals``: where first copies go (``data_dir()/xmp-originals``)."""
    if layout not in WRITE_LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(WRITE_LAYOUTS)}, got {layout!r}")
    keys = unique_keys(paths)
    report = WriteReport()
    states = catalog.xmp_states(keys)
    pairs = find_companions(keys)
    listings: dict[Path, dict[str, list[str]]] = {}
    done: list[tuple[str, PhotoRecord]] = []
    for key in keys:
        try:
            record, score = catalog.get(key)
        except KeyError:
            continue
        photo = Path(key)
        listing = listings.get(photo.parent)
        if listing is None:  # one directory read per folder, not per photo
            listing = listings[photo.parent] = folder_listing(photo.parent)
        values = _sidecar_values(record, score, states.get(key, (None, None))[0])
        # darktable's layout is per file: the RAW of a RAW + JPEG pair gets its own NAME.RAW.xmp too (the file
        # darktable opens); Lightroom's NAME.xmp is shared by the pair already
        files = [photo, *(pairs.get(photo, []) if layout == "darktable" else [])]
        written = [_write_one(sidecar_path(f, layout, listing), values, layout, originals, report) for f in files]
        if all(written):
            done.append((key, record))
    stamps, after = {}, {}
    for key, record in done:  # what the sources are now, so that what was just written is not read back
        photo = Path(key)
        listing = after.get(photo.parent)
        if listing is None:
            listing = after[photo.parent] = folder_listing(photo.parent)
        stamps[key] = _stamp(photo, find_sidecars(photo, listing, pairs.get(photo, [])), record)
    catalog.set_xmp_stamps(stamps)
    return report
