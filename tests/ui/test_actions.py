"""The action table: every command declared once, its keys unique, its handler real, its menu built from the table,
and Help ▸ Keyboard Shortcuts listing every key the table declares."""

from __future__ import annotations

import operator

import pytest
from PySide6.QtGui import QKeySequence

from loda_desktop.ui.actions import ACTIONS, OTHER_KEYS
from loda_desktop.ui.main_window import MainWindow
from loda_desktop.ui.shortcuts_dialog import ShortcutsDialog

from .conftest import fast_settings


@pytest.fixture
def window(qtbot):
    window = MainWindow(fast_settings())
    qtbot.addWidget(window)
    return window


def _keys(action) -> list[str]:
    return [k.toString(QKeySequence.SequenceFormat.PortableText) for k in action.shortcuts() if not k.isEmpty()]


def test_ids_are_unique_and_every_action_is_a_window_attribute(window):
    ids = [spec.id for spec in ACTIONS]
    assert len(ids) == len(set(ids))
    for spec in ACTIONS:
        assert getattr(window, f"{spec.id}_action") is window.action_map[spec.id]
    assert window.rating_actions == [window.action_map[f"rate_{n}"] for n in range(6)]


def test_every_shortcut_is_unique(window):
    seen: dict[str, str] = {}
    for spec in ACTIONS:
        for key in _keys(window.action_map[spec.id]):
            assert key not in seen, f"{key} is both {seen[key]!r} and {spec.id!r}"
            seen[key] = spec.id
    assert {"P", "X", "Ctrl+Z", "F5", "Ctrl+Shift+E", "Return"} <= set(seen)


def test_every_handler_is_a_method_of_the_window_or_its_parts(window):
    for spec in ACTIONS:
        if spec.handler is not None:
            assert callable(operator.attrgetter(spec.handler)(window)), spec.handler


def test_the_menus_are_built_from_the_table(window):
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["&File", "&Edit", "&Photo", "&View", "&Scoring", "&Help"]
    for spec in ACTIONS:
        for title in (spec.menu, *spec.also_in):
            assert window.action_map[spec.id] in menus[title].actions(), (spec.id, title)
    assert window.shortcuts_action in menus["&Help"].actions()


def test_the_keyboard_reference_lists_every_action_with_a_key(qtbot, window):
    window.shortcuts_action.trigger()
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    shown = {
        (dialog.tree.topLevelItem(i).child(j).text(0), dialog.tree.topLevelItem(i).child(j).text(1))
        for i in range(dialog.tree.topLevelItemCount())
        for j in range(dialog.tree.topLevelItem(i).childCount())
    }
    native = QKeySequence.SequenceFormat.NativeText
    for spec in ACTIONS:
        keys = [k.toString(native) for k in window.action_map[spec.id].shortcuts() if not k.isEmpty()]
        if keys:
            assert (spec.label, ", ".join(keys)) in shown, spec.id
    assert ("Pick", "P") in shown and ("Loupe", "E, Return, Enter, Space") in shown
    for keys, label in OTHER_KEYS:
        assert (label, keys) in shown
    assert window.show_shortcuts() is dialog  # one reference window, raised again
    dialog.close()
