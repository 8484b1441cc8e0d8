"""Interpreter settings and work-arounds the window needs, applied when ``loda_desktop.ui`` is imported.

GIL hand-over: every paint of a grid cell, every slot, every ``data()`` call is an entry from Qt's C++ into
Python, and each must take the GIL back from the worker threads (the scorer's Python code, decoding, EXIF).
By default a busy thread keeps the GIL up to 5 ms before handing it over, so a repaint of 30 cells could wait
150 ms. :func:`prefer_ui_thread` lowers that switch interval to 1 ms.

PySide6 6.12.0 on CPython < 3.12 releases one reference to ``None`` that it never took on every call of a Qt
method that returns nothing; ``None`` is not immortal before Python 3.12, so a window that paints thousands of
cells aborts the interpreter ("Fatal Python error: none_dealloc"). The project's requirements exclude that
release; :func:`none_refcount_leak` measures the defect so a test fails loudly if such a binding comes back.
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL = 0.001  # seconds


def none_refcount_leak() -> int:
    """How many references to None 64 calls of a void Qt method lose (0 for a healthy binding)."""
    from PySide6.QtCore import QSize

    size = QSize(1, 1)
    before = sys.getrefcount(None)
    for _ in range(64):
        size.setWidth(2)
    return max(0, before - sys.getrefcount(None))


def prefer_ui_thread(interval: float = SWITCH_INTERVAL) -> None:
    """Hand the GIL over at least every ``interval`` seconds (never raises an interval set lower already)."""
    if sys.getswitchinterval() > interval:
        sys.setswitchinterval(interval)
