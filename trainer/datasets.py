"""Readers for the seven IQA datasets of the LoDa paper and for a generic ratings CSV.

Every reader returns a list of :class:`Sample` whose ``score`` is normalised to [0, 1] with **higher always
meaning better**, and checks that every listed image exists on disk. Any problem (missing folder or label
file, missing column, unparsable number, missing image, empty dataset) raises :class:`DatasetError` with a
message naming the file, the row and what was expected. This module imports neither torch nor Qt.

Normalisation: for the paper's datasets the dataset's nominal scale ``(lo, hi)`` (``SCALES``) is mapped
linearly to [0, 1] (``(x - lo) / (hi - lo)``, or ``(hi - x) / (hi - lo)`` for lower-is-better DMOS). Should a
file hold a value outside the nominal scale (LIVE's DMOS can exceed 100), the range is widened to include it,
so the order of the scores is never lost and every score stays in [0, 1]. A generic CSV has no nominal
scale and is min-max normalised over the file (see :func:`read_csv_table`).

========  =======================  =========  ======================  ===============================
name      nominal scale            direction  normalised to [0, 1]    group
========  =======================  =========  ======================  ===============================
koniq10k  MOS 1–5                  higher     (x - 1) / 4             None
kadid10k  ``dmos`` column, 1–5 (a) higher     (x - 1) / 4             ``ref_img``
live      DMOS 0–100               lower      (100 - x) / 100 (b)     reference name (``refnames_all``)
tid2013   MOS 0–9                  higher     x / 9                   reference id (``i01``)
livec     MOS 0–100                higher     x / 100                 None
spaq      MOS 0–100                higher     x / 100                 None
flive     MOS 0–100                higher     x / 100                 None
csv       any                      higher (c) min-max over the file  ``group`` column
========  =======================  =========  ======================  ===============================

(a) KADID-10k's ``dmos`` column is really a MOS (5 = best): it is not flipped.
(b) widened when a DMOS exceeds 100, as described above.
(c) ``lower_better=True`` flips it (DMOS tables).

Each reader's docstring names the files it reads, relative to the dataset root.

The training crops per dataset (``TRAIN_CROPS``, :func:`train_crops_for_size`) are a protocol choice and live in
:mod:`trainer.presets`; they are re-exported here for older callers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .presets import LIVE_LABELS, TRAIN_CROPS, train_crops_for_size

__all__ = [
    "DATASETS",
    "LIVEC_SKIP",
    "LIVE_FOLDERS",
    "SCALES",
    "SYNTHETIC",
    "TRAIN_CROPS",
    "DatasetError",
    "Reader",
    "Sample",
    "load_dataset",
    "read_csv_table",
    "read_flive",
    "read_kadid10k",
    "read_koniq10k",
    "read_live",
    "read_livec",
    "read_spaq",
    "read_tid2013",
    "train_crops_for_size",
]


@dataclass(frozen=True)
class Sample:
    """One labelled image.

    ``score`` is in [0, 1], higher is better. ``group`` is the reference/content id used for grouped splits
    (None for authentic datasets). ``split`` is an explicit "train"/"test" assignment from a CSV, or None.
    ``weight`` is how many times the image is drawn per training epoch (a CSV's ``weight`` column; 1 elsewhere);
    evaluation counts every image once.
    """

    path: Path
    score: float
    group: str | None = None
    split: str | None = None
    weight: int = 1


class DatasetError(Exception):
    """A dataset cannot be read; the message says which file, which row and what was expected."""


Reader = Callable[..., list[Sample]]

# Nominal score scales (lo, hi) and whether lower is better, per dataset.
SCALES: dict[str, tuple[float, float, bool]] = {
    "koniq10k": (1.0, 5.0, False),
    "kadid10k": (1.0, 5.0, False),
    "live": (0.0, 100.0, True),
    "tid2013": (0.0, 9.0, False),
    "livec": (0.0, 100.0, False),
    "spaq": (0.0, 100.0, False),
    "flive": (0.0, 100.0, False),
}

SYNTHETIC: frozenset[str] = frozenset({"live", "tid2013", "kadid10k"})

# LIVE Release 2: sub-folders in the order of dmos.mat, and how many images each holds.
LIVE_FOLDERS: tuple[tuple[str, int], ...] = (
    ("jp2k", 227),
    ("jpeg", 233),
    ("wn", 174),
    ("gblur", 174),
    ("fastfading", 174),
)

# LIVE Challenge: the first entries of the .mat files are the 7 training images the authors exclude.
LIVEC_SKIP = 7

_MAX_LISTED = 5  # how many missing images an error message lists before "and N more"


# --------------------------------------------------------------------------------------------- helpers


def _dir(root: Path | str, dataset: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{dataset}: dataset folder not found: {root}")
    return root


def _image_dir(path: Path, dataset: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{dataset}: image folder not found: {path}")
    return path


def _file(path: Path, dataset: str, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{dataset}: {what} not found: {path}")
    return path


def _float(text: object, source: Path, where: str, column: str) -> float:
    try:
        value = float(text if isinstance(text, (int, float)) else str(text).strip())
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DatasetError(f"{source}, {where}: {column} {text!r} is not a finite number")
    return value


def _normalise(values: Sequence[float], lo: float, hi: float, lower_better: bool) -> list[float]:
    """Nominal-scale normalisation to [0, 1], widened to the data's range when values fall outside it."""
    lo = min(lo, *values)
    hi = max(hi, *values)
    span = hi - lo
    if lower_better:
        return [(hi - v) / span for v in values]
    return [(v - lo) / span for v in values]


def _check_exists(paths: Iterable[tuple[Path, str]], label_file: Path, dataset: str) -> None:
    """Raise one DatasetError listing (up to a few of) the images that are listed but missing."""
    missing = [(p, where) for p, where in paths if not p.is_file()]
    if not missing:
        return
    shown = "; ".join(f"{where}: {p}" for p, where in missing[:_MAX_LISTED])
    more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
    raise DatasetError(f"{dataset}: {len(missing)} image(s) listed in {label_file} are missing on disk ({shown}{more})")


def _read_table(path: Path, dataset: str) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """A delimited text table with a header: (lower-cased column name -> index, [(line number, cells)])."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise DatasetError(f"{dataset}: cannot read {path}: {exc}") from exc
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first:
        raise DatasetError(f"{dataset}: {path} is empty (a header row is required)")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(lines, dialect)
    header: dict[str, int] | None = None
    rows: list[tuple[int, list[str]]] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = {c.strip().lower(): i for i, c in enumerate(cells)}
            continue
        rows.append((reader.line_num, cells))
    if header is None:
        raise DatasetError(f"{dataset}: {path} has no header row (only empty cells)")
    return header, rows


def _optional_column(header: dict[str, int], names: Sequence[str]) -> int | None:
    return next((header[n.lower()] for n in names if n.lower() in header), None)


def _column(header: dict[str, int], names: Sequence[str], path: Path, dataset: str) -> int:
    index = _optional_column(header, names)
    if index is not None:
        return index
    wanted = " or ".join(repr(n) for n in names)
    found = ", ".join(repr(h) for h in header) or "nothing"
    raise DatasetError(f"{dataset}: {path} has no {wanted} column (its header has {found})")


def _cell(cells: list[str], index: int, path: Path, line: int, column: str) -> str:
    if index >= len(cells):
        raise DatasetError(f"{path}, line {line}: the row has no {column!r} value ({len(cells)} cells)")
    return cells[index].strip()


def _mat_strings(array, source: Path, key: str) -> list[str]:
    """Flatten a MATLAB cell array of strings (as scipy.io.loadmat returns it) to Python strings."""
    import numpy as np

    out = []
    for i, item in enumerate(np.asarray(array, dtype=object).ravel()):
        value = item
        while isinstance(value, np.ndarray):
            if value.size != 1 and value.dtype.kind not in "US":
                raise DatasetError(f"{source}: entry {i + 1} of {key!r} is not a string")
            value = value.ravel()[0] if value.size else ""
        out.append(str(value).strip())
    return out


def _loadmat(path: Path, keys: Sequence[str], dataset: str) -> dict:
    import scipy.io

    _file(path, dataset, "label file")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises several types for a corrupt or non-.mat file
        raise DatasetError(f"{dataset}: cannot read {path} as a MATLAB .mat file: {exc}") from exc
    for key in keys:
        if key not in mat:
            found = ", ".join(k for k in mat if not k.startswith("__")) or "nothing"
            raise DatasetError(f"{dataset}: {path} has no variable {key!r} (it holds {found})")
    return mat


def _mat_numbers(array, source: Path, key: str) -> list[float]:
    import numpy as np

    try:
        flat = np.asarray(array, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{source}: variable {key!r} is not numeric") from exc
    for i, v in enumerate(flat):
        if not math.isfinite(v):
            raise DatasetError(f"{source}: entry {i + 1} of {key!r} is {v}, not a finite number")
    return [float(v) for v in flat]


def _build(dataset: str, label_file: Path, entries: list[tuple[Path, float, str | None, str]]) -> list[Sample]:
    """entries: (image path, raw score, group, where-in-label-file). Normalise with SCALES and check files."""
    if not entries:
        raise DatasetError(f"{dataset}: no images listed in {label_file}")
    lo, hi, lower_better = SCALES[dataset]
    scores = _normalise([e[1] for e in entries], lo, hi, lower_better)
    _check_exists(((e[0], e[3]) for e in entries), label_file, dataset)
    return [Sample(path=e[0], score=s, group=e[2]) for e, s in zip(entries, scores, strict=True)]


# ------------------------------------------------------------------------------------------ generic CSV


def read_csv_table(
    csv_path: Path | str,
    root: Path | str | None = None,
    *,
    normalise: bool = True,
    lower_better: bool = False,
) -> list[Sample]:
    """Read a generic ratings table.

    A header row is required; columns (case-insensitive): ``path`` (or ``image``), ``score`` (or ``mos``),
    optional ``group``, optional ``split`` (``train``/``test``; a blank cell means unassigned) and optional
    ``weight`` (a whole number ≥ 1: how many times the row is drawn per training epoch; blank means 1). Comma,
    semicolon and tab delimiters are accepted. Relative paths resolve against ``root`` (default: the CSV's
    folder).

    ``normalise=True`` (the default) min-max normalises the scores over the file to [0, 1]
    (``(x - min) / (max - min)``, or ``(max - x) / (max - min)`` with ``lower_better=True``, e.g. for DMOS
    tables); it needs at least two distinct scores. ``normalise=False`` means the scores are already in
    [0, 1]: they are checked to be and kept (``1 - x`` with ``lower_better=True``).
    """
    dataset = "csv"
    path = Path(csv_path).expanduser()
    _file(path, dataset, "ratings table")
    base = Path(root).expanduser() if root is not None else path.parent
    if root is not None and not base.is_dir():
        raise DatasetError(f"csv: image root folder not found: {base}")
    header, rows = _read_table(path, dataset)
    i_path = _column(header, ("path", "image"), path, dataset)
    i_score = _column(header, ("score", "mos"), path, dataset)
    i_group = _optional_column(header, ("group",))
    i_split = _optional_column(header, ("split",))
    i_weight = _optional_column(header, ("weight",))

    entries: list[tuple[Path, float, str | None, str | None, str, int]] = []
    for line, cells in rows:
        where = f"line {line}"
        name = _cell(cells, i_path, path, line, "path")
        if not name:
            raise DatasetError(f"{path}, {where}: empty path")
        score = _float(_cell(cells, i_score, path, line, "score"), path, where, "score")
        group = (cells[i_group].strip() or None) if i_group is not None and i_group < len(cells) else None
        split = None
        if i_split is not None and i_split < len(cells) and cells[i_split].strip():
            split = cells[i_split].strip().lower()
            if split not in ("train", "test"):
                raise DatasetError(f"{path}, {where}: split {cells[i_split]!r} must be 'train', 'test' or blank")
        weight = 1
        if i_weight is not None and i_weight < len(cells) and cells[i_weight].strip():
            text = cells[i_weight].strip()
            if not text.isdigit() or int(text) < 1:
                raise DatasetError(f"{path}, {where}: weight {text!r} must be a whole number of at least 1")
            weight = int(text)
        image = Path(name).expanduser()
        entries.append((image if image.is_absolute() else base / image, score, group, split, where, weight))
    if not entries:
        raise DatasetError(f"csv: no rows below the header of {path}")

    raw = [e[1] for e in entries]
    if normalise:
        lo, hi = min(raw), max(raw)
        if hi == lo:
            raise DatasetError(
                f"{path}: all {len(raw)} scores equal {lo:g}; min-max normalisation needs at least two "
                "distinct scores (pass normalise=False if the scores are already in [0, 1])"
            )
        scores = _normalise(raw, lo, hi, lower_better)
    else:
        for e in entries:
            if not 0.0 <= e[1] <= 1.0:
                raise DatasetError(
                    f"{path}, {e[4]}: score {e[1]:g} is outside [0, 1] (with normalise=False the scores "
                    "must already be in [0, 1])"
                )
        scores = [1.0 - v for v in raw] if lower_better else list(raw)
    _check_exists(((e[0], e[4]) for e in entries), path, dataset)
    return [
        Sample(path=e[0], score=s, group=e[2], split=e[3], weight=e[5]) for e, s in zip(entries, scores, strict=True)
    ]


# ----------------------------------------------------------------------------------- paper's datasets


def read_koniq10k(root: Path | str) -> list[Sample]:
    """KonIQ-10k: ``koniq10k_scores_and_distributions.csv`` (``image_name``, ``MOS`` 1–5), ``1024x768/``."""
    dataset = "koniq10k"
    root = _dir(root, dataset)
    label = _file(root / "koniq10k_scores_and_distributions.csv", dataset, "label file")
    images = _image_dir(root / "1024x768", dataset)
    header, rows = _read_table(label, dataset)
    i_name = _column(header, ("image_name",), label, dataset)
    i_mos = _column(header, ("MOS",), label, dataset)
    entries = []
    for line, cells in rows:
        name = _cell(cells, i_name, label, line, "image_name")
        mos = _float(_cell(cells, i_mos, label, line, "MOS"), label, f"line {line}", "MOS")
        entries.append((images / name, mos, None, f"line {line}"))
    return _build(dataset, label, entries)


def read_kadid10k(root: Path | str) -> list[Sample]:
    """KADID-10k: ``dmos.csv`` (``dist_img``, ``ref_img``, ``dmos`` 1–5, higher better), ``images/``."""
    dataset = "kadid10k"
    root = _dir(root, dataset)
    label = _file(root / "dmos.csv", dataset, "label file")
    images = _image_dir(root / "images", dataset)
    header, rows = _read_table(label, dataset)
    i_dist = _column(header, ("dist_img",), label, dataset)
    i_ref = _column(header, ("ref_img",), label, dataset)
    i_mos = _column(header, ("dmos",), label, dataset)
    entries = []
    for line, cells in rows:
        name = _cell(cells, i_dist, label, line, "dist_img")
        ref = _cell(cells, i_ref, label, line, "ref_img")
        mos = _float(_cell(cells, i_mos, label, line, "dmos"), label, f"line {line}", "dmos")
        entries.append((images / name, mos, ref or None, f"line {line}"))
    return _build(dataset, label, entries)


def read_live(root: Path | str, labels: str = "dmos") -> list[Sample]:
    """LIVE Release 2: ``dmos.mat`` (``dmos``, ``orgs``) + ``refnames_all.mat`` over the 982 ``imgN.bmp`` of the
    five folders (:data:`LIVE_FOLDERS`, in the order of ``dmos.mat``).

    ``labels="realigned"`` takes the DMOS from ``dmos_realigned.mat`` (``dmos_new``, the realigned DMOS of
    LIVE's authors, which the LoDa authors' preprocessing uses) instead of ``dmos.mat``'s ``dmos``; ``orgs``
    still comes from ``dmos.mat``. DMOS (lower is better) is flipped; the reference copies (``orgs == 1``) are
    dropped, leaving the 779 distorted images; group = refname.
    """
    dataset = "live"
    if labels not in LIVE_LABELS:
        raise DatasetError(f"{dataset}: labels must be one of {', '.join(LIVE_LABELS)}, got {labels!r}")
    root = _dir(root, dataset)
    dmos_file = root / "dmos.mat"
    ref_file = root / "refnames_all.mat"
    mat = _loadmat(dmos_file, ("dmos", "orgs"), dataset)
    refs_mat = _loadmat(ref_file, ("refnames_all",), dataset)
    orgs = _mat_numbers(mat["orgs"], dmos_file, "orgs")
    if labels == "realigned":
        dmos_file, dmos_var = root / "dmos_realigned.mat", "dmos_new"
        dmos = _mat_numbers(_loadmat(dmos_file, (dmos_var,), dataset)[dmos_var], dmos_file, dmos_var)
    else:
        dmos_var = "dmos"
        dmos = _mat_numbers(mat["dmos"], dmos_file, dmos_var)
    refs = _mat_strings(refs_mat["refnames_all"], ref_file, "refnames_all")
    expected = sum(n for _, n in LIVE_FOLDERS)
    for name, values, source in ((dmos_var, dmos, dmos_file), ("orgs", orgs, root / "dmos.mat")):
        if len(values) != expected:
            raise DatasetError(
                f"{dataset}: {source} variable {name!r} has {len(values)} entries; LIVE Release 2 has "
                f"{expected} ({', '.join(f'{f} {n}' for f, n in LIVE_FOLDERS)})"
            )
    if len(refs) != expected:
        raise DatasetError(
            f"{dataset}: {ref_file} variable 'refnames_all' has {len(refs)} entries, expected {expected}"
        )
    for folder, _ in LIVE_FOLDERS:
        _image_dir(root / folder, dataset)
    entries = []
    k = 0
    for folder, count in LIVE_FOLDERS:
        for n in range(1, count + 1):
            if orgs[k] != 1:
                where = f"entry {k + 1} ({folder}/img{n}.bmp)"
                entries.append((root / folder / f"img{n}.bmp", dmos[k], refs[k] or None, where))
            k += 1
    return _build(dataset, dmos_file, entries)


def read_tid2013(root: Path | str) -> list[Sample]:
    """TID2013: ``mos_with_names.txt`` ("MOS name" lines such as ``5.51429 i01_01_1.bmp``, 0–9),
    ``distorted_images/`` (names matched case-insensitively)."""
    dataset = "tid2013"
    root = _dir(root, dataset)
    label = _file(root / "mos_with_names.txt", dataset, "label file")
    images = _image_dir(root / "distorted_images", dataset)
    on_disk = {p.name.lower(): p for p in images.iterdir()}
    try:
        lines = label.read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise DatasetError(f"{dataset}: cannot read {label}: {exc}") from exc
    entries = []
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"line {number}"
        if len(parts) != 2:
            raise DatasetError(f"{label}, {where}: expected 'MOS filename', got {line.strip()!r}")
        mos = _float(parts[0], label, where, "MOS")
        name = parts[1]
        path = on_disk.get(name.lower(), images / name)
        group = name.split("_")[0].lower()
        entries.append((path, mos, group, where))
    return _build(dataset, label, entries)


def read_livec(root: Path | str) -> list[Sample]:
    """LIVE Challenge: ``Data/AllImages_release.mat`` + ``Data/AllMOS_release.mat``, ``Images/``.

    The first 7 entries (training images the authors exclude) are dropped, leaving 1162.
    """
    dataset = "livec"
    root = _dir(root, dataset)
    names_file = root / "Data" / "AllImages_release.mat"
    mos_file = root / "Data" / "AllMOS_release.mat"
    names_mat = _loadmat(names_file, ("AllImages_release",), dataset)
    mos_mat = _loadmat(mos_file, ("AllMOS_release",), dataset)
    names = _mat_strings(names_mat["AllImages_release"], names_file, "AllImages_release")
    mos = _mat_numbers(mos_mat["AllMOS_release"], mos_file, "AllMOS_release")
    if len(names) != len(mos):
        raise DatasetError(f"{dataset}: {names_file} lists {len(names)} images but {mos_file} has {len(mos)} scores")
    images = _image_dir(root / "Images", dataset)
    entries = [(images / names[i], mos[i], None, f"entry {i + 1}") for i in range(LIVEC_SKIP, len(names))]
    return _build(dataset, names_file, entries)


def read_spaq(root: Path | str) -> list[Sample]:
    """SPAQ: ``Annotations/MOS and Image attribute scores.xlsx`` (``Image name``, ``MOS``; openpyxl), ``TestImage/``."""
    dataset = "spaq"
    root = _dir(root, dataset)
    label = _file(root / "Annotations" / "MOS and Image attribute scores.xlsx", dataset, "label file")
    images = _image_dir(root / "TestImage", dataset)
    try:
        import openpyxl
    except ImportError as exc:
        raise DatasetError(
            f"spaq: reading {label} needs openpyxl, which is not installed; run `pip install openpyxl`"
        ) from exc
    try:
        workbook = openpyxl.load_workbook(label, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException for a bad file
        raise DatasetError(f"{dataset}: cannot read {label} as an .xlsx workbook: {exc}") from exc
    try:
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    if not rows:
        raise DatasetError(f"{dataset}: {label} is empty (a header row is required)")
    header = {str(c).strip().lower(): i for i, c in enumerate(rows[0]) if c is not None}
    i_name = _column(header, ("Image name",), label, dataset)
    i_mos = _column(header, ("MOS",), label, dataset)
    entries = []
    for number, cells in enumerate(rows[1:], start=2):
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        where = f"row {number}"
        name = cells[i_name] if i_name < len(cells) else None
        if name is None or not str(name).strip():
            raise DatasetError(f"{label}, {where}: empty 'Image name'")
        value = cells[i_mos] if i_mos < len(cells) else None
        mos = _float("" if value is None else value, label, where, "MOS")
        entries.append((images / str(name).strip(), mos, None, where))
    return _build(dataset, label, entries)


def read_flive(root: Path | str) -> list[Sample]:
    """FLIVE (PaQ-2-PiQ): ``labels_image.csv`` (``name``/``name_image``, ``mos``/``mos_image`` 0–100).

    Images are under ``database/``; a name that already includes that folder resolves against the root.
    """
    dataset = "flive"
    root = _dir(root, dataset)
    label = _file(root / "labels_image.csv", dataset, "label file")
    header, rows = _read_table(label, dataset)
    i_name = _column(header, ("name", "name_image", "image_name"), label, dataset)
    i_mos = _column(header, ("mos", "mos_image"), label, dataset)
    images = root / "database"
    entries = []
    for line, cells in rows:
        name = _cell(cells, i_name, label, line, "name")
        mos = _float(_cell(cells, i_mos, label, line, "mos"), label, f"line {line}", "mos")
        path = images / name
        if not path.is_file() and (root / name).is_file():
            path = root / name
        entries.append((path, mos, None, f"line {line}"))
    return _build(dataset, label, entries)


DATASETS: dict[str, Reader] = {
    "csv": read_csv_table,
    "koniq10k": read_koniq10k,
    "kadid10k": read_kadid10k,
    "live": read_live,
    "tid2013": read_tid2013,
    "livec": read_livec,
    "spaq": read_spaq,
    "flive": read_flive,
}


def load_dataset(
    name: str, root: Path | str | None, csv: Path | str | None = None, *, live_labels: str = "dmos"
) -> list[Sample]:
    """Read dataset ``name`` (a key of ``DATASETS``; case, '-' and '_' are ignored) from ``root``.

    ``name="csv"`` reads the table at ``csv`` with relative paths resolved against ``root`` (default: the
    CSV's folder); ``csv`` is only meaningful for that name. ``live_labels`` picks LIVE's label file
    (:func:`read_live`); the other datasets ignore it.
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if key == "csv":
        if csv is None:
            raise DatasetError("dataset 'csv' needs the path of the ratings table (csv=...)")
        return read_csv_table(csv, root)
    if csv is not None:
        raise DatasetError(f"a csv table ({csv}) was given for dataset {name!r}; use dataset 'csv' for tables")
    if root is None:
        raise DatasetError(f"dataset {name!r} needs its root folder")
    if key == "live":
        return read_live(root, live_labels)
    return DATASETS[key](root)
