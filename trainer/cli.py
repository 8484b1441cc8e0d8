"""``loda train``: the paper's protocol on a dataset, from the command line.

Wire it into a parser with :func:`add_train_parser` (it registers the ``train`` subcommand and sets
``func=cmd_train``). Every problem the user can fix raises :class:`trainer.data.TrainError` with a one-line
message (dataset, config and backbone-weight errors are converted to it). Importing this module imports no torch.

It also runs on its own, which is how several GPUs are used before and after it is wired into ``loda``::

    torchrun --nproc_per_node 4 -m trainer.cli train --dataset koniq10k --root DATA/koniq10k ...
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .constants import METHODS
from .data import TrainError
from .datasets import DATASETS
from .presets import LIVE_LABELS, MODULES, PRESETS, VIT_NORMS

__all__ = ["TrainError", "add_train_parser", "cmd_train", "main"]

DATASET_CHOICES = tuple(DATASETS)
METHOD_CHOICES = METHODS

_EPILOG = """\
examples:
  loda train --dataset koniq10k --root DATA/koniq10k                  Table I, KonIQ-10k (10 repeats, medians)
  loda train --dataset kadid10k --root DATA/kadid10k --method lora    Table V, LoRA baseline
  loda train --dataset flive --root DATA/flive --test-dataset koniq10k --test-root DATA/koniq10k   Table II
  loda train --dataset csv --csv ratings.csv --model loda_tiny --epochs 2 --repeats 1 --out runs/try
  loda train ... --resume                                              continue an interrupted run
  loda train --dataset tid2013 --root DATA/tid2013 --preset official  the authors' released code's choices
see docs/training.md for every dataset's command and the expected time.
"""


def _number(cast: type, ok: Callable[[float], bool], rule: str) -> Callable[[str], Any]:
    """An argparse ``type``: ``cast(text)`` that must satisfy ``ok``; ``rule`` words the complaint."""
    kind = "a whole number" if cast is int else "a number"

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {value}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "must be at least 1")
_non_negative_int = _number(int, lambda v: v >= 0, "must not be negative")
_positive_float = _number(float, lambda v: v > 0, "must be positive")


def add_train_parser(
    subparsers: Any, *, search_dirs: Callable[[], Sequence[Path]] | None = None
) -> argparse.ArgumentParser:
    """Register ``train`` on an ``argparse`` subparsers object; ``search_dirs()`` lists folders searched for
    backbone weights (``<timm name>.safetensors``), e.g. the app's models folder."""
    p = subparsers.add_parser(
        "train",
        help="train LoDa (or a Table V baseline) with the paper's protocol and write metrics and model profiles",
        description="Train with the paper's protocol: random 80/20 splits (grouped by reference image for synthetic "
        "datasets), PLCC loss, AdamW, cosine schedule, evaluation on 15 crops, medians over repeats. "
        "Defaults are the paper's.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("data")
    g.add_argument("--dataset", required=True, choices=DATASET_CHOICES, help="which dataset reader")
    g.add_argument("--root", type=Path, metavar="DIR", help="dataset folder (for csv: base of relative paths)")
    g.add_argument(
        "--csv", type=Path, metavar="FILE", help="ratings table for --dataset csv (path,score[,group,split])"
    )
    g.add_argument("--lower-better", action="store_true", help="csv scores are lower-is-better (DMOS)")
    g.add_argument("--test-dataset", choices=DATASET_CHOICES, help="also score all of this dataset (Table II)")
    g.add_argument("--test-root", type=Path, metavar="DIR", help="folder of --test-dataset")
    g.add_argument("--test-csv", type=Path, metavar="FILE", help="ratings table when --test-dataset is csv")
    g.add_argument(
        "--live-labels",
        choices=LIVE_LABELS,
        help="LIVE's labels: dmos (dmos.mat) or realigned (dmos_realigned.mat, the authors'); default: the preset's",
    )
    g.add_argument(
        "--train-crops",
        type=_positive_int,
        metavar="N",
        help="random crops per image and epoch (default: 3 KonIQ/KADID/SPAQ, 1 FLIVE, 5 LIVEC/LIVE/TID2013/csv)",
    )
    g.add_argument("--test-crops", type=_positive_int, metavar="K", help="crops averaged per test image (15)")
    g.add_argument("--train-fraction", type=float, default=0.8, metavar="F", help="share used for training (0.8)")
    g.add_argument(
        "--cache",
        choices=["auto", "on", "off"],
        default="auto",
        help="keep resized images in memory (auto: when they fit in 4 GiB)",
    )
    g.add_argument(
        "--workers",
        type=_non_negative_int,
        metavar="N",
        help="DataLoader processes (default: 0 on CPU, min(8, cores/2) on CUDA)",
    )

    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        default="loda_vit_base_r50",
        metavar="CONFIG",
        help="config name (loda_vit_base_r50, loda_vit_small_r50, loda_vit_tiny_r50, loda_lite, loda_tiny; "
        "Table III: loda_vit_base_mae_r50, loda_vit_base_clip_r50, loda_vit_base_in1k_r50)",
    )
    g.add_argument(
        "--method",
        choices=METHOD_CHOICES,
        default="loda",
        help="loda, a Table V baseline on the same ViT, or cnn_head: a CNN-only control of this project's, not in "
        "the paper (default loda)",
    )
    g.add_argument(
        "--method-dim",
        type=_positive_int,
        metavar="N",
        help="baseline size: adapter bottleneck (64), LoRA rank (8), VPT prompts per layer (10)",
    )
    g.add_argument(
        "--vit",
        metavar="NAME",
        help="another timm ViT checkpoint in place of the config's (Table III), with its own normalisation",
    )
    g.add_argument(
        "--vit-norm",
        choices=VIT_NORMS,
        help="ViT input normalisation: checkpoint (its own; timm's) or imagenet (the authors'); default: the preset's",
    )
    g.add_argument(
        "--modules",
        choices=MODULES,
        help="project (q/k/v bias, cosine head with bias, truncated s_i init) or official (the authors' released "
        "modules); default: the preset's",
    )
    g.add_argument("--r", type=_positive_int, metavar="R", help="latent width r of extractor/injector (64)")
    g.add_argument("--heads", type=_positive_int, metavar="H", help="cross-attention heads h (4)")
    g.add_argument(
        "--injector",
        choices=("cross_attention", "add"),
        help="cross_attention (LoDa), or add: Table VI's 'w/o injector' ablation (distortion tokens added)",
    )
    g.add_argument("--n-interactions", type=_positive_int, metavar="N", help="injection points N (12)")
    g.add_argument("--pool", type=_positive_int, metavar="P", help="distortion token grid P×P (7)")
    g.add_argument("--dropout", type=float, metavar="P", help="dropout before the head (0.1)")
    g.add_argument("--img-size", type=_positive_int, metavar="S", help="crop size (224)")
    g.add_argument("--short-side", type=_positive_int, metavar="S", help="short side the images are resized to (384)")
    g.add_argument(
        "--bn",
        choices=["adapt", "frozen"],
        default="adapt",
        help="CNN BatchNorm statistics: adapt to the data (paper) or stay frozen",
    )
    g.add_argument("--vit-weights", type=Path, metavar="FILE", help="pretrained ViT weights (.safetensors)")
    g.add_argument("--cnn-weights", type=Path, metavar="FILE", help="pretrained CNN weights (.safetensors)")
    g.add_argument(
        "--init",
        type=Path,
        metavar="PROFILE",
        help="start from this profile's trained tensors (e.g. an earlier run's epoch_N.safetensors) instead of random",
    )
    g.add_argument(
        "--weights-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="folder holding <timm name>.safetensors backbone weights (repeatable)",
    )

    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=_positive_int, default=10, metavar="N", help="epochs (10)")
    g.add_argument("--batch", type=_positive_int, default=128, metavar="B", help="crops per optimisation step (128)")
    g.add_argument(
        "--micro-batch",
        type=_positive_int,
        metavar="M",
        help="crops per forward pass; B/M passes are accumulated, the loss stays the whole batch's PLCC",
    )
    g.add_argument("--lr", type=_positive_float, default=3e-4, metavar="LR", help="AdamW learning rate (3e-4)")
    g.add_argument("--weight-decay", type=float, default=0.01, metavar="WD", help="AdamW weight decay (0.01)")
    g.add_argument(
        "--rank-weight",
        type=float,
        default=0.0,
        metavar="W",
        help="add W × a within-group ordering term: of two images of one group in a batch, the better-labelled "
        "must score higher (0: the paper's PLCC loss alone)",
    )
    g.add_argument(
        "--pair-weight",
        type=float,
        default=0.0,
        metavar="W",
        help="add W × a pair term: a quarter of each batch's crops get a copy with faint noise or blur, which must "
        "score below its source (0: none)",
    )
    g.add_argument("--seed", type=_non_negative_int, default=0, metavar="S", help="seed of repeat 1 (repeat k: S+k-1)")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to train (auto)")
    g.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mixed precision for training (default: on with CUDA; on a CPU bfloat16, off unless asked; "
        "evaluation on a CPU stays float32)",
    )
    g.add_argument("--deterministic", action="store_true", help="deterministic CUDA kernels (slower)")

    g = p.add_argument_group("protocol and outputs")
    g.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default="default",
        help="default (this project's) or official: every choice of the authors' released code at once (ImageNet "
        "normalisation of the ViT, their modules, LIVE realigned DMOS, 10 TID2013 crops, LIVEC at 500 px); the "
        "switches above override it one by one (docs/training.md §10)",
    )
    g.add_argument(
        "--splits",
        type=Path,
        metavar="FILE",
        help="fixed train/test image lists per repeat (JSON, docs/training.md §10) instead of random splits",
    )
    g.add_argument(
        "--split-meta",
        type=Path,
        metavar="CSV",
        help="with --splits: the file is the authors' split pickle and CSV their meta-info file its rows number",
    )
    g.add_argument(
        "--repeats", type=_positive_int, default=10, metavar="N", help="random splits, medians reported (10)"
    )
    g.add_argument("--out", type=Path, metavar="DIR", help="output folder (default runs/DATASET-CONFIG[-METHOD])")
    g.add_argument("--resume", action="store_true", help="continue the run in --out after its last finished epoch")
    g.add_argument(
        "--eval-every",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="evaluate the test split every N epochs (the last epoch always); 0: never, for a run scored "
        "afterwards (loda eval-synthetic --held-out scores a synthetic table's split with ONNX Runtime)",
    )
    g.add_argument("--eval-init", action="store_true", help="also evaluate before training (epoch 0)")
    g.add_argument("--eval-batch", type=_positive_int, default=64, metavar="B", help="crops per evaluation batch")
    g.add_argument(
        "--calib-images",
        type=_positive_int,
        default=64,
        metavar="N",
        help="training images the score calibration is fitted on (64)",
    )
    g.add_argument(
        "--profiles",
        choices=["all", "last"],
        default="all",
        help="write a model profile every epoch (all) or only the last",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train, train_search_dirs=search_dirs)
    return p


def _config_from_args(args: argparse.Namespace) -> Any:
    from .train_config import TrainConfig

    dirs = [str(d) for d in args.weights_dir]
    if getattr(args, "train_search_dirs", None):
        dirs += [str(d) for d in args.train_search_dirs()]
    workers = args.workers
    if workers is None:
        workers = 0
        if args.device != "cpu":
            import torch

            if torch.cuda.is_available():
                workers = max(1, min(8, (os.cpu_count() or 2) // 2))
    return TrainConfig(
        model=args.model,
        method=args.method,
        r=args.r,
        heads=args.heads,
        injector=args.injector,
        n_interactions=args.n_interactions,
        pool=args.pool,
        dropout=args.dropout,
        img_size=args.img_size,
        short_side=args.short_side,
        epochs=args.epochs,
        batch=args.batch,
        micro_batch=args.micro_batch,
        lr=args.lr,
        weight_decay=args.weight_decay,
        rank_weight=args.rank_weight,
        pair_weight=args.pair_weight,
        train_crops=args.train_crops,
        test_crops=args.test_crops,
        train_fraction=args.train_fraction,
        repeats=args.repeats,
        seed=args.seed,
        bn=args.bn,
        method_dim=args.method_dim,
        device=args.device,
        amp=args.amp,
        workers=workers,
        cache=args.cache,
        eval_every=args.eval_every,
        eval_init=args.eval_init,
        eval_batch=args.eval_batch,
        calib_images=args.calib_images,
        profiles=args.profiles,
        vit_weights=str(args.vit_weights) if args.vit_weights else None,
        cnn_weights=str(args.cnn_weights) if args.cnn_weights else None,
        init=str(args.init) if args.init else None,
        search_dirs=tuple(dirs),
        progress=not args.no_progress,
        deterministic=args.deterministic,
        preset=args.preset,
        vit=args.vit,
        vit_norm=args.vit_norm,
        modules=args.modules,
        live_labels=args.live_labels,
        splits=str(args.splits) if args.splits else None,
        split_meta=str(args.split_meta) if args.split_meta else None,
    )


def _load(
    name: str, root: Path | None, table: Path | None, lower_better: bool, flag: str, live_labels: str = "dmos"
) -> list[Any]:
    from .datasets import DatasetError, load_dataset, read_csv_table

    try:
        if name == "csv":
            if table is None:
                raise TrainError(f"--{flag}dataset csv needs --{flag}csv FILE (the ratings table)")
            return read_csv_table(table, root, lower_better=lower_better)
        if table is not None:
            raise TrainError(f"--{flag}csv is only for --{flag}dataset csv")
        if root is None:
            raise TrainError(f"--{flag}dataset {name} needs --{flag}root DIR (the dataset's folder)")
        return load_dataset(name, root, live_labels=live_labels)
    except DatasetError as exc:
        raise TrainError(str(exc)) from None


def _setup_logging() -> None:
    logger = logging.getLogger("trainer")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def cmd_train(args: argparse.Namespace) -> int:
    """Run ``loda train``; returns the exit status. User-fixable problems raise :class:`TrainError`."""
    from model.errors import BackboneWeightsError

    _setup_logging()
    started = time.perf_counter()
    cfg = _config_from_args(args)
    cfg.validate()
    cfg = cfg.for_dataset(args.dataset)
    samples = _load(args.dataset, args.root, args.csv, args.lower_better, "", cfg.live_label_file())
    from .runtime import init_distributed
    from .train import run_protocol
    from .train_config import check_size

    check_size(samples, args.dataset)
    cross = {}
    if args.test_dataset:
        test = (args.test_dataset, args.test_root, args.test_csv, False, "test-", cfg.live_label_file())
        cross[args.test_dataset] = _load(*test)
    elif args.test_root or args.test_csv:
        raise TrainError("--test-root / --test-csv need --test-dataset")
    suffix = "" if cfg.method == "loda" else f"-{cfg.method}"
    out = args.out or Path("runs") / f"{args.dataset}-{cfg.model}{suffix}"
    dist = init_distributed(cfg.device)
    if dist.main:
        print(
            f"loda train: {args.dataset} ({len(samples)} images), {cfg.model} ({cfg.method}, {cfg.preset} preset), "
            f"{cfg.repeats} repeat(s)"
            f" of {cfg.epochs} epoch(s) → {out}",
            file=sys.stderr,
        )
    try:
        result = run_protocol(samples, cfg, out, dataset=args.dataset, cross=cross, resume=args.resume)
    except BackboneWeightsError as exc:
        raise TrainError(str(exc)) from None
    except KeyboardInterrupt:
        if dist.main:
            print(
                f"loda train: interrupted; `--resume --out {out}` continues after the last finished epoch",
                file=sys.stderr,
            )
        raise
    finally:
        if dist.world > 1:
            import torch.distributed

            if torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
    if dist.main:
        n = len(result.results)
        print(f"\nMedians over {n} repeat(s) ({args.dataset}, {cfg.model}, {cfg.method}):")
        print(result.table())
        print(
            f"\nWrote {out}/summary.json, metrics and profiles in {out}/repeat_*/ "
            f"({time.perf_counter() - started:.0f} s)"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trainer.cli train ...`` (the same command as ``loda train``)."""
    parser = argparse.ArgumentParser(prog="loda")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_train_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TrainError as exc:
        print(f"loda {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
