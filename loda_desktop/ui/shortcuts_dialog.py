"""Help ▸ Keyboard Shortcuts: the keyboard reference, generated from the action table (:mod:`.actions`)."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from .actions import ShortcutRow, shortcut_rows

__all__ = ["ShortcutsDialog"]


class ShortcutsDialog(QDialog):
    """Not modal: it can stay open beside the window while the keys are learnt."""

    def __init__(self, actions: Mapping[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts")
        self.rows: list[ShortcutRow] = shortcut_rows(actions)
        note = QLabel("Keys marked “photos” work while the grid, the table or the loupe has the focus.")
        note.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("shortcuts")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Action", "Keys", "Where"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        sections: dict[str, QTreeWidgetItem] = {}
        for row in self.rows:
            if row.section not in sections:
                sections[row.section] = QTreeWidgetItem(self.tree, [row.section])
                font = sections[row.section].font(0)
                font.setBold(True)
                sections[row.section].setFont(0, font)
                sections[row.section].setFirstColumnSpanned(True)
            QTreeWidgetItem(sections[row.section], [row.label, row.keys, row.where])
        self.tree.expandAll()
        self.tree.setColumnWidth(0, 260)
        self.tree.setColumnWidth(1, 200)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.resize(620, 640)
