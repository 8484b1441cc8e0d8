"""Where the time of one 24-MP JPEG goes before the network sees it (not a test).

    python benchmarks/make_photos.py /tmp/big --count 3 --size 6000x4000
    python benchmarks/decode_jpeg.py /tmp/big --repeat 5 [--json out.json]

Each step is timed alone on the same photos, the steps interleaved within every repeat (so a busy machine
slows all of them alike), in one thread: read the file; open it (header only); Pillow's DCT-scaled decode
(``draft()``, what the scorer does for the 384-px view); a full-resolution decode (what native-resolution detail
crops need); EXIF transpose; RGB conversion; the resize to a 384-px short side from the draft and, via
``reduce()``, from the full decode; the crops; and the same decodes through ``model.jpeg.decode_jpeg``
(simplejpeg, libjpeg-turbo's TurboJPEG API) when it is installed. It prints the median milliseconds per photo.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model import jpeg  # noqa: E402
from model.preprocess import _draft_size, inference_crops, resize_short_side, to_rgb  # noqa: E402

SHORT, SIZE, CROPS = 384, 224, 5


def _timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - started) * 1000


def steps(path: Path) -> dict[str, float]:
    """Milliseconds of each step for one photo."""
    t: dict[str, float] = {}
    data, t["read bytes"] = _timed(path.read_bytes)
    _img, t["open (header)"] = _timed(lambda: Image.open(io.BytesIO(data)))

    def draft_decode():
        im = Image.open(io.BytesIO(data))
        im.draft("RGB", _draft_size(im.size, SHORT))
        im.load()
        return im

    small, t["decode, draft (DCT-scaled)"] = _timed(draft_decode)

    def full_decode():
        im = Image.open(io.BytesIO(data))
        im.load()
        return im

    full, t["decode, full (24 MP)"] = _timed(full_decode)
    _, t["exif_transpose (draft image)"] = _timed(ImageOps.exif_transpose, small)
    _, t["exif_transpose (full image)"] = _timed(ImageOps.exif_transpose, full)
    rgb, t["to_rgb (draft image)"] = _timed(to_rgb, small)
    view, t["resize to 384 (from draft)"] = _timed(resize_short_side, rgb, SHORT)

    def from_full():
        factor = max(1, min(full.size) // SHORT)
        return resize_short_side(full.reduce(factor) if factor > 1 else full, SHORT)

    _, t["reduce()+resize to 384 (from full)"] = _timed(from_full)
    _, t["asarray (384 view)"] = _timed(np.asarray, view)
    _, t["asarray (full image)"] = _timed(np.asarray, full)
    _, t[f"{CROPS} crops of {SIZE} px"] = _timed(inference_crops, view, CROPS, SIZE)
    if jpeg.available():
        _, t["simplejpeg: decode, scaled 1/8"] = _timed(lambda: jpeg.decode_jpeg(data, scale_denominator=8))
        sj, t["simplejpeg: decode, full, RGB"] = _timed(lambda: jpeg.decode_jpeg(data))
        sjx, t["simplejpeg: decode, full, RGBX (no copy)"] = _timed(lambda: jpeg.decode_jpeg(data, rgbx=True))

        def from_rgbx():
            factor = max(1, min(sjx.size) // SHORT)
            return resize_short_side((sjx.reduce(factor) if factor > 1 else sjx).convert("RGB"), SHORT)

        _, t["simplejpeg: reduce()+resize to 384 (RGBX)"] = _timed(from_rgbx)
        if sj is None or np.asarray(sj).tobytes() != np.asarray(full.convert("RGB")).tobytes():
            raise SystemExit(f"{path}: simplejpeg and Pillow decode different pixels")
    return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    photos = sorted(args.folder.glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no JPEGs in {args.folder}")
    for p in photos:  # the page cache warm for every step alike
        p.read_bytes()
    samples: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for p in photos:
            for name, ms in steps(p).items():
                samples.setdefault(name, []).append(ms)
    with Image.open(photos[0]) as im:
        size = im.size
    print(f"{len(photos)} photos ({size[0]}x{size[1]}) x {args.repeat} repeats, median ms per photo, one thread")
    result = {name: statistics.median(v) for name, v in samples.items()}
    for name, ms in result.items():
        print(f"  {name:<40} {ms:8.1f}")
    if args.json:
        args.json.write_text(json.dumps({"size": size, "photos": len(photos), "median_ms": result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
