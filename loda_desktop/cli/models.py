"""``loda models``: the model configs and trained profiles this machine knows, and which are ready to run.

Profile names, descriptions and paths are shown with their control characters escaped
(:func:`loda_desktop.text.printable`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list model configs and trained profiles, and which are ready here")
    p.add_argument("-v", "--verbose", action="store_true", help="also describe each config")
    p.set_defaults(func=cmd_models)


def _fmt_millions(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def cmd_models(args: argparse.Namespace) -> int:
    from ..model_store import model_search_dirs

    dirs = model_search_dirs()
    _print_configs(dirs, verbose=args.verbose)
    print()
    _print_profiles(dirs)
    return 0


def _print_configs(dirs: Sequence[Path], *, verbose: bool) -> None:
    import torch

    from model import create_model, get_config, list_configs
    from model.backbones import backbone_weight_files
    from model.loda import count_parameters

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
        if verbose and cfg.description:
            print(f"  {'':<20} {cfg.description}")


def _print_profiles(dirs: Sequence[Path]) -> None:
    from model.backbones import backbone_weight_files
    from model.profiles import find_broken, find_profiles

    from ..model_store import runnable
    from ..text import printable

    profiles = find_profiles(dirs)
    print("Profiles (trained models) in " + ", ".join(printable(d) for d in dirs) + ":")
    if not profiles:
        print("  none yet: train one with `loda train`, or fine-tune with `loda finetune`")
    for path, reason in find_broken(dirs):
        print(f"  {printable(path.name):<20} BROKEN, not used: {printable(reason)}")
        print(f"  {'':<20} {printable(path)}  (remove it: loda profiles delete {printable(path.name)})")
    for p in profiles:
        trained = p.metadata.get("trained_on")
        metrics = p.metadata.get("metrics") or {}
        shown = ", ".join(f"{printable(k)} {v:.3f}" for k, v in metrics.items() if isinstance(v, int | float))
        ready = "ready"
        if p.kind == "adapter" and not runnable(p, dirs):  # a fine-tune of a full parent takes the parent's
            found = zip((p.config.vit, p.config.cnn), backbone_weight_files(p.config, dirs), strict=True)
            missing = [name for name, where in found if where is None]
            if missing:
                ready = "needs backbone weights: " + ", ".join(printable(m) for m in missing)
        desc = trained.get("summary", trained.get("dataset")) if isinstance(trained, dict) else trained
        print(f"  {printable(p.name):<20} {printable(p.config.name):<20} {printable(p.kind):<8} {ready}")
        print(f"  {'':<20} trained on: {printable(desc or 'nothing (untrained)')}{'; ' + shown if shown else ''}")
        print(f"  {'':<20} {printable(p.path)}")
