"""``loda``: the headless command line. Same engine as the window.

One module per command family declares its subcommands (``register``) and runs them:

- :mod:`.models` ``models``; :mod:`.score` ``score``; :mod:`.export_onnx` ``export-onnx``;
  :mod:`.finetune` ``finetune``; :mod:`.profiles` ``profiles``; :mod:`.xmp` ``xmp``; :mod:`.bench` ``bench``;
- :mod:`.default_model` the offline default model's pipeline: ``make-pool``, ``make-synthetic``,
  ``pretrain-vit``, ``eval-synthetic``, ``make-default``;
- ``train`` is declared and run by :mod:`trainer.cli` (also usable alone, under ``torchrun``).

:func:`main` is the one error handler: bad usage exits 2 (argparse), an error the user can act on
(:data:`loda_desktop.errors.USER_ERRORS`, a damaged catalog) is one line ``loda CMD: error: ...`` on stderr and
exit status 1, Ctrl+C exits 130. Tracebacks are for bugs only. Importing the package imports no torch: every
command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from .. import __version__
from . import bench, default_model, export_onnx, finetune, models, profiles, score, xmp

__all__ = ["PRO_ONLY_MODULES", "SelftestAction", "build_parser", "main"]

# what the score-only app (packaging/loda-desktop.spec) leaves out: a command that imports one says so in a line
PRO_ONLY_MODULES = frozenset({"torch", "torchvision", "timm", "scipy", "onnx"})


class SelftestAction(argparse.Action):
    """``--selftest`` (like ``--version``, no command needed): :func:`loda_desktop.selftest.run_selftest`'s
    line on stdout, or on stderr with exit status 1 when it failed."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from ..selftest import run_selftest

        result = run_selftest()
        print(result.line, file=sys.stdout if result.ok else sys.stderr)
        parser.exit(0 if result.ok else 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loda",
        description="LoDa Desktop, headless: score photos with the LoDa image-quality model, train and manage models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--selftest",
        action=SelftestAction,
        help="score the bundled demo photos with the default model, check the scores, print one line and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    from trainer.cli import add_train_parser

    from ..model_store import model_search_dirs

    models.register(sub)
    score.register(sub)
    add_train_parser(sub, search_dirs=model_search_dirs)
    export_onnx.register(sub)
    default_model.register(sub)
    finetune.register(sub)
    profiles.register(sub)
    xmp.register(sub)
    bench.register(sub)
    return parser


def user_message(exc: BaseException) -> str | None:
    """The one line ``loda`` prints for ``exc``, or None for a bug (which keeps its traceback).

    Besides :data:`~loda_desktop.errors.USER_ERRORS`: an SQLite error raised past the catalog's own checks (a
    catalog file damaged beyond its header, locked by another program). The catalog is the only database the
    commands open; a misuse of the sqlite3 API is still a bug."""
    from ..errors import USER_ERRORS

    if isinstance(exc, USER_ERRORS):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").partition(".")[0] in PRO_ONLY_MODULES:
        return f"this command needs {exc.name}, which the score-only LoDa Desktop leaves out: use LoDa Desktop Pro"
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.ProgrammingError):
        from ..paths import catalog_path

        return f"catalog {catalog_path()}: {exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"loda {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        message = user_message(exc)
        if message is None:
            raise
        from ..text import printable

        print(f"loda {args.command}: error: {printable(message)}", file=sys.stderr)
        return 1
