"""``loda export-onnx``: write a model as one self-describing ONNX file for the torch-free ONNX Runtime backend.

    loda export-onnx --model M --out FILE.onnx [--int8] [--opset N]
    loda score FOLDER --backend onnx --model FILE.onnx

``--model`` is resolved exactly like ``loda score --model``. Importing this module imports no torch: the parser
is registered in every ``loda`` run, and torch is loaded only when an export actually runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model.constants import DEFAULT_OPSET


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export-onnx",
        help="export a model to ONNX for the ONNX Runtime backend (scoring without torch)",
        description="Export the whole LoDa network (both backbones and the adapter) to one ONNX file with a "
        "dynamic batch axis. The model profile's metadata (name, preprocessing, score range and calibration) "
        "travels inside the file; score with `loda score FOLDER --backend onnx --model FILE.onnx`.",
    )
    p.add_argument(
        "--model", metavar="M", help="model profile name or file, or a config name (default: settings, as for score)"
    )
    p.add_argument("--out", metavar="FILE", required=True, help="the .onnx file to write (replaced atomically)")
    p.add_argument(
        "--int8",
        action="store_true",
        help="dynamic INT8 quantization of the linear layers: faster on CPU, scores drift slightly "
        "(the file gets the profile name NAME-int8)",
    )
    p.add_argument(
        "--opset", type=int, default=DEFAULT_OPSET, metavar="N", help=f"ONNX opset (default {DEFAULT_OPSET})"
    )
    p.set_defaults(func=cmd_export_onnx)
    return p


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from ..errors import CommandError
    from ..model_store import model_search_dirs, resolve_model, untrained_notice
    from ..settings import load_settings

    out = Path(args.out)
    if out.suffix.lower() != ".onnx":
        raise CommandError(f"--out {out}: the file name must end in .onnx")
    if out.is_dir():
        raise CommandError(f"--out {out}: is a folder; give a file name ending in .onnx")
    spec = args.model or load_settings().model
    profile = resolve_model(spec)
    if profile.path is not None and profile.path.suffix.lower() == ".onnx":
        raise CommandError(f"{profile.path} is already an ONNX model; export from its profile or config instead")

    from model.onnx_export import OnnxExportError, export_onnx
    from model.profiles import load_model

    from ..text import printable

    started = time.perf_counter()
    model = load_model(profile, search_dirs=model_search_dirs())
    try:
        path = export_onnx(model, profile, out, opset=args.opset, int8=args.int8)
    except OnnxExportError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc}") from None
    size = path.stat().st_size / 1e6
    kind = "INT8 (dynamic quantization)" if args.int8 else "float32"
    print(
        f"Wrote {printable(path)} ({size:.1f} MB, {kind}, opset {args.opset}) from '{printable(profile.name)}' in"
        f" {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    print(f"Score with: loda score FOLDER --backend onnx --model {printable(path)}", file=sys.stderr)
    notice = untrained_notice(profile)
    if notice:
        print(f"warning: {printable(notice)}", file=sys.stderr)
    return 0
