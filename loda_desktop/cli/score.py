"""``loda score``: score every photo under the folders into the catalog and print or write the ranking.

The CSV, to a file or to standard output (``--csv -``), is :func:`loda_desktop.export.write_csv`'s, the window's
export: six decimals, empty cells for missing values, text cells a spreadsheet would run as a formula
neutralised. After scoring, the photos are grouped into bursts and ranked within them (:mod:`loda_desktop.bursts`:
the ``burst`` and ``burst_rank`` columns), and one line on standard error says what was found ("12 bursts of
2–7 frames; 3 within noise"). The table and the messages show names with their control characters escaped
(:func:`loda_desktop.text.printable`); ``--json`` has the real names, escaped by JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine import Engine, ScoreSummary
    from ..export import ExportRow
    from ..settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--detail-crops",
        type=int,
        metavar="D",
        help="crops at the photo's own resolution, combined with the global score (default: settings, 4; 0: off)",
    )
    p.add_argument("--batch", type=int, metavar="B", help="crops per inference batch (default: settings, 32)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for inference (0: library default)")
    p.add_argument("--rescore", action="store_true", help="score again even photos the catalog already has")
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="try again the photos that failed before (a file gone or unreadable is retried anyway once it is back"
        " or readable; an image that could not be decoded only with this flag or when the file changes)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print each failure as it happens")
    p.set_defaults(func=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from ..engine import Engine, PhotoResult
    from ..errors import CommandError
    from ..export import write_csv_stream
    from ..text import printable
    from .xmp import read_into_catalog

    scan_problems: list[tuple[Path, str]] = []
    engine = Engine(_settings(args))
    paths = engine.scan(args.folders, on_error=lambda p, m: scan_problems.append((p, m)))
    for p, m in scan_problems:
        print(f"warning: {printable(p)}: {printable(m)}", file=sys.stderr)
    if not paths:
        print("No photos found in " + ", ".join(printable(f) for f in args.folders), file=sys.stderr)
    try:
        read_into_catalog(paths, engine.catalog_path)  # ratings, flags, labels from XMP: in the CSV too (newest wins)
    except CommandError as exc:  # the catalog cannot be written: scoring still runs and says what was saved
        print(f"warning: {printable(str(exc))}", file=sys.stderr)
    bar = tqdm(total=len(paths), unit="photo", disable=None, file=sys.stderr, dynamic_ncols=True)

    def progress(result: PhotoResult) -> None:
        bar.update(1)
        if result.status == "error" and not result.cached and args.verbose:
            tqdm.write(f"failed: {printable(result.path)}: {printable(result.error)}", file=sys.stderr)

    try:
        summary = engine.score_paths(paths, on_result=progress, rescore=args.rescore, retry_errors=args.retry_failed)
    finally:
        bar.close()
    bursts = _assign_bursts(engine, paths, summary)
    rows = engine.export_rows(paths)
    if args.csv == "-":
        write_csv_stream(rows, sys.stdout)
    elif args.csv:
        _write_csv_file(rows, args.csv, summary)
    if args.json:
        json.dump([r.to_dict() for r in rows], sys.stdout, indent=2, default=str)
        print()
    elif args.csv != "-":
        _print_ranking(rows)
    sys.stdout.flush()
    print(printable(summary.describe()), file=sys.stderr)
    if bursts:
        print(bursts, file=sys.stderr)
    if args.csv and args.csv != "-":
        print(f"Wrote {printable(args.csv)}", file=sys.stderr)
    if engine.notice:
        print(f"warning: {printable(engine.notice)}", file=sys.stderr)
    if summary.save_problem:
        print(f"loda score: error: {printable(summary.save_problem)}", file=sys.stderr)
        return 1
    return 130 if summary.cancelled else 0


def _assign_bursts(engine: Engine, paths: Sequence[Path], summary: ScoreSummary) -> str:
    """Group the scored photos into bursts and rank them (the ``burst`` / ``burst_rank`` columns); one line saying
    what was found, or "" when the run was cancelled or the catalog could not be written."""
    import sqlite3

    from ..storage_errors import storage_problem

    if summary.cancelled or summary.save_problem or not paths:
        return ""
    try:
        return engine.assign_bursts(paths).describe()
    except sqlite3.OperationalError as exc:  # the catalog became full or read-only since: the scores stand
        problem = storage_problem(exc)
        if problem is None:
            raise
        return f"Bursts not saved: {problem.what}. ({problem.detail})"


def _write_csv_file(rows: Sequence[ExportRow], out: str, summary: ScoreSummary) -> None:
    """Write the CSV; a full disk or a folder that cannot be written is the user's to fix: one line, saying
    that the scores themselves are safe in the catalog (unless the catalog could not be written either)."""
    from ..errors import CommandError
    from ..export import write_csv
    from ..storage_errors import storage_problem

    try:
        write_csv(rows, out)
    except OSError as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        kept = "the scores are in the catalog" if not summary.save_problem else summary.save_problem
        raise CommandError(
            f"{problem.what} while writing the CSV {out}: it was not written ({kept}). {problem.advice} and run"
            f" the same command again: photos already scored are not scored twice. ({problem.detail})"
        ) from None


def _settings(args: argparse.Namespace) -> Settings:
    """The saved settings with the command line's overrides; a value out of range is the user's error."""
    from ..errors import CommandError
    from ..settings import load_settings

    overrides = {
        "model": args.model,
        "backend": args.backend,
        "device": args.device,
        "crops": args.crops,
        "detail_crops": args.detail_crops,
        "batch_size": args.batch,
        "threads": args.threads,
    }
    base = load_settings()
    try:
        return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _print_ranking(rows: Sequence[ExportRow]) -> None:
    """The ranking as a table: rank, score and path; a row without a score gives its reason. Control characters
    in a name or reason are escaped: one line per row, and no name can send the terminal an escape sequence."""
    from ..text import printable

    width = max([len("score"), *(len(f"{r.score:.4f}") for r in rows if r.score is not None)])
    for r in rows:
        if r.status == "ok":
            print(f"{r.rank:>5}  {r.score:>{width}.4f}  {printable(r.path)}")
        else:
            print(f"{'-':>5}  {'error':>{width}}  {printable(r.path)}: {printable(r.error or 'not scored')}")
