"""How far INT8 scores drift from float ones for a trained profile, on held-out photos and damaged copies (not a test).

    python benchmarks/int8_drift.py [--model default] [--crops 5] [--json out.json]

The photos: the pool's held-out references (the 29 file stems ``sorted(stems)[rng(0).permutation(147)[118:]]`` of
``build/refs``, read from ``build/native``, the training pool's split), each as it is and damaged by
``trainer.distortions.distort`` (blur, JPEG, noise, motion blur, haze, under-exposure at levels 2 and 4), so that
the ranking has something to rank. Every image is scored with the profile's float32 ONNX export and its dynamic
INT8 export (``loda export-onnx --int8``), the same crops through the same scorer. Reported: SRCC over all images,
the median SRCC within each photo's damage series (the ranking a culling session sees), the largest and mean
absolute score difference, and each file's size.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAMAGE = ("gaussian_blur", "jpeg_compression", "gaussian_noise", "motion_blur", "haze", "underexposure")
LEVELS = (2, 4)


def held_out(build: Path) -> list[Path]:
    stems = sorted(p.stem for p in (build / "refs").iterdir() if p.is_file())
    if len(stems) != 147:
        raise SystemExit(f"{build / 'refs'}: expected the pool's 147 references, found {len(stems)}")
    chosen = [stems[i] for i in np.random.default_rng(0).permutation(147)[118:]]
    native = {p.stem: p for p in (build / "native").iterdir() if p.is_file()}
    return [native[s] for s in chosen]


def images(photos: list[Path]) -> tuple[list[np.ndarray], list[str], list[int]]:
    from trainer.distortions import distort

    arrays, names, groups = [], [], []
    for g, path in enumerate(photos):
        base = np.asarray(Image.open(path).convert("RGB"))
        arrays.append(base)
        names.append(f"{path.stem}")
        groups.append(g)
        for name in DAMAGE:
            for level in LEVELS:
                arrays.append(distort(base, name, level, seed=g))
                names.append(f"{path.stem}:{name}:{level}")
                groups.append(g)
    return arrays, names, groups


def srcc(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--crops", type=int, default=5)
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from loda_desktop.model_store import cached_onnx_export, export_here, resolve_model
    from model.onnx_scorer import OnnxScorer

    profile = resolve_model(args.model)
    photos = held_out(args.build)
    arrays, names, groups = images(photos)
    print(f"{len(photos)} held-out photos, {len(arrays)} images with the damaged copies", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        float_path = cached_onnx_export(profile)
        int8_path = work / f"{profile.path.stem}-int8.onnx"
        if not int8_path.is_file():
            export_here(profile.path, int8_path, int8=True)
        scores, seconds = {}, {}
        for label, path in (("float", float_path), ("int8", int8_path)):
            scorer = OnnxScorer(path, profile=profile, device="cpu", crops=args.crops)
            started = time.perf_counter()
            results = scorer.score(arrays)
            seconds[label] = time.perf_counter() - started
            scores[label] = np.array([r.score for r in results], dtype=np.float64)
        sizes = {"float": float_path.stat().st_size, "int8": int8_path.stat().st_size}
    f, q = scores["float"], scores["int8"]
    groups_arr = np.array(groups)
    within = [srcc(f[groups_arr == g], q[groups_arr == g]) for g in sorted(set(groups))]
    report = {
        "model": profile.name,
        "crops": args.crops,
        "photos": len(photos),
        "images": len(arrays),
        "srcc_all": srcc(f, q),
        "srcc_within_photo_median": float(np.median(within)),
        "srcc_within_photo_min": float(np.min(within)),
        "max_abs_diff": float(np.max(np.abs(f - q))),
        "mean_abs_diff": float(np.mean(np.abs(f - q))),
        "float_score_range": [float(f.min()), float(f.max())],
        "float_score_std": float(f.std()),
        "seconds": seconds,
        "bytes": sizes,
        "scores": {n: [float(a), float(b)] for n, a, b in zip(names, f, q, strict=True)},
    }
    for key, value in report.items():
        if key != "scores":
            print(f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
