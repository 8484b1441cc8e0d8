"""Large decodes for the loupe and the compare view: a photo at the size a pane shows it, or at full
resolution to check focus at 100 %.

Jobs run on the thumbnail loader's pool (so the window's shutdown waits for them like for any thumbnail) at the
highest priority, and post a QImage back to the UI thread. Only what is still wanted is decoded and delivered:
stepping on to the next photo drops the requests of the previous one (:meth:`Decoder.want`).

The decode is bounded: the photo's pixel count is checked on its header against the app's one limit
(:func:`model.preprocess.pixel_limit`, 200 MP) before any pixel is decoded, and a photo over
:data:`FULL_MAX_PIXELS` is decoded at that many pixels at most (its "100 %" is then that decode), so one frame
never takes more than about 200 MB of memory.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable

from PySide6.QtCore import QObject, QRunnable, QSize, Signal, Slot
from PySide6.QtGui import QImage

from loda_desktop.thumbnails import ThumbnailError, make_thumbnail

from .loaders import ThumbnailLoader, pil_to_qimage
from .threads import lower_thread_priority

__all__ = ["FULL", "FULL_MAX_PIXELS", "Decoder", "full_side"]

FULL = 0  # the size asked for: the photo at full resolution
FULL_MAX_PIXELS = 50_000_000
UNKNOWN_SIDE = 8192  # the long side decoded for "full" when the photo's size is not known yet


def full_side(size: QSize | None) -> int:
    """The long side of a "full resolution" decode of a photo of ``size``: all of it up to
    :data:`FULL_MAX_PIXELS`, else scaled down to that many pixels."""
    if size is None or size.isEmpty():
        return UNKNOWN_SIDE
    pixels = size.width() * size.height()
    long_side = max(size.width(), size.height())
    if pixels <= FULL_MAX_PIXELS:
        return long_side
    return max(1, math.floor(long_side * math.sqrt(FULL_MAX_PIXELS / pixels)))


class _Job(QRunnable):
    def __init__(self, decoder: Decoder, key: tuple[str, int], side: int) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._relay, self._key, self._side = decoder._relay, key, side
        self._wanted = decoder._wanted  # read from this thread: a set swapped, never mutated, by the UI thread

    def run(self) -> None:
        lower_thread_priority()
        if self._key not in self._wanted[0]:  # superseded before it started
            return
        try:
            thumb = make_thumbnail(self._key[0], self._side, use_embedded=False)
            image, error = pil_to_qimage(thumb.image), None
            size = QSize(*thumb.full_size) if thumb.full_size else QSize()
        except ThumbnailError as exc:
            image, error, size = None, str(exc), QSize()
        except MemoryError:
            image, error, size = None, "not enough memory to decode the image at full size", QSize()
        with contextlib.suppress(RuntimeError):  # the window closed while it decoded
            self._relay.done.emit(self._key, image, error, size)


class _Relay(QObject):
    done = Signal(object, object, object, object)  # (path, size asked), QImage | None, error | None, QSize


class Decoder(QObject):
    """``ready(path, size_asked, image, error, full_size)``: ``size_asked`` is :data:`FULL` or a long side."""

    ready = Signal(str, int, object, object, object)

    def __init__(self, thumbnails: ThumbnailLoader) -> None:
        super().__init__(thumbnails)
        self.pool = thumbnails.pool
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._wanted: list[frozenset[tuple[str, int]]] = [frozenset()]
        self._queued: set[tuple[str, int]] = set()

    def want(self, paths: Iterable[str]) -> None:
        """Only the photos in ``paths`` are still of interest: requests for any other are dropped."""
        keep = set(paths)
        self._wanted[0] = frozenset(k for k in self._wanted[0] if k[0] in keep)
        self._queued &= self._wanted[0]

    def request(self, path: str, side: int, full_size: QSize | None = None) -> None:
        """Decode ``path`` to fit ``side`` pixels, or at full resolution (``side`` = :data:`FULL`, with the
        photo's size when known)."""
        key = (path, side)
        if key in self._queued:
            return
        self._wanted[0] = self._wanted[0] | {key}
        self._queued.add(key)
        decode_side = full_side(full_size) if side == FULL else side
        self.pool.start(_Job(self, key, decode_side), 2**31 - 1)

    @property
    def pending(self) -> int:
        return len(self._queued)

    @Slot(object, object, object, object)
    def _on_done(self, key: tuple[str, int], image: QImage | None, error: str | None, size: QSize) -> None:
        self._queued.discard(key)
        if key in self._wanted[0]:
            self._wanted[0] = self._wanted[0] - {key}
            self.ready.emit(key[0], key[1], image, error, size)
