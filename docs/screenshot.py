"""Make the README's screenshot: the window on a small shoot, scored by the model the app would use.

    QT_QPA_PLATFORM=offscreen python docs/screenshot.py PHOTO [PHOTO ...] --out docs/screenshot.png
        [--loupe docs/loupe-100.png] [--compare docs/compare.png]

The photos are copied into a temporary folder under camera-style names (``DSC_4100_<name>.jpg``), together with
three spoiled frames made from the first ones with the project's own distortions (a blur, sensor noise and
heavy JPEG, as a shaky hand, a high ISO and a bad export would give), so the grid shows what a cull looks like.
Everything the app writes (catalog, settings, caches) goes to a temporary ``LODA_HOME``; the photos given are
only read. A few picks, rejects and stars are set the way a photographer would, then the window is grabbed.
``--loupe`` also grabs the best photo in the loupe at 100 % (its full-resolution decode in), ``--compare`` the
two best side by side in the compare view, zoomed to 100 % together. For the README: the five demo photos
in ``assets/demo`` and the ``nature`` set of Debian's ``mate-backgrounds``
(``/usr/share/backgrounds/mate/nature``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

SPOILED = (("gaussian_blur", 3, "shaky"), ("sensor_noise", 5, "iso12800"), ("jpeg_compression", 5, "export"))


def make_shoot(photos: list[Path], folder: Path) -> list[Path]:
    """Copy ``photos`` into ``folder`` as JPEGs under camera-style names, plus three spoiled frames."""
    import numpy as np
    from PIL import Image

    from model.preprocess import open_image
    from trainer.synthetic import distort

    number = 4100
    for i, photo in enumerate(photos):
        img = open_image(photo)  # upright RGB, whatever the format the app reads
        img.thumbnail((1600, 1600))
        stem = photo.stem.split("_by_")[0].lower()
        number += 3
        img.save(folder / f"DSC_{number}_{stem}.jpg", quality=92)
        if i < len(SPOILED):
            kind, level, tag = SPOILED[i]
            spoiled = Image.fromarray(distort(np.asarray(img), kind, level, seed=number))
            spoiled.save(folder / f"DSC_{number + 1}_{stem}_{tag}.jpg", quality=92)
    return sorted(folder.glob("*.jpg"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="+", type=Path, help="photos (or folders of photos) to show")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--size", default="1400x870", help="window size WxH")
    parser.add_argument("--loupe", type=Path, help="also grab the best photo in the loupe at 100 %% here")
    parser.add_argument("--compare", type=Path, help="also grab the two best photos in the compare view here")
    args = parser.parse_args(argv)
    from loda_desktop.scan import ScanError, scan_folder

    try:
        photos = [photo for p in args.photos for photo in scan_folder(p, recursive=False)]
    except ScanError as exc:
        parser.error(str(exc))
    if not photos:
        parser.error("no photos found")

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LODA_HOME"] = str(Path(tmp) / "home")  # before the app's modules read it
        shoot = Path(tmp) / "shoot"
        shoot.mkdir()
        made = make_shoot(photos, shoot)

        from PySide6.QtCore import QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication

        from loda_desktop.ui.main_window import MainWindow

        app = QApplication.instance() or QApplication(sys.argv[:1])
        window = MainWindow()
        width, height = (int(v) for v in args.size.split("x"))
        window.resize(width, height)
        window.show()
        loop = QEventLoop()
        window.scoring_finished.connect(loop.quit)
        window.scoring_failed.connect(loop.quit)
        window.open_folders([shoot])
        loop.exec()
        if window.summary is None:
            print("scoring failed; no screenshot written", file=sys.stderr)
            window.close()
            return 1
        window.sort_by("Score")
        spoiled = [p for p in made if p.stem.endswith(("_shaky", "_iso12800"))]
        for path in spoiled:  # two of the three spoiled frames rejected, as if the cull were under way
            if window.select_path(path):
                window.set_flag("reject")
        best = [it.path for it in sorted(window.model.items, key=lambda it: -(it.score or 0))[:3]]
        for path, stars in zip(best, (5, 4, 4), strict=False):
            window.select_path(path)
            window.rate(stars)
            if stars == 5:
                window.set_flag("pick")
        window.select_path(best[0])
        items, thumbs = window.model.items, window.thumbnails
        for passes in range(1, 101):  # up to 10 s: every thumbnail in (or failed), and at least 0.5 s for the
            done = all(thumbs.get(it) is not None or thumbs.error(it) for it in items)  # window's debounced counts
            QTimer.singleShot(100, loop.quit)
            loop.exec()
            if done and passes >= 5:
                break
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        print(f"{len(made)} photos scored by {window.engine_info.model_name if window.engine_info else '?'}")
        print(f"wrote {args.out}")
        if args.loupe:
            grab_loupe(window, best[0], args.loupe)
        if args.compare:
            grab_compare(window, best[:2], args.compare)
        window.close()
        app.processEvents()
    return 0


def wait_until(done, seconds: float = 15.0) -> bool:
    """Run the event loop until ``done()`` (background decodes arriving), at most ``seconds``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    for _ in range(int(seconds * 10)):
        if done():
            return True
        QTimer.singleShot(100, loop.quit)
        loop.exec()
    return done()


def grab_loupe(window, path: str, out: Path) -> None:
    """The photo at ``path`` in the loupe at 100 % (Z), once its full resolution is decoded."""
    window.select_path(path)
    window.set_view("loupe")
    canvas = window.loupe.canvas
    wait_until(lambda: window.loupe.exif is not None)
    window.views.toggle_zoom()
    wait_until(lambda: canvas.has_full_resolution)
    wait_until(lambda: False, 0.3)  # the info panel's last repaint
    window.grab().save(str(out))
    print(f"wrote {out} ({canvas.zoom_percent():.0f} %)")
    window.set_view("grid")


def grab_compare(window, paths: list[str], out: Path) -> None:
    """The photos at ``paths`` in the compare view (C), zoomed to 100 % together (Z)."""
    from PySide6.QtCore import QItemSelectionModel

    window.set_view("grid")
    window.select_path(paths[0])
    index = window.proxy.mapFromSource(window.model.index_for(paths[1]))
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    window.selection.select(index, flags)
    window.views.toggle_compare()
    canvases = [pane.canvas for pane in window.views.compare.panes]
    wait_until(lambda: all(c.image is not None and c.full_size.width() > c.image.width() for c in canvases), 5)
    window.views.toggle_zoom()
    wait_until(lambda: all(c.has_full_resolution for c in canvases))
    wait_until(lambda: False, 0.3)
    window.grab().save(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
