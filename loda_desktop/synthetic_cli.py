"""``loda make-pool`` and ``loda make-synthetic``: build a labelled synthetic distortion dataset offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_make_pool(args: argparse.Namespace) -> int:
    from trainer.synthetic import prepare_pool

    written = prepare_pool(args.sources, args.out_dir, min_side=args.min_side, short_side=args.short_side)
    print(f"{len(written)} reference photos written to {args.out_dir}", file=sys.stderr)
    return 0


def cmd_make_synthetic(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from trainer.synthetic import make_synthetic

    bar = tqdm(unit="reference", disable=None, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        out = make_synthetic(
            args.src_dir,
            args.out_dir,
            types=args.types.split(",") if args.types else None,
            levels=args.levels,
            seed=args.seed,
            workers=args.workers,
            progress=progress,
        )
    finally:
        bar.close()
    print(f"Wrote {out}; train with: loda train --dataset csv --csv {out}", file=sys.stderr)
    return 0


def add_synthetic_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "make-pool",
        help="collect pristine reference photos (files, folders, Qt .rcc bundles), downscaled, as PNG",
    )
    p.add_argument("sources", nargs="+", type=Path, metavar="SRC", help="photo files, folders or .rcc bundles")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument("--min-side", type=int, default=400, help="skip pictures whose short side is smaller (400)")
    p.add_argument("--short-side", type=int, default=384, help="downscale to this short side (384)")
    p.set_defaults(func=cmd_make_pool)

    p = sub.add_parser(
        "make-synthetic",
        help="distort reference photos (23 types x 5 levels) and label them with a full-reference pseudo-MOS",
    )
    p.add_argument("src_dir", type=Path, metavar="SRC_DIR", help="folder of pristine reference photos")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="where images/ and synthetic.csv go")
    p.add_argument("--types", help="comma-separated distortion names (default: all)")
    p.add_argument("--levels", type=int, default=5, help="levels per distortion (1..5, default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU core)")
    p.set_defaults(func=cmd_make_synthetic)
