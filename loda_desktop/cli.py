"""``loda``: the headless command line. Same engine as the window.

Every command turns bad input into a one-line error on stderr and exit status 2 (usage) or 1 (failure);
tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__


class CommandError(Exception):
    """A failure the user can act on; printed without a traceback."""


def _fmt_millions(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def model_search_dirs() -> list[Path]:
    """Where profiles and backbone weights are looked for: the user's models folder, then bundled assets."""
    from .paths import models_dir

    bundled = Path(__file__).resolve().parent.parent / "assets" / "models"
    return [models_dir(), bundled]


def cmd_models(args: argparse.Namespace) -> int:
    import torch

    from model import create_model, get_config, list_configs
    from model.backbones import cached_weights
    from model.loda import count_parameters
    from model.profiles import find_profiles

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
            for role, timm_name in (("ViT", cfg.vit), ("CNN", cfg.cnn)):
                where = cached_weights(timm_name, dirs)
                status.append(f"{role} {timm_name}: {'present' if where else 'missing'}")
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
            missing = [n for n in (p.config.vit, p.config.cnn) if not cached_weights(n, dirs)]
            if missing:
                ready = "needs backbone weights: " + ", ".join(missing)
        desc = trained.get("summary", trained.get("dataset")) if isinstance(trained, dict) else trained
        print(f"  {p.name:<20} {p.config.name:<20} {p.kind:<8} {ready}")
        print(f"  {'':<20} trained on: {desc or 'nothing (untrained)'}{'; ' + shown if shown else ''}")
        print(f"  {'':<20} {p.path}")
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from model.backbones import BackboneWeightsError
    from model.configs import ConfigError
    from model.profiles import ProfileError

    try:
        return int(args.func(args) or 0)
    except (CommandError, ProfileError, ConfigError, BackboneWeightsError) as exc:
        print(f"loda {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"loda {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
