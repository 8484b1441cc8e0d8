"""File ▸ Open Recent: the last folders opened (up to :data:`MAX_RECENT`), kept in the window's preferences
(``window.ini``), and the choice to reopen the last one when the app starts without a folder to open."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["MAX_RECENT", "RecentFolders"]

MAX_RECENT = 10
_KEY = "files/recent"
_REOPEN_KEY = "files/reopen_last"
_SEP = "\n"  # one entry is every root of one opening (several folders dropped at once)


class RecentFolders(QObject):
    """Remembers each opening that listed photos; its menu sits under File ▸ Open Folder…."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.prefs = window.prefs
        self.menu = QMenu("Open &Recent", window)
        self.menu.setObjectName("recentMenu")
        self.menu.aboutToShow.connect(self.rebuild)
        self.reopen_action = QAction("Reopen the Last Folder at Launch", self)
        self.reopen_action.setCheckable(True)
        self.reopen_action.setChecked(self.prefs.value(_REOPEN_KEY, False, type=bool))
        self.reopen_action.toggled.connect(lambda on: self.prefs.setValue(_REOPEN_KEY, on))
        file_menu = window.menus["&File"]
        actions = file_menu.actions()
        opening = window.action_map["open"]
        after = actions[actions.index(opening) + 1] if opening in actions[:-1] else None
        file_menu.insertMenu(after, self.menu) if after is not None else file_menu.addMenu(self.menu)
        window.scoring.worker.scanned.connect(self._on_scanned)
        self.rebuild()

    def entries(self) -> list[list[str]]:
        """The recent openings, newest first; each is the list of its roots."""
        value = self.prefs.value(_KEY, [])
        values = [value] if isinstance(value, str) else list(value or [])
        return [str(v).split(_SEP) for v in values if v]

    def add(self, roots: list[str]) -> None:
        if not roots:
            return
        entry = _SEP.join(roots)
        kept = [e for e in (_SEP.join(r) for r in self.entries()) if e != entry]
        self.prefs.setValue(_KEY, [entry, *kept][:MAX_RECENT])
        self.prefs.sync()

    def clear(self) -> None:
        self.prefs.setValue(_KEY, [])
        self.rebuild()

    def _on_scanned(self, generation: int, count: int, _problems: object) -> None:
        if generation == self.window.generation and count:
            self.add(list(self.window.roots))

    def rebuild(self) -> None:
        """The menu: one item per opening (numbered, a folder that is gone greyed out), then Clear and the
        reopen-at-launch choice."""
        self.menu.clear()
        entries = self.entries()
        for n, roots in enumerate(entries, 1):
            names = ", ".join(os.path.basename(r.rstrip(os.sep)) or r for r in roots)
            prefix = f"&{n % 10} " if n <= 10 else ""
            action = self.menu.addAction(f"{prefix}{names}")
            action.setToolTip("\n".join(roots))
            action.setStatusTip("; ".join(roots))
            action.setEnabled(all(os.path.exists(r) for r in roots))
            action.triggered.connect(lambda _checked=False, r=roots: self.window.open_folders(r))
        if not entries:
            self.menu.addAction("No Recent Folders").setEnabled(False)
        self.menu.addSeparator()
        self.menu.addAction("&Clear Menu", self.clear).setEnabled(bool(entries))
        self.menu.addAction(self.reopen_action)

    def reopen_at_launch(self) -> bool:
        """Open the last folder if that was chosen and it is still there (the app starts without a folder)."""
        entries = self.entries()
        if not self.reopen_action.isChecked() or not entries or not all(os.path.isdir(r) for r in entries[0]):
            return False
        self.window.open_folders(entries[0])
        return True
