"""Thumbnails and previews (:class:`ThumbnailLoader`) and capture times (:class:`MetadataLoader`), made on thread
pools of their own: a job makes a QImage (never a QPixmap off the UI thread) or reads EXIF, and posts the result
back to the UI thread by a queued signal. Thumbnails are kept in an in-memory LRU and, when decoded, on disk;
capture times are written to the catalog by the one metadata thread.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from loda_desktop.catalog import Catalog, CatalogError
from loda_desktop.exif import ExifInfo, read_exif
from loda_desktop.thumbnails import DEFAULT_SIZE, ThumbnailCache, ThumbnailError, load_thumbnail, make_thumbnail

from .models import PhotoItem
from .threads import lower_thread_priority, track_pool

log = logging.getLogger(__name__)

__all__ = ["MetadataLoader", "ThumbnailLoader", "pil_to_qimage"]


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
        track_pool(self.pool)
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
        track_pool(self.pool)
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
