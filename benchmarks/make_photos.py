"""Camera-sized JPEGs for the GPU benchmarks (not a test): the demo photos resized, plus grain.

    python benchmarks/make_photos.py OUT_DIR --count 200 --size 6000x4000

Photo i is demo photo i mod 5 resized (bilinear) to the size, plus uniform grain of at most 6 levels
(seeded by i), saved at JPEG quality 92; made in parallel processes. The content hardly matters for timing;
the size does: decoding a 24-MP JPEG is what a GPU waits for (docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loda_desktop.bench import make_photo  # noqa: E402  (the same photos as `loda bench` generates)


def make_one(i: int, out: Path, size: tuple[int, int]) -> None:
    make_photo(i, out, size)


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
