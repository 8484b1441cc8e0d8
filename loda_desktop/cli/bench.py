"""``loda bench``: end-to-end speed, time per stage, network-only ratio and peak memory per configuration.

    loda bench                                    # 8 generated 24-MP JPEGs, default model, onnx + torch, 5 crops
    loda bench --photos DIR --backends onnx onnx-int8 --crops 5 15 --repeat 5 --json out.json
    loda bench --threads 1 2 --decode-workers 1 2 --backends onnx      # choose thread counts

What is measured and how: :mod:`loda_desktop.bench`. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..bench import BACKENDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure scoring speed end to end, per stage and per backend (photos/s, peak memory, the machine)",
        description="Score the same photos with each configuration (every combination of the lists given), each "
        "in its own process, interleaved round after round, through the same engine as `loda score`; report "
        "photos/s end to end and of the network alone, milliseconds per photo of each stage, the time to the "
        "first score, peak memory and the machine. Exit status 1 when a configuration fails or misses a "
        "--min-* threshold.",
    )
    p.add_argument("--photos", type=Path, metavar="DIR", help="score the JPEGs in DIR instead of generated ones")
    p.add_argument("--count", type=int, default=8, metavar="N", help="photos to use or generate (default 8)")
    p.add_argument("--size", default="6000x4000", metavar="WxH", help="generated photos' size (default 24 MP)")
    p.add_argument("--workdir", type=Path, metavar="DIR", help="keep generated photos and exports here")
    p.add_argument("--model", default="default", metavar="M", help="model profile or config (default: default)")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, metavar="B", help=f"of {', '.join(BACKENDS)}")
    p.add_argument("--device", nargs="+", default=["cpu"], choices=["cpu", "cuda"], help="default: cpu")
    p.add_argument("--crops", nargs="+", type=int, default=[5], metavar="K", help="crops per photo (default 5)")
    p.add_argument("--detail-crops", nargs="+", type=int, metavar="K", help="detail crops (default: settings)")
    p.add_argument("--threads", nargs="+", type=int, default=[0], metavar="N", help="inference threads (0: default)")
    p.add_argument(
        "--decode-workers", nargs="+", type=int, default=[0], metavar="N", help="decoding threads (0: default)"
    )
    p.add_argument("--arena", nargs="+", default=["default"], choices=["default", "on", "off"], help="ORT CPU arena")
    p.add_argument("--batch", nargs="+", type=int, default=[32], metavar="B", help="crops per batch (default 32)")
    p.add_argument("--repeat", type=int, default=3, metavar="R", help="rounds over all configurations (default 3)")
    p.add_argument("--in-process", action="store_true", help="no child processes (peak RSS is then the whole run's)")
    p.add_argument("--min-photos-per-s", type=float, default=0.0, metavar="X", help="fail below X photos/s e2e")
    p.add_argument("--min-ratio", type=float, default=0.0, metavar="X", help="fail below X times network-only")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the whole report (every run) as JSON")
    p.set_defaults(func=cmd_bench)


def _configs(args: argparse.Namespace) -> list:
    import itertools

    from ..bench import BenchConfig
    from ..model_store import score_only

    backends = args.backends or (["onnx"] if score_only() else ["onnx", "torch"])
    grid = itertools.product(
        backends,
        args.device,
        args.crops,
        args.detail_crops or [None],
        args.threads,
        args.decode_workers,
        args.arena,
        args.batch,
    )
    return [BenchConfig(b, d, c, t, w, a, dc, n) for b, d, c, dc, t, w, a, n in grid]


def cmd_bench(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from ..bench import BenchError, check, format_report, make_photos, run_bench
    from ..errors import CommandError
    from ..scan import scan_many

    if args.count < 1 or args.repeat < 1 or min(args.batch) < 1:
        raise CommandError("--count, --repeat and --batch must be at least 1")
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        assert len(size) == 2 and min(size) > 0
    except (ValueError, AssertionError):
        raise CommandError(f"--size {args.size}: give WIDTHxHEIGHT, e.g. 6000x4000") from None
    configs = _configs(args)
    with tempfile.TemporaryDirectory(prefix="loda-bench-") as tmp:
        work = args.workdir or Path(tmp)
        if args.photos:
            photos = scan_many([args.photos])[: args.count]
            if not photos:
                raise CommandError(f"no photos in {args.photos}")
        else:
            print(f"Generating {args.count} photos of {size[0]}x{size[1]} in {work / 'photos'}", file=sys.stderr)
            photos = make_photos(work / "photos", args.count, size)  # type: ignore[arg-type]
        total = len(configs) * args.repeat

        def progress(n: int, result: dict) -> None:
            print(
                f"[{n}/{total}] {result['label']}: {result['e2e_photos_per_s']:.2f} photos/s end to end,"
                f" {result['net_photos_per_s']:.2f} network only",
                file=sys.stderr,
            )

        try:
            report = run_bench(
                configs,
                photos,
                model=args.model,
                repeat=args.repeat,
                workdir=work / "work",
                in_process=args.in_process,
                on_run=progress,
            )
        except BenchError as exc:
            raise CommandError(str(exc)) from None
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"Wrote {args.json}", file=sys.stderr)
    misses = check(report, min_photos_per_s=args.min_photos_per_s, min_ratio=args.min_ratio)
    for line in misses:
        print(f"loda bench: below the threshold: {line}", file=sys.stderr)
    return 1 if misses else 0
