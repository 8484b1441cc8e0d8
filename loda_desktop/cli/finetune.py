"""``loda finetune``: fine-tune LoDa's adapter on the photographer's ratings, headless (same code as the window).

    loda finetune --folder DIR [--folder DIR ...] | --ratings FILE.csv   [--base M] --out NAME [--epochs N] ...

``--folder`` takes the stars and flags stored in the catalog for the photos under DIR; ``--ratings`` a
``path,rating`` CSV (0..5 stars, or pick / reject). The profile is written to the user's models folder as
``NAME.safetensors``; ``loda score --model NAME`` uses it, ``--activate`` makes it the window's model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer.finetune import FinetuneConfig, Rated


def _flag_value(text: str) -> int | None:
    if text.lower() in ("none", "ignore", "off"):
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"expected 1..5 or 'none', got {text!r}")
    return value


def cmd_finetune(args: argparse.Namespace) -> int:
    import dataclasses

    from tqdm import tqdm

    from trainer.finetune import (
        FinetuneCancelled,
        FinetuneProgress,
        RatingMap,
        check_minimums,
        check_name,
        finetune,
        samples_from_ratings,
    )

    from ..engine import EngineError, check_model
    from ..model_store import activate, model_search_dirs, resolve_model
    from ..paths import models_dir
    from ..ratings import capture_times
    from ..settings import load_settings
    from ..text import printable

    name = check_name(args.out)
    settings = load_settings()
    base = resolve_model(args.base or settings.model)
    rated, source = _read_ratings(args)
    mapping = RatingMap(pick=args.pick_as, reject=args.reject_as)
    samples = samples_from_ratings(rated, mapping)
    cfg = _config(args)
    check_minimums(samples, cfg.min_rated, cfg.min_distinct, mapping)
    out = models_dir() / f"{name}.safetensors"
    print(f"Fine-tuning {printable(base.name)} on {len(samples)} rated photos → {printable(out)}", file=sys.stderr)
    bar = tqdm(total=None, unit="step", disable=None, file=sys.stderr, dynamic_ncols=True, leave=False)

    def progress(p: FinetuneProgress) -> None:
        bar.total = p.steps
        bar.set_description(f"epoch {p.epoch}/{p.epochs} {p.phase}")
        bar.update(p.step - bar.n)
        if p.phase == "epoch":
            tqdm.write(f"epoch {p.epoch}: held-out SRCC {p.srcc:.4f}", file=sys.stderr)

    try:
        result = finetune(
            base,
            samples,
            out,
            name=name,
            cfg=cfg,
            search_dirs=model_search_dirs(),
            on_progress=progress,
            overwrite=args.overwrite,
            extra_trained_on=source,
            capture_times=capture_times([s.path for s in samples]),
        )
    except FinetuneCancelled:
        return 130
    finally:
        bar.close()
    print(
        f"held-out SRCC {result.srcc_before:.4f} (base {printable(base.name)}) → {result.srcc_after:.4f} "
        f"(best epoch {result.best_epoch} of {result.epochs_run}; "
        f"{result.n_train} trained on, {result.n_test} held out)"
    )
    try:  # loaded back by name and one photo scored, as `loda score --model NAME` and the window will
        check_model(dataclasses.replace(settings, model=name), samples[0].path)
    except EngineError as exc:
        raise EngineError(f"{result.path} was written but cannot be used: {exc}") from None
    print(f"Wrote {printable(result.path)}; score with: loda score --model {printable(name)}", file=sys.stderr)
    if not result.improved:
        print("warning: the fine-tuned model does not rank the held-out photos better than its base", file=sys.stderr)
    if args.activate:
        activate(name, settings)
        print(f"{printable(name)} is now the active model", file=sys.stderr)
    return 0


def _read_ratings(args: argparse.Namespace) -> tuple[list[Rated], dict[str, Any]]:
    """The rated photos (from ``--ratings`` or the catalog under ``--folder``) and where they came from, for the
    profile's ``trained_on``."""
    from trainer.finetune import read_ratings_csv

    from ..ratings import ratings_from_catalog

    if args.ratings:
        rated = read_ratings_csv(args.ratings)
        return rated, {"source": "csv", "ratings_file": str(Path(args.ratings).resolve())}
    rated = ratings_from_catalog(args.folder)
    return rated, {"source": "catalog", "folders": [str(Path(f).resolve()) for f in args.folder]}


def _config(args: argparse.Namespace) -> FinetuneConfig:
    """The fine-tuning settings: the defaults with the options given on the command line."""
    import dataclasses

    from trainer.finetune import FinetuneConfig

    overrides = {
        "epochs": args.epochs,
        "patience": args.patience,
        "batch": args.batch,
        "lr": args.lr,
        "train_crops": args.train_crops,
        "test_crops": args.test_crops,
        "held_out": args.held_out,
        "seed": args.seed,
        "device": args.device,
        "img_size": args.img_size,
        "short_side": args.short_side,
        "min_rated": args.min_rated,
    }
    return dataclasses.replace(FinetuneConfig(), **{k: v for k, v in overrides.items() if v is not None})


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune the model's adapter on your own ratings (catalog stars/flags or a path,rating CSV)",
        description="Fine-tune LoDa's adapter on the photographer's ratings and save a new model profile, a child of "
        "the base. A quarter of the ratings is held out to measure the SRCC before and after.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ratings", metavar="FILE.csv", help="CSV of path,rating (0..5, pick or reject)")
    src.add_argument(
        "--folder",
        action="append",
        metavar="DIR",
        help="ratings of the photos under DIR: the catalog's, else their XMP sidecars' (repeatable)",
    )
    p.add_argument("--base", metavar="M", help="profile to start from (default: the active model)")
    p.add_argument("--out", required=True, metavar="NAME", help="name of the new profile")
    p.add_argument("--epochs", type=int, metavar="N", help="at most N epochs (default 8; early stopping)")
    p.add_argument("--patience", type=int, metavar="N", help="stop after N epochs without improvement (3)")
    p.add_argument("--batch", type=int, metavar="B", help="crops per step (16)")
    p.add_argument("--lr", type=float, help="AdamW learning rate (3e-4)")
    p.add_argument("--train-crops", type=int, metavar="K", help="random crops per photo and epoch (3)")
    p.add_argument("--test-crops", type=int, metavar="K", help="crops averaged per held-out photo (the model's)")
    p.add_argument("--held-out", type=float, metavar="F", help="fraction of ratings held out (0.25)")
    p.add_argument("--seed", type=int, help="seed of the split and the training (0)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="torch device (auto)")
    p.add_argument("--img-size", type=int, metavar="PX", help="override the crop size (tests, tiny configs)")
    p.add_argument("--short-side", type=int, metavar="PX", help="override the resize short side")
    p.add_argument("--min-rated", type=int, metavar="N", help=argparse.SUPPRESS)
    p.add_argument("--pick-as", type=_flag_value, default=5, metavar="STARS", help="stars of a pick (5; 'none')")
    p.add_argument("--reject-as", type=_flag_value, default=1, metavar="STARS", help="stars of a reject (1; 'none')")
    p.add_argument("--overwrite", action="store_true", help="replace an existing profile of that name")
    p.add_argument("--activate", action="store_true", help="make the new profile the active model")
    p.set_defaults(func=cmd_finetune)
