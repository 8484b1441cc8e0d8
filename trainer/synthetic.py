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

Distortions come from ``corrupt-tta`` (ImageNet-C corruptions) where it has them with levels that grow
monotonically; the rest (JPEG 2000, WebP, under-exposure, colour cast, (de)saturation, colour quantisation,
resampling, pixelation, impulse and mild sensor noise, low light (dark and noisy), camera shake, median smear,
haze, chromatic aberration, vignetting) are written here with Pillow / numpy / scipy: ImageNet-C's own motion
blur, zoom blur, fog and pixelate change randomly or non-monotonically between levels, and its impulse noise
cannot be seeded. Each level is deterministic given the seed.

Output: ``OUT_DIR/images/<ref>/<ref>__<type>__<level>.png`` and ``OUT_DIR/synthetic.csv`` with columns
``path, score, group, distortion, level`` plus one column per metric; ``loda train --dataset csv`` reads it.
With ``references`` each reference photo is also listed as itself (``none``, level 0), and a ``weight`` column
says how many times ``loda train`` draws a row per epoch.
"""

from __future__ import annotations

import csv
import io
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

SHORT_SIDE = 384
LEVELS = 5
CSV_NAME = "synthetic.csv"

Array = np.ndarray
DistortFn = Callable[[Array, int, np.random.Generator], Array]


class SyntheticError(Exception):
    """Bad input to the builder (no photos, unreadable folder, missing optional package)."""


def _need(module: str, package: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SyntheticError(f"the synthetic dataset builder needs '{package}': pip install '{package}'") from None


def _u8(x: Array) -> Array:
    return np.clip(np.asarray(x, dtype=np.float64) + 0.5, 0, 255).astype(np.uint8)


# --- distortions -------------------------------------------------------------------------------------------


def _corrupt_tta(name: str) -> DistortFn:
    def apply(img: Array, level: int, rng: np.random.Generator) -> Array:
        ct = _need("corrupt_tta", "corrupt-tta")
        state = np.random.get_state()
        np.random.seed(int(rng.integers(0, 2**31 - 1)))  # corrupt-tta draws from numpy's global generator
        try:
            return _u8(getattr(ct, name)(img, level))
        finally:
            np.random.set_state(state)

    apply.__name__ = name
    return apply


def _encode(img: Array, fmt: str, **params) -> Array:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **params)
    buf.seek(0)
    with Image.open(buf) as out:
        return np.asarray(out.convert("RGB"))


def jpeg2000(img: Array, level: int, rng: np.random.Generator) -> Array:
    ratio = [24, 48, 96, 192, 384][level - 1]
    return _encode(img, "JPEG2000", quality_mode="rates", quality_layers=[ratio], irreversible=True)


def webp(img: Array, level: int, rng: np.random.Generator) -> Array:
    return _encode(img, "WEBP", quality=[40, 20, 10, 4, 0][level - 1], method=4)


def underexposure(img: Array, level: int, rng: np.random.Generator) -> Array:
    gain = [0.7, 0.52, 0.38, 0.27, 0.18][level - 1]
    linear = (img / 255.0) ** 2.2 * gain
    return _u8(255.0 * linear ** (1 / 2.2))


def colour_cast(img: Array, level: int, rng: np.random.Generator) -> Array:
    a = [0.06, 0.12, 0.2, 0.3, 0.42][level - 1]
    warm = rng.random() < 0.5
    gains = np.array([1 + a, 1.0, 1 - a]) if warm else np.array([1 - a, 1.0, 1 + a])
    return _u8(img * gains)


def _gray(img: Array) -> Array:
    return (img @ np.array([0.299, 0.587, 0.114]))[..., None]


def desaturate(img: Array, level: int, rng: np.random.Generator) -> Array:
    t = [0.35, 0.55, 0.72, 0.86, 1.0][level - 1]
    return _u8(img * (1 - t) + _gray(img) * t)


def oversaturate(img: Array, level: int, rng: np.random.Generator) -> Array:
    k = [1.5, 2.0, 2.7, 3.6, 5.0][level - 1]
    g = _gray(img)
    return _u8(g + (img - g) * k)


def quantization(img: Array, level: int, rng: np.random.Generator) -> Array:
    colours = [48, 24, 12, 6, 3][level - 1]
    q = Image.fromarray(img).quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    return np.asarray(q.convert("RGB"))


def resample(img: Array, level: int, rng: np.random.Generator) -> Array:
    scale = [0.5, 0.33, 0.24, 0.17, 0.12][level - 1]
    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.BILINEAR)
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))


def chromatic_aberration(img: Array, level: int, rng: np.random.Generator) -> Array:
    shift = [1, 2, 4, 6, 9][level - 1]
    out = img.copy()
    out[:, :, 0] = np.roll(img[:, :, 0], shift, axis=1)
    out[:, :, 2] = np.roll(img[:, :, 2], -shift, axis=1)
    out[:, :, 0] = np.roll(out[:, :, 0], shift // 2, axis=0)
    return out


def vignetting(img: Array, level: int, rng: np.random.Generator) -> Array:
    strength = [0.35, 0.55, 0.75, 0.9, 1.0][level - 1]
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / np.sqrt(2)
    falloff = 1 - strength * np.clip(r, 0, 1) ** 2
    return _u8(img * falloff[..., None])


def motion_blur(img: Array, level: int, rng: np.random.Generator) -> Array:
    """Camera shake: a centred line kernel (the same direction at every level, so only the length grows)."""
    from scipy.ndimage import convolve

    length = [5, 9, 13, 19, 27][level - 1]
    angle = rng.uniform(0, np.pi)
    kernel = np.zeros((length, length))
    c = (length - 1) / 2
    for t in np.linspace(-c, c, 4 * length):
        kernel[round(c + t * np.sin(angle)), round(c + t * np.cos(angle))] = 1
    kernel /= kernel.sum()
    out = np.stack([convolve(img[:, :, ch].astype(np.float64), kernel, mode="reflect") for ch in range(3)], -1)
    return _u8(out)


def impulse_noise(img: Array, level: int, rng: np.random.Generator) -> Array:
    """Salt-and-pepper noise (ImageNet-C's amounts; written here because its version cannot be seeded)."""
    amount = [0.03, 0.06, 0.09, 0.17, 0.27][level - 1]
    out = img.copy()
    hit = rng.random(img.shape) < amount
    out[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 0, 255)
    return out


def sensor_noise(img: Array, level: int, rng: np.random.Generator) -> Array:
    """Mild Gaussian noise as a camera shows at high ISO: luminance grain plus half as much colour noise.

    Its levels (σ 3–17 of 255 at the model's input size) lie below ImageNet-C's mildest Gaussian noise (σ 20): a
    full-resolution photo with visible noise is this mild after the downscale to the model's input, and without
    them the model never saw such noise.
    """
    sigma = [3.0, 5.0, 8.0, 12.0, 17.0][level - 1]
    luma = rng.normal(0.0, sigma, img.shape[:2])[..., None]
    chroma = rng.normal(0.0, sigma / 2, img.shape)
    return _u8(img + luma + chroma)


def low_light(img: Array, level: int, rng: np.random.Generator) -> Array:
    """A dark, noisy frame: :func:`underexposure` and then :func:`sensor_noise` at the same level.

    Noise on a dark photo lifts its blacks (the noise is clipped at 0) and reads as texture; a model that saw noise
    only on well-exposed photos and darkness only without noise scored a dark photo *higher* once noise was added.
    The six full-reference metrics all rank this below the same underexposure without the noise.
    """
    return sensor_noise(underexposure(img, level, rng), level, rng)


def median_smear(img: Array, level: int, rng: np.random.Generator) -> Array:
    """Over-aggressive denoising: detail smeared away by a median filter."""
    from PIL import ImageFilter

    size = [3, 5, 7, 9, 13][level - 1]
    return np.asarray(Image.fromarray(img).filter(ImageFilter.MedianFilter(size)))


def haze(img: Array, level: int, rng: np.random.Generator) -> Array:
    """A flat bright veil (lens flare, haze): contrast and saturation drop, black level rises."""
    a = [0.15, 0.3, 0.45, 0.6, 0.75][level - 1]
    return _u8(img * (1 - a) + 220.0 * a)


def pixelate(img: Array, level: int, rng: np.random.Generator) -> Array:
    block = [2, 3, 4, 6, 9][level - 1]
    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((max(1, w // block), max(1, h // block)), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.NEAREST))


@dataclass(frozen=True)
class Distortion:
    name: str
    family: str
    apply: DistortFn
    source: str  # "corrupt-tta" or "here"


def _registry() -> dict[str, Distortion]:
    from_lib = {  # ImageNet-C corruptions whose 5 levels grow monotonically on photos of any size
        "gaussian_noise": "noise",
        "shot_noise": "noise",
        "speckle_noise": "noise",
        "gaussian_blur": "blur",
        "defocus_blur": "blur",
        "jpeg_compression": "compression",
        "contrast": "contrast",
        "brightness": "exposure",
    }
    here: dict[str, tuple[str, DistortFn]] = {
        "jpeg2000": ("compression", jpeg2000),
        "webp": ("compression", webp),
        "underexposure": ("exposure", underexposure),
        "colour_cast": ("colour", colour_cast),
        "desaturate": ("colour", desaturate),
        "oversaturate": ("colour", oversaturate),
        "quantization": ("colour", quantization),
        "resample": ("resampling", resample),
        "pixelate": ("resampling", pixelate),
        "motion_blur": ("blur", motion_blur),
        "median_smear": ("blur", median_smear),
        "haze": ("contrast", haze),
        "impulse_noise": ("noise", impulse_noise),
        "sensor_noise": ("noise", sensor_noise),
        "low_light": ("noise", low_light),
        "chromatic_aberration": ("lens", chromatic_aberration),
        "vignetting": ("lens", vignetting),
    }
    reg = {n: Distortion(n, fam, _corrupt_tta(n), "corrupt-tta") for n, fam in from_lib.items()}
    reg.update({n: Distortion(n, fam, fn, "here") for n, (fam, fn) in here.items()})
    return reg


DISTORTIONS: dict[str, Distortion] = _registry()


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def distort(img: Array, name: str, level: int, seed: int = 0) -> Array:
    """``img`` (H×W×3 uint8) with distortion ``name`` at ``level`` (1 = mild … 5 = strong); deterministic."""
    if name not in DISTORTIONS:
        raise SyntheticError(f"unknown distortion {name!r}; known: {', '.join(sorted(DISTORTIONS))}")
    if not 1 <= level <= LEVELS:
        raise SyntheticError(f"level must be 1..{LEVELS}, got {level}")
    out = DISTORTIONS[name].apply(np.ascontiguousarray(img), level, np.random.default_rng(_seed(seed, name, level)))
    if out.shape != img.shape:
        raise AssertionError(f"{name} changed the image shape {img.shape} -> {out.shape}")
    return out


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
    piq = _need("piq", "piq")
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
    short_side: int = SHORT_SIDE,
    exclude: Iterable[str] = (),
) -> list[Path]:
    """Collect pristine references from files and folders (JPEG/PNG/WebP, and WebPs carved from ``.rcc``
    bundles), keep photos whose short side is at least ``min_side``, downscale them to ``short_side`` (which
    also hides the sources' own compression artefacts) and save them as PNG in ``out_dir``. ``exclude`` names
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
        img = ref if level == 0 else distort(ref, name, level, seed=_seed(seed, group))
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
        _need(module, package)
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
