"""The window (PySide6). The only package of ``loda_desktop`` that imports Qt.

Public front: :func:`main` (the ``loda-desktop`` command) and :class:`MainWindow`. Everything else here is
private to the window, which composes it: the action table (``actions``: menus, keys, keyboard reference), the
views (``views``, ``loupe``, ``delegates``), the toolbar, status bar and model banner, the commands that change
photos (``photo_commands``), item models (``models``), background work (``workers``, ``loaders``, ``threads``)
and the dialogs. Importing the package loads QtCore only, to apply :mod:`._compat` (a shorter
GIL switch interval) before any other Qt call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._compat import prefer_ui_thread

prefer_ui_thread()

if TYPE_CHECKING:
    from .app import main
    from .main_window import MainWindow

__all__ = ["MainWindow", "main"]


def __getattr__(name: str) -> Any:
    # The window's modules load on first use.
    if name == "MainWindow":
        from .main_window import MainWindow

        return MainWindow
    if name == "main":
        from .app import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
