"""Camera-sized JPEGs for the GPU benchmarks (not a test): the demo photos resized, plus grain.

    python benchmarks/make_photos.py OUT_DIR --count 200 --size 6000x4000

Photo i is demo photo i mod 5 resized (bilinear) to the size, plus uniform grain of at most 6 levels
(seeded by i), saved at JPEG quality 92; made in parallel processes. The content hardly matters for timing;
the size does: decoding a 24-MP JPEG is what a GPU waits for (docs/performance.md).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo"


def make_one(i: int, out: Path, size: tuple[int, int]) -> None:
    demo = sorted(DEMO.glob("*.jpg"))
    w, h = size
    img = Image.open(demo[i % len(demo)]).convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
    rng = np.random.default_rng(i)
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-6, 7, size=(h, w, 1), dtype=np.int16)
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(out / f"p{i:04d}.jpg", quality=92)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--size", default="6000x4000", help="WIDTHxHEIGHT (default: 24 MP)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor() as pool:
        list(pool.map(partial(make_one, out=args.out, size=(w, h)), range(args.count)))
    print(f"{args.count} photos {w}x{h} in {args.out}")


if __name__ == "__main__":
    main()
