"""Does added damage lower a model's score? Counts, per model, the photos whose score falls (not a test).

    python benchmarks/damage_response.py --photos-dir PHOTOS --models default other.safetensors

Each photo is resized to at most ``--max-side`` px (1600), then scored as it is, with Gaussian noise of each
``--noise`` σ (15 and 30, 8-bit units, one fixed random generator) and with a Gaussian blur of each ``--blur``
radius (2 and 4 px). For each model and damage the script prints how many photos scored lower than their clean
version, and the mean score change. A photographer's tool should lower the score every time; the shipped
model's test (``tests/app/test_default_model.py``) checks that on the demo photos.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load(path: Path, max_side: int) -> Image.Image:
    with Image.open(path) as img:
        img = img.convert("RGB")
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    return img


def noisy(img: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    arr = np.asarray(img, dtype=np.float64) + rng.normal(0, sigma, size=(img.height, img.width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos-dir", type=Path, action="append", required=True, help="may be given several times")
    ap.add_argument("--models", nargs="+", default=["default"], help="profile names or files, or 'default'")
    ap.add_argument("--noise", nargs="*", type=float, default=[15.0, 30.0])
    ap.add_argument("--blur", nargs="*", type=float, default=[2.0, 4.0])
    ap.add_argument("--max-side", type=int, default=1600)
    ap.add_argument("--crops", type=int, default=5)
    ap.add_argument("--per-photo", action="store_true", help="also print each photo's clean score and changes")
    args = ap.parse_args()

    from loda_desktop.model_store import model_search_dirs, resolve_model
    from loda_desktop.scan import scan_many
    from model.scorer import torch_scorer_from_profile

    photos = scan_many(args.photos_dir)  # the app's own scan: every format it scores, sorted
    if not photos:
        raise SystemExit("no photos found")
    damages = [f"noise σ{s:g}" for s in args.noise] + [f"blur r{r:g}" for r in args.blur]
    print(f"# {len(photos)} photos, at most {args.max_side} px, {args.crops} crops")
    for spec in args.models:
        profile = resolve_model(spec)
        scorer = torch_scorer_from_profile(profile, device="cpu", crops=args.crops, search_dirs=model_search_dirs())
        rng = np.random.default_rng(0)
        lowered = dict.fromkeys(damages, 0)
        change: dict[str, list[float]] = {d: [] for d in damages}
        for path in photos:
            img = load(path, args.max_side)
            images = [img, *(noisy(img, s, rng) for s in args.noise)]
            images += [img.filter(ImageFilter.GaussianBlur(r)) for r in args.blur]
            results = scorer.score(images)
            bad = [r.error for r in results if not r.ok]
            if bad:
                raise SystemExit(f"{path}: {bad[0]}")
            clean, *damaged = (r.score for r in results)
            for name, score in zip(damages, damaged, strict=True):
                lowered[name] += score < clean
                change[name].append(score - clean)
            if args.per_photo:
                cells = " ".join(f"{d} {change[d][-1]:+.3f}" for d in damages)
                print(f"  {path.name}: clean {clean:.3f}, {cells}", flush=True)
        cells = ", ".join(f"{d}: {lowered[d]}/{len(photos)} lowered (mean {np.mean(change[d]):+.3f})" for d in damages)
        print(f"{profile.name} ({profile.path or spec}): {cells}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
