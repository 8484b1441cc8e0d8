"""Background work for the window. The UI thread never decodes an image, reads EXIF or runs the network.

- :class:`ListingWorker` lives in its own QThread and lists a folder (scan → catalog → photos with their cached
  scores) without waiting for the model: browsing and culling never depend on it.
- :class:`ScoringWorker` lives in ONE QThread (owned by :class:`ScoringController`) and owns the
  :class:`~loda_desktop.engine.Engine`, built in that thread, and so the scorer; it scores what the listing found.
  Both emit plain data only (through the scoring worker's signals): :class:`PhotoItem` records in chunks,
  result tuples ``(path, score, spread, status, error)`` coalesced every :data:`FLUSH_SECONDS` (2,000 photos do
  not mean 2,000 queued events), :class:`Progress`, the engine's :class:`ScoreSummary`, or an error message.
  Pause blocks the engine's ``should_continue`` callback on a ``threading.Event``; cancel makes it return False.
- :class:`ThumbnailLoader` runs thumbnail and preview jobs (:mod:`loda_desktop.thumbnails`) on its own
  QThreadPool, newest request first; a job makes a QImage (never a QPixmap off the UI thread) and posts it
  back by a queued signal. Thumbnails are kept in an in-memory LRU and, when decoded, on disk.
- Capture times (:mod:`loda_desktop.exif`) are read by jobs on a one-thread pool that writes them to the
  catalog and posts them back.

Every request carries a generation number; results of an older generation (a folder no longer open) are
dropped by the receiver.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from loda_desktop.catalog import Catalog, CatalogError, path_key
from loda_desktop.engine import Engine, EngineError, PhotoResult, ScoreSummary
from loda_desktop.exif import ExifInfo, read_exif
from loda_desktop.settings import Settings
from loda_desktop.thumbnails import DEFAULT_SIZE, ThumbnailCache, ThumbnailError, load_thumbnail, make_thumbnail

from .models import PhotoItem

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
BACKGROUND_NICE = 10  # Linux nice value of every worker thread: the UI thread gets the CPU first

_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()
_POOLS: weakref.WeakSet[QThreadPool] = weakref.WeakSet()


def live_threads() -> list[str]:
    """Names of the worker threads and pools of this module still running (for tests and shutdown checks)."""
    names = [t.objectName() or "QThread" for t in list(_THREADS) if _alive(t) and t.isRunning()]
    names += [p.objectName() or "QThreadPool" for p in list(_POOLS) if _alive(p) and p.activeThreadCount() > 0]
    return names


def _alive(obj: QObject) -> bool:
    try:
        obj.objectName()
    except RuntimeError:  # the C++ object is gone
        return False
    return True


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> None:
    """Let the calling thread yield the CPU to the UI thread (Linux; threads it starts later inherit it).

    Background work only gives way where the CPU is contended: on an idle machine it runs at full speed. The
    torch threads, the decode threads and the thumbnail and EXIF jobs would otherwise take the cores from
    the UI thread, which then answers late. Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:  # not permitted here: run at the normal priority
        log.debug("cannot lower the priority of a worker thread: %s", exc)


def _model_errors() -> tuple[type[BaseException], ...]:
    """Errors a user can act on (bad model, missing weights, catalog problems): shown as a message."""
    from loda_desktop.errors import USER_ERRORS

    return USER_ERRORS


@dataclass(frozen=True)
class EngineInfo:
    """What the window shows about the engine the worker built."""

    model_name: str
    model_key: str
    notice: str | None  # the untrained-model warning, or None
    settings: Settings


@dataclass(frozen=True)
class Progress:
    generation: int
    phase: str  # "scanning" | "loading" | "loading model" | "scoring" | "paused" | "done" | "cancelled"
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

    def __init__(self, catalog_path: Path | None = None) -> None:
        super().__init__()
        self.catalog_path = catalog_path
        self._engine: Engine | None = None
        self._engine_error: str | None = None
        self._cancelled_upto = 0
        self._lock = threading.Lock()
        self._running = threading.Event()  # set = not paused
        self._running.set()

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
            engine = Engine(settings, catalog_path=self.catalog_path)
        except Exception as exc:  # a model that cannot be used is a message in the window, never a dead thread
            message = str(exc) if isinstance(exc, _model_errors()) else f"cannot use this model: {exc}"
            if not isinstance(exc, _model_errors()):
                log.exception("engine setup failed")
            self._engine_error = message
            self.engine_failed.emit(message)
            return
        self._engine, self._engine_error = engine, None
        self.engine_ready.emit(EngineInfo(engine.profile.name, engine.model_key, engine.notice, engine.settings))
        # Load the network now, before a folder arrives: importing torch holds the GIL for long stretches
        # (hundreds of ms at a time), which would freeze the window in the middle of a scan. A model that
        # cannot load (missing backbone weights, no CUDA) is reported now, not after the first drop.
        try:
            scorer = engine.scorer
        except Exception as exc:
            message = str(exc) if isinstance(exc, _model_errors()) else f"cannot load the model: {exc}"
            if not isinstance(exc, _model_errors()):
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
        except _model_errors() as exc:
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
        with Catalog(engine.catalog_path) as catalog:
            todo = len(catalog.needs_scoring(paths, engine.model_key))
        if todo:
            self.progress.emit(job.progress("loading model"))
            engine.scorer  # noqa: B018 (loaded by configure() already; the rate must not include a load)
        job.started = time.monotonic()
        summary = engine.score_paths(
            paths,
            on_result=lambda r: self._on_result(job, r),
            should_continue=lambda: self._should_continue(job),
        )
        summary.cancelled = summary.cancelled or self.is_cancelled(generation)
        self._flush(job, "cancelled" if summary.cancelled else "done")
        self.finished.emit(generation, summary)

    def _on_result(self, job: _Job, result: PhotoResult) -> None:
        job.done += 1
        if result.status != "ok":
            job.failed += 1
        elif result.cached:
            job.cached += 1
        else:
            job.scored += 1
        job.buffer.append((path_key(result.path), result.score, result.spread, result.status, result.error))
        if time.monotonic() - job.last_flush >= FLUSH_SECONDS:
            self._flush(job, "scoring")

    def _flush(self, job: _Job, phase: str) -> None:
        if job.buffer:
            batch, job.buffer = job.buffer, []
            self.results.emit(job.generation, batch)
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

    @Slot(int, object, object)
    def list_folders(self, generation: int, roots: Sequence[str], settings: Settings | None) -> None:
        out = self.out
        if out.is_cancelled(generation):
            out.finished.emit(generation, ScoreSummary(cancelled=True))
            return
        try:
            self._list(generation, roots, settings)
        except (EngineError, CatalogError, sqlite3.Error, OSError) as exc:
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
        key = _model_key(settings)
        with Catalog(self.catalog_path) as catalog:
            for start in range(0, len(paths), CHUNK):
                if out.is_cancelled(generation):
                    out.finished.emit(generation, ScoreSummary(total=len(paths), cancelled=True))
                    return
                chunk = paths[start : start + CHUNK]
                catalog.add_photos(chunk)
                records = {path_key(r.path): (r, s) for r, s in catalog.rows(chunk, key)}
                items = []
                for p in chunk:
                    record, score = records.get(path_key(p), (None, None))
                    items.append(PhotoItem.from_record(p, record, score))
                out.photos_found.emit(generation, items)
                out.progress.emit(Progress(generation, "loading", done=0, total=len(paths)))
        self.listed.emit(generation, paths)


def _model_key(settings: Settings | None) -> str | None:
    """The catalog key of the scores ``settings`` make, to show cached scores while the model loads (reading a
    profile's header only; None when the model cannot be resolved: the photos are listed without scores)."""
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
            _THREADS.add(thread)
            thread.start()

    def configure(self, settings: Settings) -> None:
        self.settings = settings
        self._configure.emit(settings)

    def open(self, roots: Sequence[str | os.PathLike[str]]) -> int:
        """Start listing and scoring ``roots`` (cancels the current job); returns the new generation."""
        self.worker.cancel(self.generation)
        self.worker.resume()
        self.generation += 1
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


# -- thumbnails, previews, EXIF ------------------------------------------------------------------------------


def pil_to_qimage(image) -> QImage:
    """A QImage that owns a copy of an RGB Pillow image's pixels (safe to use in any thread), in the format
    the raster painter draws fastest (32-bit RGB)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    w, h = rgb.size
    return QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888).convertToFormat(QImage.Format.Format_RGB32)


class _Relay(QObject):
    """Lives in the UI thread; jobs emit on it from pool threads, so delivery is queued to the UI thread."""

    thumbnail = Signal(object, object, object)  # key, QImage | None, error | None
    preview = Signal(int, str, object, object, object)  # token, path, QImage | None, error | None, ExifInfo
    capture_times = Signal(int, object)  # generation, {path: iso}


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__()
        self._fn = fn
        self.setAutoDelete(True)

    def run(self) -> None:
        lower_thread_priority()
        try:
            self._fn()
        except RuntimeError as exc:  # the receiver was deleted while the job ran (window closing)
            log.debug("background job dropped: %s", exc)
        except Exception:
            log.exception("background job failed")


class ThumbnailLoader(QObject):
    """Thumbnails for the grid and previews for the loupe, made on a thread pool; an LRU of QImages."""

    ready = Signal(str)  # path: its thumbnail (or its error) is now available
    preview_ready = Signal(str, object, object, object)  # path, QImage | None, error | None, ExifInfo

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        size: int = DEFAULT_SIZE,
        max_images: int = 600,
        threads: int | None = None,
        disk_cache: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.size = size
        self.max_images = max_images
        self.disk_cache = disk_cache
        self.pool = QThreadPool(self)
        self.pool.setObjectName("loda-thumbnails")
        self.pool.setMaxThreadCount(threads or max(2, min(4, (os.cpu_count() or 2) - 1)))
        self.pool.setExpiryTimeout(-1)  # keep idle threads: starting one in the middle of a scroll costs time
        _POOLS.add(self.pool)
        self._images: OrderedDict[tuple[str, int, int], QImage] = OrderedDict()
        self._errors: dict[tuple[str, int, int], str] = {}
        self._pending: set[tuple[str, int, int]] = set()
        self._priority = 0
        self._preview_token = 0
        self._relay = _Relay(self)
        self._relay.thumbnail.connect(self._on_thumbnail)
        self._relay.preview.connect(self._on_preview)
        if disk_cache is not None:  # keep the disk cache within its size, in the background, lowest priority
            self.pool.start(_Runnable(disk_cache.prune), -(2**31))

    # -- thumbnails -------------------------------------------------------------------------------------------
    def get(self, item: PhotoItem) -> QImage | None:
        """The cached thumbnail of ``item``, or None (its load is queued, newest requests first)."""
        key = item.thumbnail_key
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
            return image
        if key not in self._errors and key not in self._pending:
            self._submit(key)
        return None

    def error(self, item: PhotoItem) -> str | None:
        return self._errors.get(item.thumbnail_key)

    def _submit(self, key: tuple[str, int, int]) -> None:
        self._pending.add(key)
        self._priority += 1
        relay, size, cache = self._relay, self.size, self.disk_cache

        def job() -> None:
            try:
                image, error = pil_to_qimage(load_thumbnail(key[0], size, cache).image), None
            except ThumbnailError as exc:
                image, error = None, str(exc)
            relay.thumbnail.emit(key, image, error)

        # newer requests (what the user looks at now) go first; priorities stay in int range
        self.pool.start(_Runnable(job), min(self._priority, 2**30))

    @Slot(object, object, object)
    def _on_thumbnail(self, key: tuple[str, int, int], image: QImage | None, error: str | None) -> None:
        self._pending.discard(key)
        if image is None:
            self._errors[key] = error or "no thumbnail"
        else:
            self._images[key] = image
            while len(self._images) > self.max_images:
                self._images.popitem(last=False)
        self.ready.emit(key[0])

    def forget(self) -> None:
        """Drop queued jobs and the errors (a new folder); keep the cached images."""
        self.pool.clear()
        self._pending.clear()
        self._errors.clear()

    # -- previews (loupe) ---------------------------------------------------------------------------------------
    def request_preview(self, path: str, max_side: int) -> None:
        """Decode ``path`` to fit ``max_side`` and read its EXIF; only the latest request is delivered."""
        self._preview_token += 1
        token, relay = self._preview_token, self._relay

        def job() -> None:
            if token != self._preview_token:  # superseded before it started
                return
            info = read_exif(path)
            try:
                thumb = make_thumbnail(path, max_side, use_embedded=False)
                image, error = pil_to_qimage(thumb.image), None
            except ThumbnailError as exc:
                image, error = None, str(exc)
            relay.preview.emit(token, path, image, error, info)

        self.pool.start(_Runnable(job), 2**31 - 1)

    @Slot(int, str, object, object, object)
    def _on_preview(self, token: int, path: str, image: QImage | None, error: str | None, info: ExifInfo) -> None:
        if token == self._preview_token:
            self.preview_ready.emit(path, image, error, info)

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone()


class MetadataLoader(QObject):
    """Reads capture times (EXIF) on a one-thread pool, stores them in the catalog and posts them back."""

    capture_times = Signal(int, object)  # generation, {path: iso capture time}

    def __init__(self, parent: QObject | None = None, *, catalog_path: Path | None = None) -> None:
        super().__init__(parent)
        self.catalog_path = catalog_path
        self.pool = QThreadPool(self)
        self.pool.setObjectName("loda-metadata")
        self.pool.setMaxThreadCount(1)  # one reader, one catalog writer
        _POOLS.add(self.pool)
        self._relay = _Relay(self)
        self._relay.capture_times.connect(self.capture_times)
        self._generation = 0

    def request(self, generation: int, paths: Sequence[str]) -> None:
        if generation != self._generation:
            self._generation = generation
            self.pool.clear()
        if not paths:
            return
        relay, catalog_path, paths = self._relay, self.catalog_path, list(paths)

        def job() -> None:
            if generation != self._generation:
                return
            found = {}
            for path in paths:
                iso = read_exif(path).capture_time
                if iso:
                    found[path] = iso
            if found:
                try:
                    with Catalog(catalog_path) as catalog:
                        for path, iso in found.items():
                            catalog.set_capture_time(path, iso)
                except (CatalogError, sqlite3.Error, OSError, ValueError) as exc:
                    log.warning("capture times not stored: %s", exc)
            relay.capture_times.emit(generation, found)

        self.pool.start(_Runnable(job))

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone()
