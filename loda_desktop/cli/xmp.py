"""``loda xmp {read,write}``: ratings, flags and colour labels between the catalog and XMP sidecars
(:mod:`loda_desktop.sidecar_sync`), the window's File ▸ Write XMP Sidecars and its reading on open.

``read`` takes what the photos' sidecars and embedded XMP say into the catalog (newest wins; what replaced a
value set in the app is counted and logged), as ``loda score`` and the window do when they list a folder.
``write`` merges each photo's catalog values into its sidecar, in the layout given or the ``xmp_sidecars``
setting. Exit status 1 when a sidecar could not be written; the others are still written.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..sidecar_sync import ImportReport

LAYOUTS = ("lightroom", "darktable")  # sidecar_sync.WRITE_LAYOUTS, without importing the catalog to parse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "xmp",
        help="read or write XMP sidecars: ratings, flags and colour labels (Lightroom, darktable, digiKam...)",
        description="Ratings, pick/reject flags and colour labels between the catalog and XMP. Photos themselves "
        "are never written; an existing sidecar is merged (other applications' fields are kept).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    r = actions.add_parser(
        "read", help="read the photos' sidecars and embedded XMP into the catalog (the newer of the two wins)"
    )
    r.add_argument("folders", nargs="+", metavar="FOLDER", help="folders (searched recursively) or photo files")
    w = actions.add_parser("write", help="write the catalog's ratings, flags and labels to XMP sidecars")
    w.add_argument("folders", nargs="+", metavar="FOLDER", help="folders (searched recursively) or photo files")
    w.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="lightroom: NAME.xmp (Lightroom, Bridge, Capture One); darktable: NAME.EXT.xmp (darktable, digiKam)"
        " (default: the xmp_sidecars setting)",
    )
    p.set_defaults(func=cmd_xmp)


def _scan(folders: Sequence[str]) -> list[Path]:
    from ..errors import CommandError
    from ..scan import ScanError, scan_many
    from ..text import printable

    try:
        return scan_many(
            folders, on_error=lambda p, m: print(f"warning: {printable(p)}: {printable(m)}", file=sys.stderr)
        )
    except ScanError as exc:
        raise CommandError(str(exc)) from None


def read_into_catalog(paths: Sequence[Path], catalog_path: Path | None = None) -> ImportReport:
    """Catalog ``paths`` and read their XMP (``loda xmp read`` and ``loda score``); prints the one-line report
    on standard error when there is something to say."""
    from ..catalog import Catalog
    from ..errors import CommandError
    from ..sidecar_sync import import_xmp
    from ..storage_errors import storage_problem
    from ..text import printable

    try:
        with Catalog(catalog_path) as catalog:
            catalog.add_photos(paths)
            report = import_xmp(catalog, paths)
    except sqlite3.OperationalError as exc:  # a full disk or a read-only catalog: one line, nothing half-read
        problem = storage_problem(exc)
        if problem is None:
            raise
        raise CommandError(
            f"{problem.what} while reading XMP into the catalog: nothing was read. {problem.advice}. ({problem.detail})"
        ) from None
    if report.describe():
        print(printable(report.describe()), file=sys.stderr)
    for source, reason in report.problems:
        print(f"warning: XMP {printable(source)} ignored: {printable(reason)}", file=sys.stderr)
    return report


def cmd_xmp(args: argparse.Namespace) -> int:
    from ..catalog import Catalog
    from ..errors import CommandError
    from ..settings import load_settings
    from ..sidecar_sync import write_sidecars
    from ..text import printable

    paths = _scan(args.folders)
    if not paths:
        print("No photos found in " + ", ".join(printable(f) for f in args.folders), file=sys.stderr)
        return 0
    if args.action == "read":
        report = read_into_catalog(paths)
        if not report.describe():
            print(f"No new ratings, flags or labels in the XMP of {len(paths):,} photos.", file=sys.stderr)
        return 0
    layout = args.layout or load_settings().xmp_sidecars
    if layout not in LAYOUTS:
        raise CommandError("choose --layout lightroom or --layout darktable (the xmp_sidecars setting is off)")
    with Catalog() as catalog:
        catalog.add_photos(paths)
        report = write_sidecars(catalog, paths, layout)
    for target, reason in report.problems:
        print(f"not written: {printable(target)}: {printable(reason)}", file=sys.stderr)
    print(printable(report.describe()), file=sys.stderr)
    return 1 if report.problems else 0
