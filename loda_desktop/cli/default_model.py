"""The offline default model's pipeline (docs/default-model.md), one command a step: ``loda make-pool`` (pristine
reference photos), ``make-synthetic`` (their damaged copies, labelled), ``pretrain-vit`` (the project's own ViT),
``eval-synthetic`` (how well a trained model ranks them), ``make-default`` (the self-contained bundled profile) and
``train-detail`` (its detail head, for crops at the camera's resolution).
``loda train`` sits between pretrain-vit and eval-synthetic (:mod:`trainer.cli`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm


def _follow(bar: tqdm) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that moves a tqdm bar."""

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return progress


def cmd_make_pool(args: argparse.Namespace) -> int:
    from trainer.synthetic import SyntheticError, prepare_pool

    exclude: list[str] = []
    if args.exclude:
        try:
            lines = args.exclude.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SyntheticError(f"cannot read the exclusion list {args.exclude}: {exc.strerror}") from None
        exclude = [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]
    written = prepare_pool(
        args.sources, args.out_dir, min_side=args.min_side, short_side=args.short_side or None, exclude=exclude
    )
    print(f"{len(written)} reference photos written to {args.out_dir}", file=sys.stderr)
    return 0


def cmd_make_synthetic(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from trainer.synthetic import make_synthetic

    bar = tqdm(unit="reference", disable=None, file=sys.stderr)
    try:
        out = make_synthetic(
            args.src_dir,
            args.out_dir,
            types=args.types.split(",") if args.types else None,
            levels=args.levels,
            seed=args.seed,
            workers=args.workers,
            resume=args.resume,
            references=args.with_references,
            reference_weight=args.reference_weight,
            progress=_follow(bar),
        )
    finally:
        bar.close()
    print(f"Wrote {out}; train with: loda train --dataset csv --csv {out}", file=sys.stderr)
    return 0


def cmd_pretrain_vit(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from trainer.pretrain import PretrainConfig, pretrain_vit

    cfg = PretrainConfig(
        model=args.model,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        patch_drop=args.patch_drop,
        seed=args.seed,
        workers=args.workers,
        amp=args.amp,
    )
    bar = tqdm(total=cfg.steps, unit="step", disable=None, file=sys.stderr)

    def progress(step: int, total: int, loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.update(step - bar.n)

    try:
        record = pretrain_vit(args.csv, args.out, cfg, progress=progress)
    finally:
        bar.close()
    print(json.dumps(record["held_out"] | {"seconds": record["seconds"]}))
    print(f"Wrote {args.out}; use it with: loda train --model {cfg.model} --vit-weights {args.out}", file=sys.stderr)
    return 0


def cmd_eval_synthetic(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from trainer.synthetic import SyntheticError, evaluate_predictions

    from ..synthetic_eval import score_synthetic_table

    predictions, scored_with = args.predictions, None
    if predictions is not None and args.held_out:
        raise SyntheticError("--held-out picks the images to score with --model; leave PREDICTIONS out")
    if predictions is None:  # score the table's images with a model first
        held_out = (args.train_fraction, args.seed) if args.held_out else None
        bar = tqdm(disable=None, file=sys.stderr)
        try:
            predictions, model_name = score_synthetic_table(
                args.csv, args.model, args.crops, held_out, progress=_follow(bar)
            )
        finally:
            bar.close()
        scored_with = {"model": model_name, "crops": args.crops}
    report = evaluate_predictions(args.csv, predictions)
    if scored_with is not None:  # the crop count moves the numbers: the report says which it used
        report["scored_with"] = scored_with
    print(json.dumps(report, indent=2))
    return 0


def cmd_make_default(args: argparse.Namespace) -> int:
    from trainer.default_model import make_default

    out = make_default(args.trained, args.out, vit_weights=args.vit_weights, report=args.report, name=args.name)
    print(f"Wrote {out}", file=sys.stderr)
    return 0


def cmd_train_detail(args: argparse.Namespace) -> int:
    import json

    from trainer.detail import train_detail

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    report = train_detail(
        args.pool,
        args.base,
        args.out,
        hidden=args.hidden,
        steps=args.steps,
        pair_weight=args.pair_weight,
        workers=args.workers,
        cache=args.cache,
        progress=say,
    )
    print(json.dumps(report, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "make-pool",
        help="collect pristine reference photos (files, folders, Qt .rcc bundles), downscaled, as PNG",
    )
    p.add_argument("sources", nargs="+", type=Path, metavar="SRC", help="photo files, folders or .rcc bundles")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument("--min-side", type=int, default=400, help="skip pictures whose short side is smaller (400)")
    p.add_argument(
        "--short-side", type=int, default=384, help="downscale to this short side (384; 0 keeps the native size)"
    )
    p.add_argument("--exclude", type=Path, metavar="FILE", help="names (output stems) to leave out, one per line")
    p.set_defaults(func=cmd_make_pool)

    p = sub.add_parser(
        "make-synthetic",
        help="distort reference photos (25 types x 5 levels) and label them with a full-reference pseudo-MOS",
    )
    p.add_argument("src_dir", type=Path, metavar="SRC_DIR", help="folder of pristine reference photos")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="where images/ and synthetic.csv go")
    p.add_argument("--types", help="comma-separated distortion names (default: all)")
    p.add_argument("--levels", type=int, default=5, help="levels per distortion (1..5, default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU core)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the images OUT_DIR's CSV already lists and make only the missing ones (same seed)",
    )
    p.add_argument(
        "--with-references",
        action="store_true",
        help="also list each reference photo itself (distortion 'none', level 0), so training sees undamaged photos",
    )
    p.add_argument(
        "--reference-weight",
        type=int,
        default=1,
        metavar="W",
        help="with --with-references: draw each reference photo W times per training epoch (weight column; 1)",
    )
    p.set_defaults(func=cmd_make_synthetic)

    p = sub.add_parser(
        "pretrain-vit",
        help="pretrain a config's ViT from scratch on a make-synthetic table (distortion type + level)",
    )
    p.add_argument("csv", type=Path, metavar="CSV", help="the synthetic.csv that make-synthetic wrote")
    p.add_argument("out", type=Path, metavar="OUT", help="safetensors file to write")
    p.add_argument("--model", default="loda_lite", help="the LoDa config whose ViT to pretrain (loda_lite)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patch-drop", type=float, default=0.5, help="share of patch tokens dropped while training")
    p.add_argument("--seed", type=int, default=0, help="also picks the held-out photos, as loda train --seed")
    p.add_argument("--workers", type=int, default=1, help="image-decoding processes")
    p.add_argument("--amp", action="store_true", help="bfloat16 mixed precision for the training steps")
    p.set_defaults(func=cmd_pretrain_vit)

    p = sub.add_parser(
        "eval-synthetic",
        help="SRCC/PLCC and per-series SRCC of held-out predictions (loda train's test_predictions.csv)",
    )
    p.add_argument("csv", type=Path, metavar="CSV", help="the synthetic.csv that make-synthetic wrote")
    p.add_argument(
        "predictions",
        type=Path,
        nargs="?",
        metavar="PREDICTIONS",
        help="test_predictions.csv from loda train; without it, every image is scored with --model",
    )
    p.add_argument("--model", default="default", help="the model that scores the table (default: the app's)")
    p.add_argument("--crops", type=int, default=5, help="crops per image when scoring (5)")
    p.add_argument(
        "--held-out",
        action="store_true",
        help="with --model: score only the photos loda train holds out (same --seed and --train-fraction)",
    )
    p.add_argument("--seed", type=int, default=0, help="with --held-out: loda train's --seed (0)")
    p.add_argument("--train-fraction", type=float, default=0.8, help="with --held-out: loda train's (0.8)")
    p.set_defaults(func=cmd_eval_synthetic)

    p = sub.add_parser(
        "make-default",
        help="package a trained loda_lite profile as the self-contained offline default (backbones inside)",
    )
    p.add_argument("trained", type=Path, metavar="PROFILE", help="the profile loda train wrote")
    p.add_argument("out", type=Path, metavar="OUT", help="e.g. assets/models/loda-default.safetensors")
    p.add_argument("--vit-weights", type=Path, required=True, help="the ViT file loda pretrain-vit wrote")
    p.add_argument("--report", type=Path, required=True, help="the JSON loda eval-synthetic printed")
    p.add_argument("--name", default="loda-default", help="profile name (loda-default: the app's default)")
    p.set_defaults(func=cmd_make_default)

    p = sub.add_parser(
        "train-detail",
        help="train the detail head (crops at the camera's resolution) of a profile on a native-size photo pool",
    )
    p.add_argument("pool", type=Path, metavar="POOL", help="loda make-pool --short-side 0 output (native sizes)")
    p.add_argument("base", type=Path, metavar="PROFILE", help="the profile whose frozen network the head reads")
    p.add_argument("out", type=Path, metavar="OUT", help="the profile to write (the base plus the head)")
    p.add_argument("--hidden", type=int, default=64, help="the head's hidden width (64)")
    p.add_argument("--steps", type=int, default=3000, help="full-batch training steps (3000)")
    p.add_argument("--pair-weight", type=float, default=1.0, help="weight of the pair term (1.0)")
    p.add_argument("--workers", type=int, default=1, help="processes that make the crops (1)")
    p.add_argument("--cache", type=Path, help="an .npz that keeps the crops' labels and features between runs")
    p.set_defaults(func=cmd_train_detail)
