"""Which frame of a burst is sharp? Burst top-1 of LoDa's scores at full resolution (issue 21's benchmark).

    python benchmarks/bursts.py --pool build/native --model assets/models/loda-default.safetensors \
        --workdir /tmp/bursts --json /tmp/bursts.json

A burst is one photo of the pool's **held-out split** (:func:`trainer.detail.held_out_stems`: never seen by any
trained part of the default model) at its own size, if it is large enough for detail crops
(:func:`model.preprocess.wants_detail`), in five frames: the original and four takes spoiled at 100 %: Gaussian
blur σ 1.0 and 1.5 px (a missed focus), a 5-px straight shake at a random angle, and Gaussian noise σ 6 of 255 on
each channel (high ISO; the training's noise model is another one). Every frame is saved as a JPEG of quality 95
under a shuffled name, so that neither the order nor the names tell which is the original. With ``--upscale 4000``
each photo is first enlarged (Lanczos) to a 4000-px short side, the size of a 24-MP frame: then, as in many real
frames at 100 %, the original itself is soft at the pixel level, and a 1-px blur changes little.

Top-1 is the share of bursts whose original ranks first, for each way of ranking:

- ``global``: the paper's score (384-px view, ``--crops`` crops);
- ``detail``: the app's own burst ranking (:func:`loda_desktop.bursts.rank_burst`): the frames compared like for
  like, on the mean detail score over the detail-crop positions they share (else the reference frame's, scored in
  the others with ``score_regions``); ``within_noise`` counts the bursts it calls a tie;
- ``combined``: the score the app sorts by (global and detail);
- ``laplacian``: the variance of the Laplacian of the full-size grey image (the classic focus measure).

Chance is 1 in 5. Also printed: per spoiler, how often its frame ranked below the original (pairwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPOILERS = ("blur 1.0", "blur 1.5", "shake 5", "noise 6")


def spoil(img: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import convolve, gaussian_filter

    from trainer.detail import line_kernel

    x = img.astype(np.float64)
    if kind.startswith("blur"):
        s = float(kind.split()[1])
        out = np.stack([gaussian_filter(x[:, :, c], s) for c in range(3)], -1)
    elif kind == "shake 5":
        k = line_kernel(5.0, float(rng.uniform(0, np.pi)))
        out = np.stack([convolve(x[:, :, c], k, mode="reflect") for c in range(3)], -1)
    elif kind == "noise 6":
        out = x + rng.normal(0.0, 6.0, x.shape)
    else:
        out = x
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def make_bursts(
    pool: Path, workdir: Path, limit: int | None, short_side: int, crop: int, upscale: int | None = None
) -> list[dict]:
    from model.preprocess import wants_detail
    from trainer.detail import held_out_stems

    photos = sorted(p for p in pool.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
    held = held_out_stems([p.stem for p in photos])
    chosen = [p for p in photos if p.stem in held and wants_detail(Image.open(p).size, short_side, crop)]
    bursts = []
    for n, path in enumerate(chosen[:limit]):
        rng = np.random.default_rng(1000 + n)
        folder = workdir / f"burst_{n:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        photo = Image.open(path).convert("RGB")
        if upscale:  # the photo enlarged to a camera's size first: soft at 100 %, as many real frames are
            scale = upscale / min(photo.size)
            photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
        img = np.asarray(photo)
        kinds = ["original", *SPOILERS]
        order = rng.permutation(len(kinds))
        frames = {}
        for slot, k in enumerate(order):
            out = folder / f"frame_{slot}.jpg"
            if not out.exists():
                Image.fromarray(spoil(img, kinds[k], rng)).save(out, quality=95)
            frames[kinds[k]] = out
        bursts.append(
            {"photo": path.stem, "size": img.shape[1::-1], "frames": frames, "order": [kinds[k] for k in order]}
        )
    return bursts


def laplacian_variance(path: Path) -> float:
    from scipy.ndimage import laplace

    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    return float(laplace(gray).var())


def app_ranking(scorer, frames: list[Path], results: list):
    """The app's own like-for-like ranking (:func:`loda_desktop.bursts.rank_burst`) of one burst's frames."""
    from loda_desktop.bursts import Frame, rank_burst

    items = [
        Frame(
            path=path,
            photo_id=i,
            score=r.score,
            detail=r.detail,
            regions=r.regions,
            size=(r.width, r.height),
        )
        for i, (path, r) in enumerate(zip(frames, results, strict=True))
    ]
    return rank_burst(items, rescore=scorer.score_regions)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=Path, required=True, help="loda make-pool --short-side 0 output")
    ap.add_argument("--model", type=Path, required=True, help="a profile (.safetensors)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/loda-bursts"))
    ap.add_argument("--crops", type=int, default=5)
    ap.add_argument("--detail-crops", type=int, default=4)
    ap.add_argument("--limit", type=int, help="at most this many bursts")
    ap.add_argument(
        "--upscale", type=int, metavar="PX", help="enlarge every photo to this short side first (4000: 24 MP)"
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from model.profiles import read_profile
    from model.scorer import torch_scorer_from_profile

    profile = read_profile(args.model)
    scorer = torch_scorer_from_profile(profile, device="cpu", crops=args.crops, detail_crops=args.detail_crops)
    bursts = make_bursts(args.pool, args.workdir, args.limit, scorer.short_side, scorer.crop_size, args.upscale)
    wins = {k: 0 for k in ("global", "detail", "combined", "laplacian")}
    below = {k: {s: 0 for s in SPOILERS} for k in wins}
    rows = []
    ties, methods = 0, {}
    start = time.perf_counter()
    for b in bursts:
        names = b["order"]
        paths = [b["frames"][k] for k in names]
        results = scorer.score(paths)
        bad = [r.error for r in results if not r.ok]
        if bad:
            raise SystemExit(f"{b['photo']}: {bad[0]}")
        ranking = app_ranking(scorer, paths, results)
        order = [f.photo_id for f in ranking.frames]
        ties += int(ranking.tie)
        methods[ranking.method] = methods.get(ranking.method, 0) + 1
        ranks = {
            "global": [r.global_score for r in results],
            "detail": [float(len(order) - order.index(i)) for i in range(len(paths))],  # the app's burst_rank
            "combined": [r.score for r in results],
            "laplacian": [laplacian_variance(p) for p in paths],
        }
        orig = names.index("original")
        row = {"photo": b["photo"], "size": list(b["size"])}
        for way, values in ranks.items():
            wins[way] += int(int(np.argmax(values)) == orig)
            for s in SPOILERS:
                below[way][s] += int(values[names.index(s)] < values[orig])
            row[way] = {name: round(float(v), 4) for name, v in zip(names, values, strict=True)}
        rows.append(row)
        print(f"{b['photo']:40s} " + "  ".join(f"{w}:{'✓' if np.argmax(v) == orig else '✗'}" for w, v in ranks.items()))
    seconds = time.perf_counter() - start
    n = len(bursts)
    report = {
        "bursts": n,
        "frames": 5 * n,
        "model": str(args.model),
        "crops": args.crops,
        "detail_crops": args.detail_crops,
        "upscale": args.upscale,
        "top1": {k: round(v / n, 3) for k, v in wins.items()},
        "spoiled_below_original": {k: {s: round(c / n, 3) for s, c in v.items()} for k, v in below.items()},
        "within_noise": ties,
        "ranked_by": methods,
        "seconds": round(seconds, 1),
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
