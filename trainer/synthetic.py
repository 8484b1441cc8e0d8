"""A KADID-10k-style synthetic distortion dataset with pseudo-MOS labels, built from pristine photos.

Every reference photo is resized (short side :data:`SHORT_SIDE`, the model's input size, so training needs no
further resampling) and distorted by each of :data:`DISTORTIONS` (25 types) at 5 levels of increasing strength.
Each distorted image is labelled with a *pseudo-MOS*: the KADIS-700k / DeepFL-IQA idea of using full-reference
metrics as a stand-in for human opinion. Here six full-reference metrics from ``piq`` that need no download
(SSIM, GMSD, MS-GMSD, HaarPSI, MDSI, VSI) are each turned into a percentile rank over the whole dataset
(direction-corrected, so 1 = best), and the pseudo-MOS is their mean: in [0, 1], higher is better, robust to the
metrics' different scales. MS-SSIM and VIFp were dropped: on a 384×614 image they took 0.12 s and 0.13 s of the
0.38 s that all eight needed (one thread), which would have doubled the build time of the default model's data.
Rows are grouped by reference photo, so splits never leak content.

The distortions are in :mod:`trainer.distortions`.

Output: ``OUT_DIR/images/<ref>/<ref>__<type>__<level>.png`` and ``OUT_DIR/synthetic.csv`` with columns
``path, score, group, distortion, level`` plus one column per metric; ``loda train --dataset csv`` reads it.
With ``references`` each reference photo is also listed as itself (``none``, level 0), and a ``weight`` column
says how many times ``loda train`` draws a row per epoch.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .distortions import DISTORTIONS, LEVELS, Distortion, SyntheticError, distort, require, stable_seed

__all__ = [
    "CSV_NAME",
    "DISTORTIONS",
    "LEVELS",
    "METRICS",
    "REFERENCE",
    "SHORT_SIDE",
    "Distortion",
    "SyntheticError",
    "carve_webp",
    "distort",
    "evaluate_predictions",
    "fr_metrics",
    "make_synthetic",
    "prepare_pool",
    "pseudo_mos",
]

Array = np.ndarray

SHORT_SIDE = 384
CSV_NAME = "synthetic.csv"


# --- full-reference metrics and the pseudo-MOS -------------------------------------------------------------

# name -> higher_is_better
METRICS: dict[str, bool] = {
    "ssim": True,
    "gmsd": False,
    "ms_gmsd": False,
    "haarpsi": True,
    "mdsi": False,
    "vsi": True,
}


def fr_metrics(reference: Array, distorted: Array) -> dict[str, float]:
    """The six full-reference scores of ``distorted`` against ``reference`` (both H×W×3 uint8)."""
    piq = require("piq", "piq")
    import torch

    ref = torch.from_numpy(np.array(reference, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0
    dis = torch.from_numpy(np.array(distorted, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0
    fns = {
        "ssim": piq.ssim,
        "gmsd": piq.gmsd,
        "ms_gmsd": piq.multi_scale_gmsd,
        "haarpsi": piq.haarpsi,
        "mdsi": piq.mdsi,
        "vsi": piq.vsi,
    }
    with torch.no_grad():  # rounded as the CSV stores them, so a resumed build ranks exactly as a full one
        return {name: round(float(fn(dis, ref, data_range=1.0)), 6) for name, fn in fns.items()}


def pseudo_mos(rows: Sequence[dict[str, float]]) -> np.ndarray:
    """Mean over :data:`METRICS` of each metric's direction-corrected percentile rank (ties averaged): [0, 1]."""
    from scipy.stats import rankdata

    if not rows:
        return np.zeros(0)
    n = len(rows)
    ranks = []
    for name, higher in METRICS.items():
        values = np.array([r[name] for r in rows], dtype=np.float64)
        values = np.nan_to_num(values, nan=np.nanmin(values) if higher else np.nanmax(values))
        r = rankdata(values if higher else -values, method="average")
        ranks.append((r - 1) / max(n - 1, 1))
    return np.mean(ranks, axis=0)


# --- the photo pool ----------------------------------------------------------------------------------------


def carve_webp(data: bytes) -> list[bytes]:
    """Every complete WebP file (``RIFF....WEBP``) stored in a blob, e.g. a Qt ``.rcc`` resource bundle."""
    found, i = [], 0
    while (i := data.find(b"RIFF", i)) >= 0:
        if data[i + 8 : i + 12] == b"WEBP" and i + 8 <= len(data):
            size = int.from_bytes(data[i + 4 : i + 8], "little") + 8
            if i + size <= len(data):
                found.append(data[i : i + size])
                i += size
                continue
        i += 4
    return found


def prepare_pool(
    sources: Iterable[Path],
    out_dir: Path,
    *,
    min_side: int = 400,
    short_side: int | None = SHORT_SIDE,
    exclude: Iterable[str] = (),
) -> list[Path]:
    """Collect pristine references from files and folders (JPEG/PNG/WebP, and WebPs carved from ``.rcc``
    bundles), keep photos whose short side is at least ``min_side``, downscale them to ``short_side`` (which
    also hides the sources' own compression artefacts; ``None`` keeps the native size, for damage at the camera's
    resolution) and save them as PNG in ``out_dir``. ``exclude`` names
    output stems to leave out (drawings, renders, duplicates found by looking at a first pass)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skip = set(exclude)

    def keep(img: Image.Image, stem: str) -> None:
        if stem in skip:
            return
        img = ImageOps.exif_transpose(img)
        if img.mode not in ("RGB", "L") or min(img.size) < min_side:
            return  # drawings with transparency, icons, small pictures
        img = img.convert("RGB")
        if short_side is not None:
            scale = short_side / min(img.size)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        path = out_dir / f"{stem}.png"
        img.save(path)
        written.append(path)

    files: list[Path] = []
    for src in sources:
        src = Path(src)
        if src.is_dir():
            files.extend(sorted(p for p in src.rglob("*") if p.is_file()))
        elif src.is_file():
            files.append(src)
        else:
            raise SyntheticError(f"no such file or folder: {src}")
    for path in files:
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem)
        if path.suffix.lower() == ".rcc":
            for k, blob in enumerate(carve_webp(path.read_bytes())):
                try:
                    with Image.open(io.BytesIO(blob)) as img:
                        img.load()
                        keep(img, f"{stem}_{k:03d}")
                except OSError:
                    continue
        elif path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
            try:
                with Image.open(path) as img:
                    img.load()
                    keep(img, stem)
            except OSError:
                continue
    if not written:
        raise SyntheticError("no usable photos found in " + ", ".join(map(str, sources)))
    return written


# --- the builder -------------------------------------------------------------------------------------------


REFERENCE = "none"  # the distortion name of a reference photo's own row (level 0), with ``references``


def _one_reference(args: tuple[str, str, tuple[str, ...], int, int, dict[str, dict], bool]) -> list[dict]:
    ref_path, out_dir, types, levels, seed, done, references = args
    import torch

    torch.set_num_threads(1)
    ref_path_p = Path(ref_path)
    group = ref_path_p.stem
    folder = Path(out_dir) / "images" / group
    ref = None
    rows = []
    items = [(REFERENCE, 0)] if references else []
    items += [(name, level) for name in types for level in range(1, levels + 1)]
    for name, level in items:
        path = folder / f"{group}__{name}__{level}.png"
        rel = str(path.relative_to(out_dir))
        if rel in done and path.is_file():
            rows.append(done[rel])
            continue
        if ref is None:
            with Image.open(ref_path_p) as im:
                ref = np.asarray(im.convert("RGB"))
            folder.mkdir(parents=True, exist_ok=True)
        img = ref if level == 0 else distort(ref, name, level, seed=stable_seed(seed, group))
        Image.fromarray(img).save(path, compress_level=1)
        row = {"path": rel, "group": group, "distortion": name, "level": level}
        row.update(fr_metrics(ref, img))
        rows.append(row)
    return rows


def _earlier_rows(csv_path: Path) -> dict[str, dict]:
    """The rows of an earlier build's CSV, by image path, with their metrics (for ``resume``)."""
    if not csv_path.is_file():
        return {}
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            return {
                r["path"]: {
                    "path": r["path"],
                    "group": r["group"],
                    "distortion": r["distortion"],
                    "level": int(r["level"]),
                    **{m: float(r[m]) for m in METRICS},
                }
                for r in csv.DictReader(f)
            }
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise SyntheticError(f"cannot resume from {csv_path}: {e}; build into a new folder instead") from None


def make_synthetic(
    src_dir: Path,
    out_dir: Path,
    *,
    types: Sequence[str] | None = None,
    levels: int = LEVELS,
    seed: int = 0,
    workers: int | None = None,
    resume: bool = False,
    references: bool = False,
    reference_weight: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Distort every PNG/JPEG reference in ``src_dir`` (see :func:`prepare_pool`) and write the labelled CSV.

    Returns the CSV path. Deterministic for a given seed, whatever the number of workers. With ``resume``, images
    that ``out_dir``'s CSV already lists (and that exist) are kept with their metrics and only the rest is made, so
    an interrupted build, or one with a distortion type added, need not start over; the pseudo-MOS is then ranked
    over the whole table again, as a full build would (same seed and distortion code assumed). With
    ``references``, each reference photo is also listed as itself (distortion ``none``, level 0; its metrics
    against itself rank at the top), so a model trained on the table sees undamaged photos too; the table then has
    a ``weight`` column, ``reference_weight`` for those rows and 1 for the others, which ``loda train`` reads as
    how many times a row is drawn per epoch (one clean row against 5 levels × the types of damage is otherwise
    too rare to teach that the clean photo beats its mildest damage).
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise SyntheticError(f"no such folder: {src_dir}")
    refs = sorted(p for p in src_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
    if not refs:
        raise SyntheticError(f"no reference photos (PNG/JPEG/WebP) in {src_dir}")
    if reference_weight < 1:
        raise SyntheticError(f"the reference weight must be at least 1, got {reference_weight}")
    if reference_weight > 1 and not references:
        raise SyntheticError("a reference weight needs the references in the table (--with-references)")
    types = tuple(types or sorted(DISTORTIONS))
    unknown = [t for t in types if t not in DISTORTIONS]
    if unknown:
        raise SyntheticError(f"unknown distortion(s) {', '.join(unknown)}; known: {', '.join(sorted(DISTORTIONS))}")
    for module, package in (("piq", "piq"), ("corrupt_tta", "corrupt-tta")):
        require(module, package)
    done = _earlier_rows(out_dir / CSV_NAME) if resume else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    by_group: dict[str, dict[str, dict]] = {}
    for rel, row in done.items():
        by_group.setdefault(row["group"], {})[rel] = row
    jobs = [(str(r), str(out_dir), types, levels, seed, by_group.get(r.stem, {}), references) for r in refs]
    workers = workers or max(1, (os.cpu_count() or 1))
    rows: list[dict] = []
    if workers == 1:
        results: Iterable[list[dict]] = map(_one_reference, jobs)
        for i, chunk in enumerate(results, 1):
            rows.extend(chunk)
            if progress:
                progress(i, len(jobs))
    else:
        with ProcessPoolExecutor(workers) as pool:
            for i, chunk in enumerate(pool.map(_one_reference, jobs), 1):
                rows.extend(chunk)
                if progress:
                    progress(i, len(jobs))
    scores = pseudo_mos(rows)
    out = out_dir / CSV_NAME
    tmp = out.with_suffix(".csv.tmp")
    columns = ["path", "score", "group", "distortion", "level", *METRICS] + (["weight"] if references else [])
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row, score in zip(rows, scores, strict=True):
            extra = {"weight": reference_weight if row["distortion"] == REFERENCE else 1} if references else {}
            writer.writerow({**row, "score": f"{score:.6f}", **{m: f"{row[m]:.6f}" for m in METRICS}, **extra})
    os.replace(tmp, out)
    return out


# --- evaluating a model on a synthetic table ---------------------------------------------------------------


def evaluate_predictions(synthetic_csv: Path | str, predictions_csv: Path | str) -> dict[str, object]:
    """Score a model's held-out predictions (``test_predictions.csv`` from ``loda train``) against the table.

    Returns SRCC / KRCC / PLCC / RMSE against the pseudo-MOS (:func:`trainer.metrics.evaluate`), and the
    *series SRCC*: for every (reference photo, distortion type) series, the SRCC between the predicted score and
    the negated level (1 = the score falls at every step), averaged over series, overall and per type.

    Where the errors come from: ``srcc_by_type`` ranks each type's images across photos and levels;
    ``by_photo`` gives each reference photo's SRCC and *offset*, the mean of (prediction − pseudo-MOS) after one
    least-squares line maps the predictions onto the pseudo-MOS scale (positive: the photo's images are scored
    too high), most over-scored first; ``srcc_without_photo_offsets`` is the SRCC once every photo's offset is
    taken away, the part of the ranking a model gets right within photos.
    """
    from .metrics import evaluate, srcc

    synthetic_csv, predictions_csv = Path(synthetic_csv), Path(predictions_csv)
    table: dict[str, dict[str, str]] = {}
    with open(synthetic_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            table[str((synthetic_csv.parent / row["path"]).resolve())] = row
    preds, targets, groups, types, series = [], [], [], [], {}
    with open(predictions_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            meta = table.get(str(Path(row["path"]).resolve()))
            if meta is None:
                raise SyntheticError(f"{row['path']} (in {predictions_csv}) is not in {synthetic_csv}")
            preds.append(float(row["prediction"]))
            targets.append(float(meta["score"]))
            groups.append(meta["group"])
            types.append(meta["distortion"])
            series.setdefault((meta["group"], meta["distortion"]), []).append((int(meta["level"]), preds[-1]))
    if not preds:
        raise SyntheticError(f"no predictions in {predictions_csv}")
    per_series = {key: srcc([p for _, p in s], [-lv for lv, _ in s]) for key, s in series.items() if len(s) > 1}
    by_type: dict[str, list[float]] = {}
    for (_, name), value in per_series.items():
        by_type.setdefault(name, []).append(value)
    values = np.array(list(per_series.values()), dtype=np.float64)
    pred, target = np.array(preds), np.array(targets)
    return {
        "images": len(preds),
        "references": len({g for g, _ in series}),
        **evaluate(pred, target),
        "series": len(per_series),
        "series_srcc": float(np.nanmean(values)) if values.size else float("nan"),
        "series_srcc_by_type": {k: round(float(np.nanmean(v)), 4) for k, v in sorted(by_type.items())},
        **_error_sources(pred, target, np.array(groups), np.array(types)),
    }


def _error_sources(pred: np.ndarray, target: np.ndarray, groups: np.ndarray, types: np.ndarray) -> dict[str, object]:
    """SRCC within each distortion type, each photo's SRCC and offset, and the SRCC without the offsets."""
    from .metrics import srcc

    def rounded(value: float) -> float | None:  # None, not NaN: the report stays valid JSON
        return round(value, 4) if np.isfinite(value) else None

    slope, intercept = np.polyfit(pred, target, 1) if np.ptp(pred) > 0 else (0.0, float(target.mean()))
    error = slope * pred + intercept - target
    photos = {g: groups == g for g in np.unique(groups)}
    offsets = {g: float(error[mask].mean()) for g, mask in photos.items()}
    by_photo = {
        str(g): {
            "images": int(photos[g].sum()),
            "srcc": rounded(srcc(pred[photos[g]], target[photos[g]])),
            "offset": round(offsets[g], 4),
        }
        for g in sorted(offsets, key=offsets.__getitem__, reverse=True)
    }
    without = slope * pred + intercept - np.array([offsets[g] for g in groups])
    return {
        "srcc_by_type": {str(t): rounded(srcc(pred[types == t], target[types == t])) for t in np.unique(types)},
        "srcc_without_photo_offsets": rounded(srcc(without, target)),
        "by_photo": by_photo,
    }
