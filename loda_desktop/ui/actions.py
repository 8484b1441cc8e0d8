"""Every command of the window, declared once as data: its text, keys, where the keys work, its menu and the
window method it calls. The menus, the shortcuts and Help ▸ Keyboard Shortcuts are all built from
:data:`ACTIONS`, so the keyboard reference cannot drift from the keys that really work.

A ``culling`` action's keys are single keys (P, X, 0–5, …): they work only while the photos (grid, table or
loupe) have focus, not while typing in the search box. A ``window`` action's keys work anywhere in the window.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMenuBar, QStyle, QWidget

from loda_desktop.scan import REJECT_DIR

from .models import stars

__all__ = [
    "ACTIONS",
    "LABEL_KEYS",
    "OTHER_KEYS",
    "ActionSpec",
    "ShortcutRow",
    "build_actions",
    "build_menus",
    "shortcut_rows",
]

Key = str | QKeySequence.StandardKey
LABEL_KEYS = {"6": "red", "7": "yellow", "8": "green", "9": "blue"}
Pixmap = QStyle.StandardPixmap


@dataclass(frozen=True)
class ActionSpec:
    """One command. ``handler`` names a method of the window, or of one of its parts (``"views.toggle_loupe"``);
    it is called with ``args`` and ``kwargs``, or with the new checked state when ``with_checked``."""

    id: str  # the window keeps the action as ``<id>_action``
    text: str
    handler: str | None
    args: tuple[object, ...] = ()
    kwargs: tuple[tuple[str, object], ...] = ()
    keys: tuple[Key, ...] = ()
    context: Literal["window", "culling"] = "window"
    checkable: bool = False
    checked: bool = False
    with_checked: bool = False
    tip: str | None = None
    menu: str = ""
    separator: bool = False  # a separator above it in its menu
    also_in: tuple[str, ...] = ()  # menus that list it again, at their end
    icon: Pixmap | None = None
    group: str | None = None  # an exclusive group (one checked at a time)

    @property
    def label(self) -> str:
        """The text without its mnemonic and ellipsis, as the keyboard reference shows it."""
        return self.text.replace("&", "").rstrip("…")


def _culling(id: str, text: str, handler: str, key: str, **kw) -> ActionSpec:
    return ActionSpec(id, text, handler, keys=(key,), context="culling", **kw)


_Std = QKeySequence.StandardKey

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open", "&Open Folder…", "choose_folder", keys=(_Std.Open,), menu="&File", icon=Pixmap.SP_DirOpenIcon),
    ActionSpec(
        "rescan", "&Rescan", "rescan", keys=("F5",), menu="&File", tip="Scan the open folder again for new photos"
    ),
    ActionSpec(
        "export",
        "&Export CSV…",
        "photo_commands.choose_export",
        keys=("Ctrl+Shift+E",),
        menu="&File",
        tip="Export the current view",
        icon=Pixmap.SP_DialogSaveButton,
    ),
    *(
        ActionSpec(
            f"write_xmp_{layout}",
            f"Write &XMP Sidecars ({name})",
            "photo_commands.write_xmp",
            args=(layout,),
            menu="&File",
            separator=layout == "lightroom",
            tip=f"Write the ratings, flags and labels of the open folder to {name} sidecars, merged into existing ones",
        )
        for layout, name in (("lightroom", "Lightroom: NAME.xmp"), ("darktable", "darktable: NAME.EXT.xmp"))
    ),
    ActionSpec(
        "settings", "&Settings…", "show_settings", keys=("Ctrl+,",), menu="&File", separator=True, also_in=("&Scoring",)
    ),
    ActionSpec("quit", "&Quit", "close", keys=(_Std.Quit,), menu="&File", separator=True),
    ActionSpec("undo", "&Undo", "undo", keys=(_Std.Undo,), menu="&Edit"),
    ActionSpec(
        "move_rejected",
        f"&Move Rejected to {REJECT_DIR}",
        "move_rejected",
        kwargs=(("trash", False),),
        keys=("Ctrl+Backspace",),
        menu="&Edit",
        separator=True,
        tip=f"Move every rejected photo into a {REJECT_DIR} subfolder next to it (undoable)",
    ),
    ActionSpec(
        "trash_rejected",
        "Move Rejected to &Trash…",
        "move_rejected",
        kwargs=(("trash", True),),
        keys=("Ctrl+Shift+Backspace",),
        menu="&Edit",
        tip="Send every rejected photo to the system trash (undoable)",
    ),
    _culling("pick", "&Pick", "set_flag", "P", args=("pick",), menu="&Photo"),
    _culling("reject", "Re&ject", "set_flag", "X", args=("reject",), menu="&Photo"),
    _culling("unflag", "&Unflag", "set_flag", "U", args=(None,), menu="&Photo"),
    ActionSpec("auto_advance", "&Advance After Flag", None, checkable=True, checked=True, menu="&Photo"),
    _culling(
        "best_of_burst",
        "Keep &Best of Burst",
        "bursts.keep_best",
        "B",
        menu="&Photo",
        separator=True,
        tip="Pick the best frame of the current photo's burst and reject the others (one Ctrl+Z undoes it)",
    ),
    *(
        _culling(
            f"rate_{n}",
            f"Rate {stars(n)}" if n else "Clear Rating",
            "rate",
            str(n),
            args=(n,),
            menu="&Photo",
            separator=n == 0,
        )
        for n in range(6)
    ),
    *(
        _culling(
            f"label_{c}", f"Label {c.capitalize()}", "toggle_label", key, args=(c,), menu="&Photo", separator=key == "6"
        )
        for key, c in LABEL_KEYS.items()
    ),
    _culling(
        "grid", "&Grid", "set_view", "G", args=("grid",), checkable=True, checked=True, group="view", menu="&View"
    ),
    _culling("table", "&Table", "set_view", "T", args=("table",), checkable=True, group="view", menu="&View"),
    ActionSpec(
        "loupe",
        "&Loupe",
        "views.toggle_loupe",
        keys=("E", "Return", "Enter", "Space"),
        context="culling",
        checkable=True,
        group="view",
        menu="&View",
    ),
    _culling(
        "compare",
        "&Compare",
        "views.toggle_compare",
        "C",
        checkable=True,
        group="view",
        menu="&View",
        tip="The current photo and the next selected one side by side, zoomed and panned together",
    ),
    _culling(
        "survey",
        "S&urvey",
        "views.toggle_survey",
        "N",
        checkable=True,
        group="view",
        menu="&View",
        tip="The selected photos (2 to 8) side by side",
    ),
    _culling(
        "zoom_100",
        "&Fit / 100 %",
        "views.toggle_zoom",
        "Z",
        menu="&View",
        tip="Toggle the loupe between the whole photo and 100 % (also a click on the photo)",
    ),
    _culling(
        "hide_rejected",
        "&Hide Rejected",
        "proxy.set_hide_rejected",
        "H",
        checkable=True,
        with_checked=True,
        menu="&View",
        separator=True,
    ),
    _culling(
        "stacks",
        "Burst &Stacks",
        "bursts.toggle_stacks",
        "S",
        checkable=True,
        with_checked=True,
        menu="&View",
        tip="Show each burst as its best frame, with the number of frames; off: every frame",
    ),
    _culling(
        "quality_map",
        "&Quality Map",
        "views.set_quality_map",
        "M",
        checkable=True,
        with_checked=True,
        menu="&View",
        tip="Loupe and compare: the detail crops over the photo, coloured by their score (red soft, green sharp)",
    ),
    ActionSpec(
        "zoom_in",
        "Zoom &In",
        "views.zoom",
        args=(1,),
        keys=(_Std.ZoomIn,),
        menu="&View",
        separator=True,
        tip="The loupe or compare view: zoom in; the grid: larger thumbnails",
    ),
    ActionSpec(
        "zoom_out",
        "Zoom &Out",
        "views.zoom",
        args=(-1,),
        keys=(_Std.ZoomOut,),
        menu="&View",
        tip="The loupe or compare view: zoom out; the grid: smaller thumbnails",
    ),
    ActionSpec(
        "resort",
        "&Re-sort",
        "order.resort",
        keys=("Ctrl+R",),
        menu="&View",
        tip="Sort again by the new scores and capture times (the order holds still while you cull)",
    ),
    ActionSpec("pause", "&Pause Scoring", "toggle_pause", keys=("F9",), checkable=True, menu="&Scoring"),
    ActionSpec("cancel", "&Cancel Scoring", "cancel_scoring", keys=("Shift+F9",), menu="&Scoring"),
    ActionSpec(
        "retry_failed",
        "&Retry Failed",
        "retry_failed",
        menu="&Scoring",
        tip="Score again the photos that could not be scored (a photo gone or unreadable is retried anyway once"
        " it is back or readable)",
    ),
    ActionSpec(
        "finetune",
        "&Fine-tune on My Ratings…",
        "show_finetune",
        menu="&Scoring",
        separator=True,
        tip="Train the model on your ratings, picks and rejects",
    ),
    ActionSpec("shortcuts", "&Keyboard Shortcuts", "show_shortcuts", keys=(_Std.HelpContents,), menu="&Help"),
)

# Keys the views handle themselves (no action): listed in the keyboard reference after the actions.
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("Arrow keys", "Previous / next photo (survey: the next frame)"),
    ("Shift+Arrow keys", "Pan the zoomed photo"),
    ("Wheel, click, drag", "Zoom around the cursor, fit / 100 %, pan"),
    ("Tab, Shift+Tab", "Compare and survey: the next / previous frame"),
    ("Escape", "Leave the loupe, compare or survey"),
)


def _slot(window: QWidget, spec: ActionSpec) -> Callable[[bool], None]:
    """What ``triggered(checked)`` calls: the handler, looked up when it runs."""
    if spec.handler is None:
        return lambda _checked=False: None
    find = operator.attrgetter(spec.handler)
    if spec.with_checked:
        return lambda checked=False: find(window)(checked)
    kwargs = dict(spec.kwargs)
    return lambda _checked=False: find(window)(*spec.args, **kwargs)


def build_actions(window: QMainWindow, photos: QWidget) -> dict[str, QAction]:
    """A QAction for each spec, by id: window actions added to ``window``, culling actions to ``photos`` (the
    widget that holds the views) with a widget-with-children shortcut context."""
    style = window.style()
    actions: dict[str, QAction] = {}
    groups: dict[str, QActionGroup] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, window)
        if spec.keys:
            action.setShortcuts([QKeySequence(key) for key in spec.keys])
        action.setCheckable(spec.checkable)
        if spec.tip:
            action.setStatusTip(spec.tip)
            action.setToolTip(spec.tip)
        if spec.icon is not None:
            action.setIcon(style.standardIcon(spec.icon))
        action.triggered.connect(_slot(window, spec))
        if spec.context == "culling":
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            photos.addAction(action)
        else:
            window.addAction(action)
        if spec.group is not None:
            if spec.group not in groups:  # one group each (setdefault would build a spare one per action)
                groups[spec.group] = QActionGroup(window)
            groups[spec.group].addAction(action)
        action.setChecked(spec.checked)
        actions[spec.id] = action
    return actions


def build_menus(bar: QMenuBar, actions: Mapping[str, QAction]) -> dict[str, QMenu]:
    """The menu bar: each menu lists its actions in the order of :data:`ACTIONS`, then those it lists again."""
    menus: dict[str, QMenu] = {}
    for spec in ACTIONS:
        if spec.menu not in menus:
            menus[spec.menu] = bar.addMenu(spec.menu)
        menu = menus[spec.menu]
        if spec.separator and menu.actions():
            menu.addSeparator()
        menu.addAction(actions[spec.id])
    for spec in ACTIONS:
        for title in spec.also_in:
            menus[title].addAction(actions[spec.id])
    return menus


@dataclass(frozen=True)
class ShortcutRow:
    """A line of the keyboard reference."""

    section: str  # the menu, without its mnemonic
    label: str
    keys: str  # as the platform writes them, "Ctrl+O, F5"
    where: str  # "photos" (the grid, table or loupe has focus) or "window"


def shortcut_rows(actions: Mapping[str, QAction]) -> list[ShortcutRow]:
    """The keyboard reference: every action that has a key, in menu order, then the keys the views handle."""
    rows = []
    for spec in ACTIONS:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in actions[spec.id].shortcuts()]
        keys = [k for k in keys if k]
        if keys:
            where = "photos" if spec.context == "culling" else "window"
            rows.append(ShortcutRow(spec.menu.replace("&", ""), spec.label, ", ".join(keys), where))
    rows += [ShortcutRow("Moving", label, keys, "photos") for keys, label in OTHER_KEYS]
    return rows
