"""Background work for the window. The UI thread never decodes an image, reads EXIF or runs the network.

- :class:`ListingWorker` lives in its own QThread and lists a folder (scan → catalog → photos with their cached
  scores) without waiting for the model: browsing and culling never depend on it.
- :class:`ScoringWorker` lives in ONE QThread (owned by :class:`ScoringController`) and owns the
  :class:`~loda_desktop.engine.Engine`, built in that thread, and so the scorer; it scores what the listing found.
  Both emit plain data only (through the scoring worker's signals): :class:`PhotoItem` records in chunks,
  result tuples ``(path, score, spread, status, error)`` coalesced every :data:`FLUSH_SECONDS` (2,000 photos do
  not mean 2,000 queued events) with the parts of those scores (detail, crops, size: ``details``),
  :class:`Progress`, the engine's :class:`ScoreSummary`, or an error message. When a run ends (not cancelled),
  the same thread groups the photos into bursts (:meth:`Engine.assign_bursts`) and sends every photo's detail
  and burst fields as the catalog now holds them, before ``finished``.
  Pause blocks the engine's ``should_continue`` callback on a ``threading.Event``; cancel makes it return False.
- :class:`ThumbnailLoader` (thumbnails and loupe previews, newest request first) and :class:`MetadataLoader`
  (capture times) run on thread pools of their own: :mod:`.loaders`, re-exported here. Every thread and pool is
  counted by :mod:`.threads` (:func:`live_threads`) and runs at a lower CPU priority than the UI thread.

Every request carries a generation number; results of an older generation (a folder no longer open) are
dropped by the receiver.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from loda_desktop.catalog import Catalog, path_key
from loda_desktop.engine import Engine, PhotoResult, ScoreSummary
from loda_desktop.errors import USER_ERRORS
from loda_desktop.scan import find_companions
from loda_desktop.settings import Settings
from loda_desktop.sidecar_sync import ImportReport, import_xmp

from .items import SCORE_PARTS, detail_fields
from .loaders import MetadataLoader, ThumbnailLoader, pil_to_qimage
from .models import PhotoItem
from .threads import live_threads, lower_thread_priority, track_thread

log = logging.getLogger(__name__)

__all__ = [
    "FLUSH_SECONDS",
    "EngineInfo",
    "ListingWorker",
    "MetadataLoader",
    "Progress",
    "ScoringController",
    "ScoringWorker",
    "ThumbnailLoader",
    "live_threads",
    "pil_to_qimage",
]

FLUSH_SECONDS = 0.1  # results are posted to the UI at most this often
CHUNK = 250  # photos per catalog read / model insert while a folder opens


@dataclass(frozen=True)
class EngineInfo:
    """What the window shows about the engine the worker built."""

    model_name: str
    model_key: str
    notice: str | None  # the untrained-model warning, or None
    settings: Settings
    preparing: bool = False  # the first run with this model: it is exported for ONNX Runtime before it loads


@dataclass(frozen=True)
class Progress:
    generation: int
    phase: str  # "scanning" | "loading" | "loading model" | "scoring" | "paused" | "bursts" | "done" | "cancelled"
    done: int = 0  # photos with an outcome (scored now, from the catalog, or failed)
    total: int = 0
    scored: int = 0  # scored in this run
    cached: int = 0
    failed: int = 0
    rate: float = 0.0  # photos scored per second in this run (pauses excluded)
    eta: float | None = None  # seconds left, when a rate is known

    def describe(self) -> str:
        """``123 / 2,000 · 8.1 photos/s · ETA 3 min``."""
        parts = [f"{self.done:,} / {self.total:,}"]
        if self.rate > 0:
            parts.append(f"{self.rate:.1f} photos/s")
        if self.eta is not None and self.phase == "scoring":
            parts.append(f"ETA {format_duration(self.eta)}")
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60)} min"


# -- scoring -------------------------------------------------------------------------------------------------


class _Job:
    """The bookkeeping of one open/score request, in the worker thread."""

    def __init__(self, generation: int, total: int) -> None:
        self.generation = generation
        self.total = total
        self.done = self.scored = self.cached = self.failed = 0
        self.buffer: list[tuple[str, float | None, float | None, str, str | None]] = []
        self.details: dict[str, dict[str, object]] = {}  # path → the parts of its new score (detail, crops, size)
        self.last_flush = time.monotonic()
        self.started: float | None = None  # when the network started on this run's photos
        self.paused_seconds = 0.0

    def rate(self) -> float:
        if self.started is None or self.scored == 0:
            return 0.0
        elapsed = time.monotonic() - self.started - self.paused_seconds
        return self.scored / elapsed if elapsed > 0 else 0.0

    def progress(self, phase: str) -> Progress:
        rate = self.rate()
        left = self.total - self.done
        return Progress(
            self.generation,
            phase,
            self.done,
            self.total,
            self.scored,
            self.cached,
            self.failed,
            rate,
            left / rate if rate > 0 else None,
        )


class ScoringWorker(QObject):
    """Owns the engine; runs in the scoring thread. Slots are invoked through queued signals."""

    engine_ready = Signal(object)  # EngineInfo
    engine_failed = Signal(str)
    model_loaded = Signal(str)  # the scorer's description ("torch cpu"), once the network is in memory
    scanned = Signal(int, int, object)  # generation, photos found, [(path, problem)] of folders not read
    photos_found = Signal(int, object)  # generation, [PhotoItem] (a chunk, with catalog data and cached scores)
    results = Signal(int, object)  # generation, [(path, score, spread, status, error)]
    progress = Signal(object)  # Progress
    finished = Signal(int, object)  # generation, ScoreSummary
    failed = Signal(int, str)  # generation, message
    xmp_read = Signal(int, object)  # generation, ImportReport: ratings, flags, labels read from XMP while listing
    details = Signal(int, object, str)  # generation, {path: {field: value}} (items.DETAIL_FIELDS), a note (bursts)

    def __init__(self, catalog_path: Path | None = None) -> None:
        super().__init__()
        self.catalog_path = catalog_path
        self._engine: Engine | None = None
        self._engine_error: str | None = None
        self._cancelled_upto = 0
        self._lock = threading.Lock()
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self.retry_generation = 0  # the job that retries failed photos (set by the UI thread before it is sent)

    # -- thread-safe controls (any thread) ------------------------------------------------------------------
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self, generation: int) -> None:
        """Stop the job of ``generation`` and every older one (a paused job wakes up to stop)."""
        with self._lock:
            self._cancelled_upto = max(self._cancelled_upto, generation)
        self._running.set()

    def is_cancelled(self, generation: int) -> bool:
        with self._lock:
            return generation <= self._cancelled_upto

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # -- slots (the worker thread) --------------------------------------------------------------------------
    @Slot(object)
    def configure(self, settings: Settings) -> None:
        """Build a new engine for ``settings`` (the old one and its scorer are dropped)."""
        lower_thread_priority()  # the torch and decode threads this thread starts inherit it
        self._engine = None
        try:
            engine = Engine(settings, catalog_path=self.catalog_path, export_in_child=True)
        except Exception as exc:  # a model that cannot be used is a message in the window, never a dead thread
            message = str(exc) if isinstance(exc, USER_ERRORS) else f"cannot use this model: {exc}"
            if not isinstance(exc, USER_ERRORS):
                log.exception("engine setup failed")
            self._engine_error = message
            self.engine_failed.emit(message)
            return
        self._engine, self._engine_error = engine, None
        info = EngineInfo(engine.profile.name, engine.model_key, engine.notice, engine.settings, engine.prepares_onnx)
        self.engine_ready.emit(info)
        # Load the network now, before a folder arrives: importing torch holds the GIL for long stretches
        # (hundreds of ms at a time), which would freeze the window in the middle of a scan. A model that
        # cannot load (missing backbone weights, no CUDA) is reported now, not after the first drop.
        try:
            scorer = engine.scorer
        except Exception as exc:
            message = str(exc) if isinstance(exc, USER_ERRORS) else f"cannot load the model: {exc}"
            if not isinstance(exc, USER_ERRORS):
                log.exception("model load failed")
            self._engine, self._engine_error = None, message
            self.engine_failed.emit(message)
            return
        self.model_loaded.emit(scorer.describe())

    @Slot(int, object)
    def score_listed(self, generation: int, paths: Sequence[Path]) -> None:
        """Score the photos the listing thread found (the grid already shows them with what the catalog knows)."""
        if self.is_cancelled(generation):  # superseded before it started
            self.finished.emit(generation, ScoreSummary(total=len(paths), cancelled=True))
            return
        try:
            self._score(generation, paths)
        except USER_ERRORS as exc:
            self.failed.emit(generation, str(exc))
        except Exception as exc:  # a bug: keep the thread alive, tell the user, log the traceback
            log.exception("scoring failed")
            self.failed.emit(generation, f"unexpected error: {type(exc).__name__}: {exc}")

    def _score(self, generation: int, paths: Sequence[Path]) -> None:
        engine = self._engine
        if engine is None:  # browsing and culling go on; only the scores are missing
            reason = self._engine_error or "no model is configured"
            self.progress.emit(Progress(generation, "done", total=len(paths)))
            self.finished.emit(generation, ScoreSummary(total=len(paths), unscored_reason=reason))
            return
        job = _Job(generation, len(paths))
        retry = generation == self.retry_generation  # Scoring ▸ Retry Failed
        with Catalog(engine.catalog_path) as catalog:
            todo = len(catalog.needs_scoring(paths, engine.model_key, retry_errors=retry))
        if todo and not engine.scorer_loaded:  # loaded by configure() unless it failed there
            self.progress.emit(job.progress("loading model"))
            engine.scorer  # noqa: B018 (loaded by configure() already; the rate must not include a load)
        job.started = time.monotonic()
        summary = engine.score_paths(
            paths,
            on_result=lambda r: self._on_result(job, r),
            should_continue=lambda: self._should_continue(job),
            retry_errors=retry,
        )
        summary.cancelled = summary.cancelled or self.is_cancelled(generation)
        if not summary.cancelled:
            self._flush(job, "bursts")
            self._send_bursts(job, engine, paths)
        self._flush(job, "cancelled" if summary.cancelled else "done")
        self.finished.emit(generation, summary)

    def _send_bursts(self, job: _Job, engine: Engine, paths: Sequence[Path]) -> None:
        """Group the photos into bursts and rank them (here, in the scoring thread: it may score regions again),
        then send every photo's detail and burst fields as the catalog holds them; a failure is a note."""
        try:
            note = engine.assign_bursts(paths).describe()
        except (*USER_ERRORS, sqlite3.Error, OSError) as exc:
            note = f"Bursts not grouped: {exc}"
        except Exception as exc:  # a bug: the scores stand; the traceback goes to the log
            log.exception("bursts not grouped")
            note = f"Bursts not grouped: unexpected error: {type(exc).__name__}: {exc}"
        try:
            with Catalog(engine.catalog_path) as catalog:
                rows = catalog.rows(paths, engine.model_key)
        except (*USER_ERRORS, sqlite3.Error, OSError) as exc:
            log.warning("detail scores and bursts not read back: %s", exc)
            return
        values = {path_key(r.path): detail_fields(s) for r, s in rows if s is not None and s.status == "ok"}
        self.details.emit(job.generation, values, note)

    def _on_result(self, job: _Job, result: PhotoResult) -> None:
        job.done += 1
        if result.status != "ok":
            job.failed += 1
        elif result.cached:
            job.cached += 1
        else:
            job.scored += 1
        key = path_key(result.path)
        job.buffer.append((key, result.score, result.spread, result.status, result.error))
        if result.status == "ok" and not result.cached:  # a cached score's parts came with the listing
            # a new score: the catalog cleared the photo's burst until bursts are grouped again
            no_burst = {"burst": None, "burst_rank": None, "burst_tie": False}
            job.details[key] = {**detail_fields(result, SCORE_PARTS), **no_burst}
        if time.monotonic() - job.last_flush >= FLUSH_SECONDS:
            self._flush(job, "scoring")

    def _flush(self, job: _Job, phase: str) -> None:
        if job.buffer:
            batch, job.buffer = job.buffer, []
            self.results.emit(job.generation, batch)
        if job.details:
            parts, job.details = job.details, {}
            self.details.emit(job.generation, parts, "")
        self.progress.emit(job.progress(phase))
        job.last_flush = time.monotonic()

    def _should_continue(self, job: _Job) -> bool:
        if not self._running.is_set() and not self.is_cancelled(job.generation):
            self._flush(job, "paused")
            began = time.monotonic()
            self._running.wait()
            job.paused_seconds += time.monotonic() - began
            if not self.is_cancelled(job.generation):
                self.progress.emit(job.progress("scoring"))
        return not self.is_cancelled(job.generation)


class ListingWorker(QObject):
    """Lists a folder in its own thread: scan, catalog, and the photos posted with what the catalog knows.

    It never waits for the model, which loads (or fails to) in the scoring thread meanwhile: browsing, rating and
    exporting work at once and without any model. Its output goes through the scoring worker's signals
    (``scanned``, ``photos_found``, ``progress``) so the window listens to one place; then :attr:`listed` hands
    the paths to the scoring thread. No torch is imported here.
    """

    listed = Signal(int, object)  # generation, [Path]: what the scoring thread should score

    def __init__(self, out: ScoringWorker, catalog_path: Path | None = None) -> None:
        super().__init__()
        self.out = out
        self.catalog_path = catalog_path
        self._key_for: tuple[Settings | None, str | None] | None = None  # (settings, the catalog key they make)

    @Slot(int, object, object)
    def list_folders(self, generation: int, roots: Sequence[str], settings: Settings | None) -> None:
        out = self.out
        if out.is_cancelled(generation):
            out.finished.emit(generation, ScoreSummary(cancelled=True))
            return
        try:
            self._list(generation, roots, settings)
        except (*USER_ERRORS, sqlite3.Error, OSError) as exc:
            out.failed.emit(generation, str(exc))
        except Exception as exc:  # a bug: keep the thread alive, tell the user, log the traceback
            log.exception("listing failed")
            out.failed.emit(generation, f"unexpected error: {type(exc).__name__}: {exc}")

    def _list(self, generation: int, roots: Sequence[str], settings: Settings | None) -> None:
        out = self.out
        lower_thread_priority()
        out.progress.emit(Progress(generation, "scanning"))
        problems: list[tuple[str, str]] = []
        paths = Engine.scan(roots, on_error=lambda p, m: problems.append((str(p), m)))
        out.scanned.emit(generation, len(paths), problems)
        if self._key_for is None or self._key_for[0] is not settings:  # resolved once per configure, as scoring is
            self._key_for = (settings, _model_key(settings))
        key = self._key_for[1]
        xmp = ImportReport()
        with Catalog(self.catalog_path) as catalog:
            for start in range(0, len(paths), CHUNK):
                if out.is_cancelled(generation):
                    out.finished.emit(generation, ScoreSummary(total=len(paths), cancelled=True))
                    return
                chunk = paths[start : start + CHUNK]
                catalog.add_photos(chunk)
                pairs = find_companions(chunk)  # the RAW files of RAW + JPEG pairs, shown with their JPEG
                _read_xmp(catalog, chunk, pairs, xmp)  # before the rows are read: the grid shows what the XMP says
                records = {path_key(r.path): (r, s) for r, s in catalog.rows(chunk, key)}
                items = []
                for p in chunk:
                    record, score = records.get(path_key(p), (None, None))
                    items.append(PhotoItem.from_record(p, record, score, pairs.get(Path(p), ())))
                out.photos_found.emit(generation, items)
                out.progress.emit(Progress(generation, "loading", done=0, total=len(paths)))
        if xmp.describe():
            out.xmp_read.emit(generation, xmp)
        self.listed.emit(generation, paths)


def _read_xmp(catalog: Catalog, chunk: Sequence[Path], pairs: dict[Path, list[Path]], total: ImportReport) -> None:
    """Ratings, flags and labels from the chunk's XMP sidecars and embedded XMP into the catalog
    (:func:`~loda_desktop.sidecar_sync.import_xmp`: newest wins, undoable); a failure is logged, the listing
    goes on."""
    try:
        total.add(import_xmp(catalog, chunk, pairs=pairs))
    except (sqlite3.Error, OSError, ValueError) as exc:
        log.warning("XMP not read: %s", exc)
    except Exception:  # a bug: the photos are still listed; the traceback goes to the log
        log.exception("XMP not read")


def _model_key(settings: Settings | None) -> str | None:
    """The catalog key of the scores ``settings`` make, to show cached scores while the model loads (a profile's
    header and the digest of its weights, hashed once per file state; None when the model cannot be resolved:
    the photos are listed without scores)."""
    if settings is None:
        return None
    try:
        return Engine(settings).model_key
    except Exception as exc:  # any model problem: the scoring thread reports it, the listing goes on
        log.debug("no cached scores while listing: %s", exc)
        return None


class ScoringController(QObject):
    """The UI thread's handle on the listing and scoring threads: starts them, sends requests, stops them."""

    _configure = Signal(object)
    _list = Signal(int, object, object)

    def __init__(self, parent: QObject | None = None, *, catalog_path: Path | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("loda-scoring")
        self.worker = ScoringWorker(catalog_path)
        self.worker.moveToThread(self.thread)
        self.list_thread = QThread()
        self.list_thread.setObjectName("loda-listing")
        self.lister = ListingWorker(self.worker, catalog_path)
        self.lister.moveToThread(self.list_thread)
        self._configure.connect(self.worker.configure)
        self._list.connect(self.lister.list_folders)
        self.lister.listed.connect(self.worker.score_listed)
        self.generation = 0
        self.settings: Settings | None = None
        self.busy = False  # a job was sent and has not finished or failed yet
        self.worker.finished.connect(self._job_ended)
        self.worker.failed.connect(self._job_ended)
        for thread in (self.thread, self.list_thread):
            track_thread(thread)
            thread.start()

    def configure(self, settings: Settings) -> None:
        self.settings = settings
        self._configure.emit(settings)

    def open(self, roots: Sequence[str | os.PathLike[str]], *, retry_failed: bool = False) -> int:
        """Start listing and scoring ``roots`` (cancels the current job); returns the new generation.
        ``retry_failed``: photos that failed before are tried again (else only those whose cause is gone)."""
        self.worker.cancel(self.generation)
        self.worker.resume()
        self.generation += 1
        if retry_failed:
            self.worker.retry_generation = self.generation
        self.busy = True
        self._list.emit(self.generation, [os.fspath(r) for r in roots], self.settings)
        return self.generation

    def pause(self) -> None:
        self.worker.pause()

    def resume(self) -> None:
        self.worker.resume()

    def cancel(self) -> None:
        self.worker.cancel(self.generation)

    @property
    def paused(self) -> bool:
        return self.worker.paused

    def _job_ended(self, generation: int, *_: object) -> None:
        if generation == self.generation:
            self.busy = False

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel, stop the threads and wait for them; returns whether they stopped in time."""
        self.worker.cancel(self.generation + 1_000_000)
        self.worker.resume()
        stopped = True
        for thread in (self.list_thread, self.thread):
            thread.quit()
            stopped = thread.wait(timeout_ms) and stopped
        if not stopped:
            log.error("the scoring threads did not stop within %.0f s", timeout_ms / 1000)
        return stopped
