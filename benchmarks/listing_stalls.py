"""How long the window's UI thread is blocked while a big folder's rows arrive (a benchmark, not a test).

The listing thread hands the window its photos in chunks of ``workers.CHUNK``; each chunk is inserted into the
table model, its sorted proxy (capture date, the default sort) and the grid on the UI thread. This script opens
the real :class:`~loda_desktop.ui.main_window.MainWindow` (offscreen), feeds it ``--photos`` rows the way the
listing does, and times each chunk from the insert until the event loop is idle again: the longest is the longest
stall a photographer would feel while the folder opens. Rows are made up (no files, no catalog), so the number
is the window's alone; ``benchmarks/ui_stalls.py`` measures the whole pipeline on real files.

The window loads its model in the scoring thread as it starts, exactly when a folder given on the command line is
listed. ``--wait-for-model`` lists only after the model is in memory, to tell the two costs apart. A fresh
``LODA_HOME`` has no ONNX export of the model yet (the first run makes it, with torch); give the same ``--home``
twice to see a later launch.

    .venv/bin/python benchmarks/listing_stalls.py --photos 20000
    .venv/bin/python benchmarks/listing_stalls.py --photos 20000 --wait-for-model
    .venv/bin/python benchmarks/listing_stalls.py --photos 20000 --home /tmp/lh   # twice: the second is a relaunch
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--model", default="default", help="the model setting (default: the bundled default)")
    parser.add_argument("--wait-for-model", action="store_true", help="list only once the model is loaded")
    parser.add_argument(
        "--home", type=Path, help="LODA_HOME to use (default: a fresh one, so the first run's ONNX export happens)"
    )
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["LODA_HOME"] = str(args.home or tempfile.mkdtemp(prefix="loda-listing-"))

    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from loda_desktop.settings import Settings, save_settings
    from loda_desktop.ui.main_window import MainWindow
    from loda_desktop.ui.models import PhotoItem
    from loda_desktop.ui.workers import CHUNK

    save_settings(Settings(model=args.model))
    started = time.perf_counter()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    loaded: list[str] = []
    window.model_loaded.connect(loaded.append)
    if args.wait_for_model:
        while not loaded and time.perf_counter() - started < 300:
            app.processEvents()
            time.sleep(0.01)
    window.empty_hint.hide()
    window.views.show()
    window.generation = 1
    chunks = []
    for start in range(0, args.photos, CHUNK):
        items = [
            PhotoItem(
                f"/shoot/DSC_{(i * 7919) % args.photos:06d}.jpg",
                capture_time=f"2024-05-01T{10 + i // 3600:02d}:{(i // 60) % 60:02d}:{i % 60:02d}",
            )
            for i in range(start, min(args.photos, start + CHUNK))
        ]
        t = time.perf_counter()
        window._on_photos_found(1, items)
        app.processEvents()
        chunks.append(time.perf_counter() - t)
    ms = sorted(1000 * c for c in chunks)
    state = "listed after the model loaded" if args.wait_for_model else "listed while the model loaded"
    print(
        f"{args.photos:,} rows in {len(ms)} chunks of {CHUNK}: longest {ms[-1]:.0f} ms, p50"
        f" {statistics.median(ms):.0f} ms, total {sum(ms) / 1000:.1f} s; {state}"
        f" ({loaded[0] if loaded else 'not loaded by the end'}); torch imported: {'torch' in sys.modules}"
    )
    window.close()


if __name__ == "__main__":
    main()
