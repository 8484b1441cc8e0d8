"""Make the README's screenshot: the window on a small shoot, scored by the model the app would use.

    QT_QPA_PLATFORM=offscreen python docs/screenshot.py PHOTO [PHOTO ...] --out docs/screenshot.png

The photos are copied into a temporary folder under camera-style names (``DSC_4100_<name>.jpg``), together with
three spoiled frames made from the first ones with the project's own distortions (a blur, sensor noise and
heavy JPEG, as a shaky hand, a high ISO and a bad export would give), so the grid shows what a cull looks like.
Everything the app writes (catalog, settings, caches) goes to a temporary ``LODA_HOME``; the photos given are
only read. A few picks, rejects and stars are set the way a photographer would, then the window is grabbed.
For the README: the five demo photos in ``assets/demo`` and the ``nature`` set of Debian's ``mate-backgrounds``
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
        window.close()
        app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
