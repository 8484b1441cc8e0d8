"""Throughput of the torch and ONNX Runtime backends on the same photos and crops (not a test).

    python benchmarks/onnx_vs_torch.py                                   # loda_tiny + loda_vit_base_r50, CPU
    python benchmarks/onnx_vs_torch.py --configs loda_vit_base_r50 --crops 15 --cuda   # on a CUDA machine
    python benchmarks/onnx_vs_torch.py --configs --profiles default --photos-dir DIR    # the bundled model, real photos

Every network has random weights (no download, same graph and cost as a trained one). For each config the
script exports the network to ONNX (float32 and dynamic INT8), then scores the same photos with the same crops
and batch size through the same :class:`model.scorer.BaseScorer` pipeline (decoding included, as in the app):

- CPU: torch, ONNX Runtime float32, ONNX Runtime INT8;
- with ``--cuda`` (where torch and onnxruntime-gpu see a GPU): torch CUDA fp32, torch CUDA AMP (fp16 autocast),
  ONNX Runtime CUDA (or TensorRT, when installed).

It prints one table: photos/s, the ratio to the first row of the group (torch CPU, or torch CUDA fp32), the
largest score difference from that row, and for INT8 the SRCC between INT8 and float scores over the photos.
Photos: the demo photos in assets/demo, then generated 1200x800 JPEGs up to ``--photos``; or the first
``--photos`` photos the app finds under ``--photos-dir`` (in path order). ``--profiles`` benchmarks trained
profiles (names or files, ``default`` for the app's default model) with their real weights.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def make_photos(folder: Path, n: int) -> list[Path]:
    demo = sorted((ROOT / "assets" / "demo").glob("*.jpg"))[:n]
    photos = list(demo)
    rng = np.random.default_rng(0)
    for i in range(n - len(photos)):
        small = rng.integers(0, 256, size=(16 + i % 7, 24 + i % 5, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((1200, 800), Image.Resampling.BICUBIC)
        noise = rng.normal(0, 4 + i, size=(800, 1200, 3))
        arr = np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
        path = folder / f"synthetic_{i:02d}.jpg"
        Image.fromarray(arr).save(path, quality=60 + i)
        photos.append(path)
    return photos


def srcc(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def timed_scores(scorer, photos: list[Path], warmup: int) -> tuple[float, np.ndarray]:
    scorer.score(photos[:warmup])  # first-run allocations, kernel selection, thread pools
    started = time.perf_counter()
    results = scorer.score(photos)
    seconds = time.perf_counter() - started
    bad = [r for r in results if not r.ok]
    if bad:
        raise SystemExit(f"{bad[0].source}: {bad[0].error}")
    return len(photos) / seconds, np.array([r.score for r in results])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="*", default=["loda_tiny", "loda_vit_base_r50"])
    ap.add_argument("--profiles", nargs="*", default=[], help="trained profiles (names, files or 'default')")
    ap.add_argument("--photos-dir", type=Path, help="score these photos instead of the demo + generated ones")
    ap.add_argument("--crops", nargs="+", type=int, default=[5, 15])
    ap.add_argument("--photos", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32, help="crops per batch (the app's default)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for both libraries (0: their defaults)")
    ap.add_argument("--decode-workers", type=int, default=2, help="photo-decoding threads (the app's 2)")
    ap.add_argument("--warmup", type=int, default=2, help="photos scored once before timing")
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--torch-only", action="store_true", help="no ONNX export (for networks it cannot export)")
    ap.add_argument("--cuda", action="store_true", help="benchmark the GPU backends instead of the CPU ones")
    ap.add_argument("--workdir", type=Path, help="where the ONNX files and photos go (default: a temp dir)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args()

    import onnxruntime as ort
    import torch

    from model import create_model
    from model.onnx_export import export_onnx
    from model.onnx_scorer import GPU_PROVIDERS, OnnxScorer
    from model.scorer import TorchScorer

    if args.cuda and not torch.cuda.is_available():
        raise SystemExit("--cuda: torch sees no CUDA GPU on this machine")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="loda_bench_"))
    (work / "photos").mkdir(parents=True, exist_ok=True)
    if args.photos_dir:
        from loda_desktop.scan import scan_many

        photos = scan_many([args.photos_dir])[: args.photos]  # the app's own scan: every format it scores
        if not photos:
            raise SystemExit(f"no photos in {args.photos_dir}")
    else:
        photos = make_photos(work / "photos", args.photos)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, load avg {load:.1f};"
        f" torch {torch.__version__}, onnxruntime {ort.__version__} ({', '.join(ort.get_available_providers())});"
        f" {len(photos)} photos, batch {args.batch}, threads {args.threads or 'default'},"
        f" {args.decode_workers} decode threads",
        flush=True,
    )
    ort_skipped = False
    if args.cuda:
        print(f"# GPU: {torch.cuda.get_device_name(0)}", flush=True)
        if not set(GPU_PROVIDERS) & set(ort.get_available_providers()):
            print("# this onnxruntime has no GPU provider (pip install onnxruntime-gpu): torch rows only", flush=True)
            ort_skipped = True
    rows = []
    for name in [*args.configs, *args.profiles]:
        if name in args.configs:
            torch.manual_seed(0)
            net = create_model(name, pretrained=False).eval()
        else:
            from loda_desktop.model_store import model_search_dirs, resolve_model
            from model.profiles import load_model

            net = load_model(resolve_model(name), search_dirs=model_search_dirs())
        started = time.perf_counter()
        float_path = None if args.torch_only or ort_skipped else export_onnx(net, None, work / f"{name}.onnx")
        if float_path is not None:
            size = float_path.stat().st_size / 1e6
            print(f"# {name}: float export {time.perf_counter() - started:.1f} s, {size:.0f} MB")
        int8_path = None
        if not args.no_int8 and not args.cuda and not args.torch_only:
            started = time.perf_counter()
            int8_path = export_onnx(net, None, work / f"{name}-int8.onnx", int8=True, verify=False)
            size = int8_path.stat().st_size / 1e6
            print(f"# {name}: INT8 export {time.perf_counter() - started:.1f} s, {size:.0f} MB")
        if args.cuda:
            backends = [
                ("torch CUDA fp32", "torch", {"device": "cuda", "amp": False}),
                ("torch CUDA AMP", "torch", {"device": "cuda", "amp": True}),
            ]
            if float_path is not None:
                backends.append(("ORT GPU fp32", float_path, {"device": "cuda"}))
        else:
            cpu = {"device": "cpu", "threads": args.threads}
            backends = [("torch CPU", "torch", cpu)]
            if float_path is not None:
                backends.append(("ORT CPU fp32", float_path, cpu))
            if int8_path is not None:
                backends.append(("ORT CPU INT8", int8_path, cpu))
        dw = args.decode_workers
        for k in args.crops:
            base_speed = base_scores = float_scores = None
            for label, source, options in backends:
                if source == "torch":
                    scorer = TorchScorer(net, crops=k, batch_size=args.batch, decode_workers=dw, **options)
                else:
                    scorer = OnnxScorer(source, crops=k, batch_size=args.batch, decode_workers=dw, **options)
                speed, scores = timed_scores(scorer, photos, args.warmup)
                if base_scores is None:
                    base_speed, base_scores = speed, scores
                if "fp32" in label and "ORT" in label:
                    float_scores = scores
                row = {
                    "config": name,
                    "crops": k,
                    "backend": label,
                    "runs_on": scorer.describe(),
                    "photos_per_s": speed,
                    "ratio": speed / base_speed,
                    "max_abs_diff": float(np.max(np.abs(scores - base_scores))),
                    "srcc_vs_float": srcc(scores, float_scores) if "INT8" in label else None,
                }
                rows.append(row)
                print(
                    f"  {name:<18} {k:>3} crops  {label:<16} {speed:8.3f} photos/s  x{row['ratio']:.2f}"
                    f"  max|d| {row['max_abs_diff']:.1e}"
                    + (f"  SRCC {row['srcc_vs_float']:.4f}" if row["srcc_vs_float"] is not None else "")
                    + f"  [{row['runs_on']}]",
                    flush=True,
                )
                del scorer
        del net
    print()
    print("| config | crops | backend | photos/s | ratio | max abs score diff | SRCC INT8 vs float |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in rows:
        s = f"{r['srcc_vs_float']:.4f}" if r["srcc_vs_float"] is not None else ""
        print(
            f"| {r['config']} | {r['crops']} | {r['backend']} | {r['photos_per_s']:.3f} | {r['ratio']:.2f}x"
            f" | {r['max_abs_diff']:.1e} | {s} |"
        )
    end_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n# load avg at the end {end_load:.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
