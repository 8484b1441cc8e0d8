"""The background threads and pools of the window: one registry of them (so tests and shutdown can check that
every one stopped) and the lower CPU priority they all run at, so the UI thread answers first."""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref

from PySide6.QtCore import QObject, QThread, QThreadPool

log = logging.getLogger(__name__)

__all__ = ["BACKGROUND_NICE", "live_threads", "lower_thread_priority", "track_pool", "track_thread"]

BACKGROUND_NICE = 10  # Linux nice value of every worker thread: the UI thread gets the CPU first

_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()
_POOLS: weakref.WeakSet[QThreadPool] = weakref.WeakSet()


def live_threads() -> list[str]:
    """Names of the tracked worker threads and pools still running (for tests and shutdown checks)."""
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


def track_thread(thread: QThread) -> None:
    """Count ``thread`` among the window's threads (:func:`live_threads`)."""
    _THREADS.add(thread)


def track_pool(pool: QThreadPool) -> None:
    """Count ``pool`` among the window's thread pools (:func:`live_threads`)."""
    _POOLS.add(pool)
