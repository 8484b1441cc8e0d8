"""``loda``: the headless command line. Same engine as the window.

Every command turns bad input into a one-line error on stderr and exit status 2 (usage) or 1 (failure);
tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__


class CommandError(Exception):
    """A failure the user can act on; printed without a traceback."""


def _fmt_millions(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def cmd_models(args: argparse.Namespace) -> int:
    import torch

    from model import create_model, get_config, list_configs
    from model.backbones import backbone_weight_files
    from model.loda import count_parameters
    from model.profiles import find_profiles

    from .engine import model_search_dirs

    dirs = model_search_dirs()
    print("Configs (network shapes; parameter counts from the architecture, no weights needed):")
    header = f"  {'name':<20} {'trainable':>10} {'frozen':>10}  backbone weights on this machine"
    print(header)
    for name in list_configs():
        cfg = get_config(name)
        with torch.device("meta"):
            net = create_model(cfg, pretrained=False)
        trainable, frozen = count_parameters(net)
        if cfg.pretrained:
            status = []
            vit_where, cnn_where = backbone_weight_files(cfg, dirs)
            vit_label = cfg.vit if cfg.vit_hub else f"{cfg.vit_local_name or cfg.vit} (loda pretrain-vit)"
            status.append(f"ViT {vit_label}: {'present' if vit_where else 'missing'}")
            status.append(f"CNN {cfg.cnn}: {'present' if cnn_where else 'missing'}")
            weights = "; ".join(status)
        else:
            weights = "random backbones (none needed; not a trained model)"
        print(f"  {name:<20} {_fmt_millions(trainable):>10} {_fmt_millions(frozen):>10}  {weights}")
        if args.verbose and cfg.description:
            print(f"  {'':<20} {cfg.description}")
    profiles = find_profiles(dirs)
    print()
    print("Profiles (trained models) in " + ", ".join(str(d) for d in dirs) + ":")
    if not profiles:
        print("  none yet: train one with `loda train`, or fine-tune with `loda finetune`")
    for p in profiles:
        trained = p.metadata.get("trained_on")
        metrics = p.metadata.get("metrics") or {}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, int | float))
        ready = "ready"
        if p.kind == "adapter":
            found = zip((p.config.vit, p.config.cnn), backbone_weight_files(p.config, dirs), strict=True)
            missing = [name for name, where in found if where is None]
            if missing:
                ready = "needs backbone weights: " + ", ".join(missing)
        desc = trained.get("summary", trained.get("dataset")) if isinstance(trained, dict) else trained
        print(f"  {p.name:<20} {p.config.name:<20} {p.kind:<8} {ready}")
        print(f"  {'':<20} trained on: {desc or 'nothing (untrained)'}{'; ' + shown if shown else ''}")
        print(f"  {'':<20} {p.path}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from .engine import Engine, EngineError, PhotoResult
    from .export import CSV_COLUMNS, write_csv
    from .settings import load_settings

    base = load_settings()
    try:
        overrides = {
            "model": args.model,
            "backend": args.backend,
            "device": args.device,
            "crops": args.crops,
            "batch_size": args.batch,
            "threads": args.threads,
        }
        settings = dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    scan_problems: list[tuple[Path, str]] = []
    engine = Engine(settings)
    paths = engine.scan(args.folders, on_error=lambda p, m: scan_problems.append((p, m)))
    for p, m in scan_problems:
        print(f"warning: {p}: {m}", file=sys.stderr)
    if not paths:
        print("No photos found in " + ", ".join(str(f) for f in args.folders), file=sys.stderr)
    bar = tqdm(total=len(paths), unit="photo", disable=None, file=sys.stderr, dynamic_ncols=True)

    def progress(result: PhotoResult) -> None:
        bar.update(1)
        if result.status == "error" and not result.cached and args.verbose:
            tqdm.write(f"failed: {result.path}: {result.error}", file=sys.stderr)

    try:
        summary = engine.score_paths(paths, on_result=progress, rescore=args.rescore)
    except EngineError as exc:
        raise CommandError(str(exc)) from None
    finally:
        bar.close()
    rows = engine.export_rows(paths)
    if args.csv == "-":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            writer.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in CSV_COLUMNS])
    elif args.csv:
        write_csv(rows, args.csv)
    if args.json:
        json.dump([r.to_dict() for r in rows], sys.stdout, indent=2, default=str)
        print()
    elif args.csv != "-":
        width = max([len("score"), *(len(f"{r.score:.4f}") for r in rows if r.score is not None)])
        for r in rows:
            if r.status == "ok":
                print(f"{r.rank:>5}  {r.score:>{width}.4f}  {r.path}")
            else:
                print(f"{'-':>5}  {'error':>{width}}  {r.path}: {r.error or 'not scored'}")
    sys.stdout.flush()
    print(summary.describe(), file=sys.stderr)
    if args.csv and args.csv != "-":
        print(f"Wrote {args.csv}", file=sys.stderr)
    if engine.notice:
        print(f"warning: {engine.notice}", file=sys.stderr)
    return 130 if summary.cancelled else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loda",
        description="LoDa Desktop, headless: score photos with the LoDa image-quality model, train and manage models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("models", help="list model configs and trained profiles, and which are ready here")
    p.add_argument("-v", "--verbose", action="store_true", help="also describe each config")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "score",
        help="score every photo under the folders (same engine and catalog as the window)",
        description="Score photos with LoDa. Photos already scored by the same model are taken from the catalog. "
        "Exits 0 when the batch ran, even if some files could not be scored (they get status=error).",
    )
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="folders (searched recursively) or photo files")
    p.add_argument("--csv", metavar="OUT", help="write the ranking as CSV to OUT ('-' for standard output)")
    p.add_argument("--json", action="store_true", help="print the ranking as JSON instead of a table")
    p.add_argument("--model", metavar="M", help="model profile name or file, or a config name (default: settings)")
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx"],
        help="inference backend; auto: ONNX Runtime on a CPU (the profile exported once, cached), else torch"
        " (default: settings, auto)",
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="cpu or cuda, either backend (default: settings)")
    p.add_argument("--crops", type=int, metavar="K", help="crops averaged per photo (default: settings, 5; paper: 15)")
    p.add_argument("--batch", type=int, metavar="B", help="crops per inference batch (default: settings, 32)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for inference (0: library default)")
    p.add_argument("--rescore", action="store_true", help="score again even photos the catalog already has")
    p.add_argument("-v", "--verbose", action="store_true", help="print each failure as it happens")
    p.set_defaults(func=cmd_score)

    from trainer.cli import add_train_parser

    from .engine import model_search_dirs
    from .finetune_cli import add_finetune_parser
    from .onnx_cli import add_export_parser
    from .profiles_cli import add_profiles_parser
    from .synthetic_cli import add_synthetic_parsers

    add_train_parser(sub, search_dirs=model_search_dirs)
    add_export_parser(sub)
    add_synthetic_parsers(sub)
    add_finetune_parser(sub)
    add_profiles_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .errors import USER_ERRORS

    try:
        return int(args.func(args) or 0)
    except (CommandError, *USER_ERRORS) as exc:
        print(f"loda {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"loda {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
