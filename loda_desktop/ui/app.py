"""``loda-desktop [FOLDER...]``: the window's entry point.

Startup problems a user can fix (a catalog written by a newer version, a damaged catalog, an unreadable
settings or data folder) are shown in a message box, never as a traceback. A problem with the model (unknown
profile, missing backbone weights) does not stop the window: it says so in its banner, and Settings… fixes it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from loda_desktop import __version__
from loda_desktop.catalog import CatalogError

log = logging.getLogger(__name__)

# the window's icon; the same name as the .desktop file (assets/loda-desktop.desktop), which desktops match on
ICON = Path(__file__).resolve().parents[2] / "assets" / "icons" / "loda-desktop.png"
DESKTOP_FILE = "loda-desktop"

__all__ = ["apply_theme", "main"]


def apply_theme(app: QApplication) -> None:
    """A neutral dark theme (Fusion): photos are judged on grey, not on white."""
    app.setStyle("Fusion")  # None (and the platform style stays) where Fusion is missing
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f1f1f",
        QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.ToolTipBase: "#3a3a3a",
        QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.PlaceholderText: "#8a8a8a",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#353535",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#3d6fb4",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6ea8fe",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f6f6f"))
    app.setPalette(palette)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loda-desktop", description="LoDa Desktop: score, cull and rank a shoot with the LoDa quality model."
    )
    parser.add_argument("folders", nargs="*", metavar="FOLDER", help="folders (searched recursively) or photos")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--selftest",
        action="store_true",
        help="offscreen: decode and score the bundled demo photos with the default model, print one line and exit",
    )
    return parser


def selftest(app: QApplication) -> int:
    """``--selftest`` for the window's executable: Qt decodes every demo photo (the image plugins are in the
    bundle), then :func:`loda_desktop.selftest.run_selftest` scores them. One line; 0 when all is well."""
    from PySide6.QtGui import QImageReader

    from loda_desktop.selftest import demo_photos, run_selftest

    unreadable = [p.name for p in demo_photos() if QImageReader(str(p)).read().isNull()]
    if unreadable:
        print(f"LoDa Desktop {__version__} self-test FAILED: Qt cannot decode {', '.join(unreadable)}", file=sys.stderr)
        return 1
    result = run_selftest()
    print(result.line, file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def _pro_only(window) -> None:
    """The score-only app (no torch, :func:`loda_desktop.model_store.score_only`) cannot fine-tune: the menu item
    says so and explains, instead of failing on the missing import."""
    from loda_desktop.model_store import score_only

    if not score_only():
        return
    text = "Fine-tuning needs LoDa Desktop Pro"
    window.finetune_action.setText("&Fine-tune on My Ratings… (needs LoDa Desktop Pro)")
    window.finetune_action.setToolTip(text)

    def explain(**_kwargs) -> None:
        QMessageBox.information(
            window,
            text,
            f"{text}: this app scores and culls with ONNX Runtime and leaves PyTorch out to stay small. Install"
            " LoDa Desktop Pro (or `pip install loda-desktop`) to train the model on your ratings.",
        )

    window.show_finetune = explain  # the menu, the shortcut and the button look the handler up when they run


def _run(app: QApplication, window) -> int:
    """The event loop (tests replace this to drive the window and return)."""
    return app.exec()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    # The window never goes online: a model whose weights are not on this machine fails at once with a message
    # naming the missing file, instead of hub retries (`loda models` and the command line can still download).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.selftest:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "loda-desktop"])
    app.setApplicationName("LoDa Desktop")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("loda-desktop")
    app.setDesktopFileName(DESKTOP_FILE)
    if ICON.is_file():
        app.setWindowIcon(QIcon(str(ICON)))
    app.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    apply_theme(app)
    if args.selftest:
        return selftest(app)

    from .main_window import MainWindow

    try:
        window = MainWindow()
    except (CatalogError, sqlite3.Error, OSError) as exc:
        QMessageBox.critical(None, "LoDa Desktop cannot start", f"LoDa Desktop cannot start:\n\n{exc}")
        return 1
    _pro_only(window)
    window.show()
    if args.folders:
        window.open_folders(args.folders)
    else:  # File ▸ Open Recent ▸ Reopen the Last Folder at Launch, when chosen
        window.workspace.recent.reopen_at_launch()
    try:
        return _run(app, window)
    finally:
        window.close()
        window.deleteLater()
