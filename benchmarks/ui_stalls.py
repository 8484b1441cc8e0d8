"""Event-loop stalls of the real window while it scores a big folder (a benchmark, not a test).

Opens a folder of photos in :class:`loda_desktop.ui.main_window.MainWindow` (offscreen unless ``--show``),
and while it scans, reads the catalog, makes thumbnails, reads EXIF and scores, a 10 ms ``QTimer`` records
the gap between its ticks. A gap is how long the UI thread could not answer; the longest gap minus the timer
interval is the longest stall. The target is a longest stall under 100 ms. With ``--browse`` (default on)
the current photo moves every 150 ms, as when a photographer culls during scoring, so the grid repaints and
asks for thumbnails.

    .venv/bin/python benchmarks/ui_stalls.py                      # 2,000 generated photos, 2 crops
    .venv/bin/python benchmarks/ui_stalls.py --photos 500 --crops 1
    .venv/bin/python benchmarks/ui_stalls.py --folder ~/Pictures/shoot

Generated photos (640×427 JPEGs with an EXIF date) are cached in ``--workdir``; the catalog is a fresh one
in a temporary LODA_HOME, so every photo is scored. Prints max / p99 / p50 stall, the count of gaps over
50 and 100 ms, what the window was doing at the longest one, and photos per second.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def make_photos(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    import numpy as np
    from PIL import ExifTags, Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    rng = np.random.default_rng(0)
    for i in range(count):
        path = folder / f"IMG_{i:05d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        w, h = size
        small = rng.integers(0, 256, size=(h // 40, w // 40, 3), dtype=np.uint8)
        exif = Image.Exif()
        exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = f"2024:06:{1 + i // 1000:02d} {8 + i % 10:02d}:{i % 60:02d}:00"
        Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC).save(path, quality=88, exif=exif)
    return paths


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2000, help="how many photos to generate (default 2000)")
    parser.add_argument("--folder", type=Path, help="score this folder instead of generated photos")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "loda-ui-stalls")
    parser.add_argument("--crops", type=int, default=2, help="crops per photo (default 2)")
    parser.add_argument("--batch", type=int, default=32, help="crops per inference batch (default 32)")
    parser.add_argument("--threads", type=int, default=0, help="inference threads (0: torch's default)")
    parser.add_argument("--interval", type=int, default=10, help="timer interval in ms (default 10)")
    parser.add_argument("--no-browse", dest="browse", action="store_false", help="do not move through photos")
    parser.add_argument("--show", action="store_true", help="use the real display instead of offscreen")
    parser.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    args = parser.parse_args(argv)

    if not args.show:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="loda-home-"))
    os.environ["LODA_HOME"] = str(home)  # a fresh catalog: everything gets scored

    if args.folder:
        folder = args.folder.expanduser().resolve()
    else:
        folder = args.workdir / f"photos-{args.photos}"
        started = time.perf_counter()
        make_photos(folder, args.photos, (640, 427))
        print(f"photos ready in {folder} ({time.perf_counter() - started:.1f} s)", flush=True)

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from loda_desktop.settings import Settings
    from loda_desktop.ui.app import apply_theme
    from loda_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(["ui_stalls"])
    apply_theme(app)
    window = MainWindow(Settings(crops=args.crops, batch_size=args.batch, threads=args.threads))
    window.resize(1400, 900)
    window.show()
    # The window loads the model in its scoring thread as soon as it opens (importing torch holds the GIL
    # in long stretches); a photographer drops a folder after that, so the measurement starts then.
    ready = {"done": False}
    window.model_loaded.connect(lambda _description: ready.update(done=True))
    window.engine_failed.connect(lambda _message: ready.update(done=True))
    warm_started = time.perf_counter()
    while not ready["done"]:
        app.processEvents()
        time.sleep(0.01)
    print(f"window open; model loaded in {time.perf_counter() - warm_started:.1f} s", flush=True)

    gaps: list[tuple[float, float, str]] = []  # (gap ms, seconds since start, phase)
    state = {"last": 0.0, "start": 0.0, "summary": None}

    def phase() -> str:
        progress = window.progress
        return progress.phase if progress is not None else "starting"

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(((now - state["last"]) * 1000, now - state["start"], phase()))
        state["last"] = now

    def browse() -> None:
        window.step(1)

    def finished(summary) -> None:
        state["summary"] = summary
        app.quit()

    def failed(message: str) -> None:
        print(f"scoring failed: {message}", file=sys.stderr)
        app.quit()

    window.scoring_finished.connect(finished)
    window.scoring_failed.connect(failed)
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(args.interval)
    timer.timeout.connect(tick)
    mover = QTimer()
    mover.setInterval(150)
    mover.timeout.connect(browse)
    QTimer.singleShot(int(args.timeout * 1000), app.quit)

    state["start"] = state["last"] = time.perf_counter()
    timer.start()
    if args.browse:
        mover.start()
    window.open_folders([str(folder)])
    app.exec()
    timer.stop()
    mover.stop()
    elapsed = time.perf_counter() - state["start"]
    summary = state["summary"]
    window.close()

    stalls = [g - args.interval for g, _, _ in gaps[1:]]
    worst = max(gaps[1:], key=lambda g: g[0]) if len(gaps) > 1 else (0.0, 0.0, "")
    print()
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    if summary is None:
        print("scoring did not finish")
        return 2
    print(f"photos: {summary.total:,} ({summary.scored:,} scored, {summary.failed:,} failed), crops {args.crops}")
    print(f"wall time: {elapsed:.1f} s; engine: {summary.photos_per_second:.2f} photos/s (model load included)")
    print(f"ticks: {len(gaps):,} of {args.interval} ms")
    print(
        f"stall (gap - interval): max {max(stalls, default=0):.1f} ms at {worst[1]:.1f} s ({worst[2]}),"
        f" p99 {percentile(stalls, 99):.1f} ms, p50 {percentile(stalls, 50):.1f} ms"
    )
    print(f"gaps over 50 ms: {sum(s > 50 for s in stalls)}, over 100 ms: {sum(s > 100 for s in stalls)}")
    top = sorted(gaps[1:], key=lambda g: -g[0])[:5]
    print("longest gaps: " + ", ".join(f"{g:.0f} ms at {t:.1f} s ({p})" for g, t, p in top))
    ok = max(stalls, default=0) < 100
    print("PASS: longest stall under 100 ms" if ok else "FAIL: a stall of 100 ms or more")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
