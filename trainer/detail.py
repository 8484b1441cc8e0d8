"""Train the detail head: what a photographer sees at 100 %, learnt from damage made at the camera's resolution.

The global view the paper scores (short side 384) shrinks a 24-MP frame ten times, and a missed focus of 1 px,
a 5-px shake or high-ISO grain vanish in it. The app therefore also scores crops at the photo's own resolution
(:func:`model.preprocess.detail_boxes`) with a detail head (:class:`model.loda.DetailHead`). This module makes its
training data and trains it, everything else of the network frozen:

1. **Crops.** From every training photo of the pool kept at its native size (``loda make-pool --short-side 0``)
   that is large enough for detail crops, the boxes the app itself would choose plus random tiles; each place
   twice: as it is, and enlarged 1.5-4 times (Lanczos), soft at the pixel level as many frames of a high-resolution
   sensor are at 100 %, where a 1-px blur changes little and grain stands out.
2. **Damage at 100 %** (:data:`DAMAGE`), applied to the crop with a margin so that no filter sees the crop's edge:
   Gaussian blur and defocus (a disk kernel) for a missed focus, a line kernel for camera shake, sensor noise whose
   strength follows the brightness (shot noise) with coarser chroma noise, a Bayer mosaic demosaiced bilinearly
   (the softness of a camera's raw conversion) and JPEG. Each crop gets every kind once, at a random strength.
3. **Labels.** The project's pseudo-MOS (:func:`trainer.synthetic.pseudo_mos`: the six full-reference metrics'
   mean percentile rank) computed on the crops themselves, that is at 100 %; an undamaged crop is 1.
4. **Features.** The frozen network's detail input (:func:`model.loda.detail_inputs`) for every crop, computed
   once.
5. **The head** trains on those features: squared error to the label (in the network's raw units, so the
   profile's calibration maps both heads alike) plus a pair term that asks every crop to outscore each damaged
   copy of itself that is labelled lower by at least half the labels' difference. The same pair idea as the
   faint-copy term of the adapter's training; here it is the whole point: a burst is ranked crop by crop.

The training photos are the pool's training split (seed 0, 80/20 by photo): the same split every other trained part
used, so the held-out photos stay unseen by every part, and the burst benchmark (``benchmarks/bursts.py``) builds
its bursts from them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

DAMAGE = ("gaussian_blur", "defocus", "shake", "noise", "demosaic", "jpeg")
MARGIN = 24  # pixels of context around a crop while it is damaged
Array = np.ndarray


# --- damage at the camera's resolution -----------------------------------------------------------------------


def _convolve(img: Array, kernel: Array) -> Array:
    from scipy.ndimage import convolve

    x = img.astype(np.float64)
    return np.stack([convolve(x[:, :, c], kernel, mode="reflect") for c in range(3)], -1)


def disk_kernel(radius: float) -> Array:
    """A defocus kernel: a disk of ``radius`` px, its edge anti-aliased by 4×4 supersampling."""
    n = math.ceil(radius) + 1
    fine = (np.arange(-n * 4, n * 4 + 4) + 0.5) / 4 - 0.5
    yy, xx = np.meshgrid(fine, fine, indexing="ij")
    inside = (xx * xx + yy * yy <= radius * radius).astype(np.float64)
    k = inside.reshape(2 * n + 1, 4, 2 * n + 1, 4).mean((1, 3))
    return k / k.sum()


def line_kernel(length: float, angle: float) -> Array:
    """Camera shake: a straight path of ``length`` px at ``angle`` (radians), sampled finely."""
    n = math.ceil(length / 2) + 1
    k = np.zeros((2 * n + 1, 2 * n + 1))
    for t in np.linspace(-length / 2, length / 2, max(8, int(length * 8))):
        y, x = n + t * math.sin(angle), n + t * math.cos(angle)
        y0, x0 = math.floor(y), math.floor(x)
        fy, fx = y - y0, x - x0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                k[y0 + dy, x0 + dx] += wy * wx
    return k / k.sum()


def _u8(x: Array) -> Array:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def sensor_noise(img: Array, sigma: float, rng: np.random.Generator) -> Array:
    """Grain as a sensor makes it: luminance noise of σ = ``sigma`` at mid grey, growing with the square root of
    the brightness (shot noise) over a read-noise floor, plus chroma noise at a random 30-70 % of it, blurred a
    little (a camera's chroma noise is blotchier than its grain)."""
    from scipy.ndimage import gaussian_filter

    x = img.astype(np.float64)
    luma = x @ np.array([0.299, 0.587, 0.114])
    local = sigma * np.sqrt((luma + 24.0) / (128.0 + 24.0))
    grain = rng.normal(0.0, 1.0, luma.shape) * local
    chroma = rng.normal(0.0, 1.0, x.shape) * (local[..., None] * rng.uniform(0.3, 0.7))
    chroma = np.stack([gaussian_filter(chroma[:, :, c], 0.7) * 1.8 for c in range(3)], -1)
    return _u8(x + grain[..., None] + chroma)


def bilinear_demosaic(img: Array) -> Array:
    """An RGGB Bayer mosaic of ``img``, demosaiced bilinearly: soft detail and colour fringes on fine edges."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w, 3))
    mask[0::2, 0::2, 0] = 1
    mask[0::2, 1::2, 1] = 1
    mask[1::2, 0::2, 1] = 1
    mask[1::2, 1::2, 2] = 1
    mosaic = img.astype(np.float64) * mask
    k_rb = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
    k_g = np.array([[0.0, 0.25, 0.0], [0.25, 1.0, 0.25], [0.0, 0.25, 0.0]])
    from scipy.ndimage import convolve

    out = [convolve(mosaic[:, :, c], k_g if c == 1 else k_rb, mode="mirror") for c in range(3)]
    return _u8(np.stack(out, -1))


def _jpeg(img: Array, quality: int) -> Array:
    import io

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def damage(img: Array, kind: str, rng: np.random.Generator) -> tuple[Array, float]:
    """``img`` (H×W×3 uint8) damaged by ``kind`` at a random strength; returns the image and the strength."""
    from scipy.ndimage import gaussian_filter

    if kind == "gaussian_blur":
        s = float(rng.uniform(0.6, 2.5))
        return _u8(np.stack([gaussian_filter(img[:, :, c].astype(np.float64), s) for c in range(3)], -1)), s
    if kind == "defocus":
        r = float(rng.uniform(1.0, 4.0))
        return _u8(_convolve(img, disk_kernel(r))), r
    if kind == "shake":
        length = float(rng.uniform(3.0, 12.0))
        return _u8(_convolve(img, line_kernel(length, float(rng.uniform(0, math.pi))))), length
    if kind == "noise":
        s = float(rng.uniform(2.0, 12.0))
        return sensor_noise(img, s, rng), s
    if kind == "demosaic":
        return bilinear_demosaic(img), 1.0
    if kind == "jpeg":
        q = int(rng.integers(20, 81))
        return _jpeg(img, q), float(q)
    raise ValueError(f"unknown damage {kind!r}; known: {', '.join(DAMAGE)}")


# --- the crops ---------------------------------------------------------------------------------------------------


@dataclass
class DetailSet:
    """Crops (N, 3, S, S) uint8 with their group (one per source crop), damage kind ('' = undamaged), strength
    and pseudo-MOS label."""

    crops: Array
    groups: Array
    kinds: list[str]
    strengths: Array
    labels: Array


def held_out_stems(stems: Sequence[str], train_fraction: float = 0.8, seed: int = 0) -> set[str]:
    """The pool's held-out photos: :func:`trainer.splits.train_test_split`'s by-photo split of the sorted stems
    (every trained part of the default model used this split)."""
    from .datasets import Sample
    from .splits import train_test_split

    names = sorted(stems)
    samples = [Sample(Path(n), 0.0, group=n) for n in names]
    _, test = train_test_split(samples, train_fraction=train_fraction, seed=seed)
    return {names[i] for i in test}


def _boxes(img: Image.Image, n_chosen: int, n_random: int, size: int, rng: np.random.Generator):
    from model.preprocess import detail_boxes

    boxes = detail_boxes(img, n_chosen, size)
    for _ in range(n_random):
        boxes.append((int(rng.integers(0, img.width - size + 1)), int(rng.integers(0, img.height - size + 1)), size))
    return boxes


def _regions(img: Image.Image, box: tuple[int, int, int], enlarge: float | None) -> tuple[Array, int, int]:
    """The crop ``box`` with :data:`MARGIN` px of context (as far as the photo goes) and where the crop starts in
    it; with ``enlarge``, the same place enlarged that many times (Lanczos) first: soft at the pixel level, as a
    frame from a sensor that outresolves its lens, or a crop from an upscaled photo, is."""
    x, y, s = box
    if enlarge:
        side = s + 2 * MARGIN
        src = side / enlarge
        cx, cy = x + s / 2, y + s / 2
        left = min(max(0.0, cx - src / 2), img.width - src)
        top = min(max(0.0, cy - src / 2), img.height - src)
        region = img.resize((side, side), Image.Resampling.LANCZOS, box=(left, top, left + src, top + src))
        return np.asarray(region), MARGIN, MARGIN
    left, top = max(0, x - MARGIN), max(0, y - MARGIN)
    region = img.crop((left, top, min(img.width, x + s + MARGIN), min(img.height, y + s + MARGIN)))
    return np.asarray(region), y - top, x - left


def _crops_of_photo(args: tuple) -> list[tuple[Array, str, float, dict[str, float] | None]]:
    """Every crop of one photo: the undamaged crop then one copy per kind of :data:`DAMAGE`, with FR metrics; with
    ``enlarged``, each place also enlarged 1.5-4 times (:func:`_regions`) as a second source crop."""
    import torch

    from model.preprocess import open_image

    from .synthetic import fr_metrics

    torch.set_num_threads(1)  # one process per core already
    path, n_chosen, n_random, size, seed, enlarged = args
    rng = np.random.default_rng(seed)
    img = open_image(path)
    out = []
    for box in _boxes(img, n_chosen, n_random, size, rng):
        for enlarge in (None, float(rng.uniform(1.5, 4.0))) if enlarged else (None,):
            region, oy, ox = _regions(img, box, enlarge)
            clean = np.ascontiguousarray(region[oy : oy + size, ox : ox + size])
            out.append((clean, "", 0.0, None))
            for kind in DAMAGE:
                spoiled, strength = damage(region, kind, rng)
                crop = np.ascontiguousarray(spoiled[oy : oy + size, ox : ox + size])
                out.append((crop, kind, strength, fr_metrics(clean, crop)))
    return out


def make_detail_set(
    photos: Sequence[Path],
    *,
    chosen: int = 6,
    random: int = 2,
    size: int = 224,
    seed: int = 0,
    enlarged: bool = True,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> DetailSet:
    """The training crops of :func:`damage` from ``photos`` (each large enough for detail crops)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .distortions import stable_seed
    from .synthetic import pseudo_mos

    jobs = [(str(p), chosen, random, size, stable_seed(seed, Path(p).stem), enlarged) for p in photos]
    rows: list[tuple[Array, str, float, dict[str, float] | None, int]] = []
    group = 0
    # spawn: a forked child of a process that already ran torch can hang in its thread pool
    with ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        for done, items in enumerate(pool.map(_crops_of_photo, jobs), 1):
            for crop, kind, strength, metrics in items:
                if not kind:
                    group += 1
                rows.append((crop, kind, strength, metrics, group - 1))
            if progress is not None:
                progress(done, len(jobs))
    damaged = [r[3] for r in rows if r[3] is not None]
    mos = iter(pseudo_mos(damaged))
    labels = np.array([1.0 if r[3] is None else float(next(mos)) for r in rows])
    return DetailSet(
        crops=np.stack([r[0].transpose(2, 0, 1) for r in rows]),
        groups=np.array([r[4] for r in rows]),
        kinds=[r[1] for r in rows],
        strengths=np.array([r[2] for r in rows]),
        labels=labels,
    )


# --- features and the head ---------------------------------------------------------------------------------------


def detail_features(model, crops: Array, batch: int = 32) -> tuple[Array, Array]:
    """The frozen network's detail-head input (:func:`model.loda.detail_inputs`) and main raw score per crop."""
    import torch

    from model.loda import detail_inputs

    feats, raws = [], []
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(crops), batch):
            x = torch.from_numpy(crops[s : s + batch]).float().div_(255.0)
            cnn = model.cnn_features(x)
            cls_token = model.features_from(model.embed_tokens(x), cnn)
            feats.append(detail_inputs(cnn).numpy())
            raws.append(model.forward_head(cls_token).numpy())
    return np.concatenate(feats), np.concatenate(raws)


@dataclass
class HeadResult:
    state: dict[str, Array]
    train_loss: float
    val_pair_accuracy: float | None


def pair_accuracy(pred: Array, labels: Array, groups: Array, gap: float = 0.05) -> float:
    """Of the pairs of crops of one source crop whose labels differ by more than ``gap``, the fraction the
    predictions order the same way."""
    right = total = 0
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        p, t = pred[idx], labels[idx]
        diff = t[:, None] - t[None, :] > gap
        right += int(((p[:, None] - p[None, :]) > 0)[diff].sum())
        total += int(diff.sum())
    return right / total if total else float("nan")


def train_head(
    feats: Array,
    targets: Array,
    groups: Array,
    *,
    hidden: int = 64,
    steps: int = 3000,
    lr: float = 3e-3,
    pair_weight: float = 1.0,
    weight_decay: float = 1e-4,
    val: Array | None = None,
    seed: int = 0,
) -> HeadResult:
    """Train a :class:`model.loda.DetailHead` on fixed features, full batch. ``targets`` are in the network's raw
    units; ``val`` (a boolean mask) keeps some source crops out for the reported pair accuracy."""
    import torch

    from model.loda import DetailHead

    torch.manual_seed(seed)
    train = np.ones(len(feats), bool) if val is None else ~val
    x = torch.from_numpy(feats[train]).float()
    t = torch.from_numpy(targets[train]).float()
    g = torch.from_numpy(groups[train])
    head = DetailHead(feats.shape[1], hidden)
    with torch.no_grad():
        head.shift.copy_(x.mean(0))
        head.scale.copy_(1.0 / x.std(0).clamp_min(1e-6))
    ids = torch.unique(g)
    members = [torch.nonzero(g == i).flatten() for i in ids]
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    loss = torch.tensor(0.0)
    for step in range(steps):
        picked = torch.randperm(len(members))[:128]  # whole groups, so that every pair of a source crop is there
        idx = torch.cat([members[i] for i in picked.tolist()])
        p = head(x[idx])
        gap = t[idx][:, None] - t[idx][None, :]
        want = (g[idx][:, None] == g[idx][None, :]) & (gap > 0.02)
        pair = torch.relu(0.5 * gap - (p[:, None] - p[None, :]))[want]
        loss = torch.mean((p - t[idx]) ** 2) + pair_weight * (pair.mean() if pair.numel() else 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step + 1) / steps))
    accuracy = None
    if val is not None and val.any():
        with torch.no_grad():
            pv = head(torch.from_numpy(feats[val]).float()).numpy()
        accuracy = pair_accuracy(pv, targets[val], groups[val])
    state = {k: v.detach().numpy().copy() for k, v in head.state_dict().items()}
    return HeadResult(state, float(loss.detach()), accuracy)


def train_detail(
    pool: Path,
    base: Path,
    out: Path,
    *,
    hidden: int = 64,
    steps: int = 3000,
    pair_weight: float = 1.0,
    workers: int = 1,
    chosen: int = 6,
    random: int = 2,
    cache: Path | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, object]:
    """Make the detail set from ``pool``'s training photos, train the head on the frozen network of profile
    ``base`` and write ``out``: the same profile (kind full) with ``detail_hidden`` set and the head's tensors.
    ``chosen`` / ``random``: crops per photo where the app would put them / anywhere. ``cache`` (an ``.npz``)
    keeps the labels and features between runs. Returns a report."""
    import time

    from model.preprocess import wants_detail
    from model.profiles import load_model, read_profile

    start = time.perf_counter()
    photos = sorted(p for p in Path(pool).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
    held = held_out_stems([p.stem for p in photos])
    profile = read_profile(base)
    model = load_model(profile, device="cpu")
    size = model.config.img_size
    train_photos = [
        p for p in photos if p.stem not in held and wants_detail(Image.open(p).size, model.config.short_side, size)
    ]
    if cache is not None and Path(cache).exists():
        data = dict(np.load(cache, allow_pickle=False))
    else:
        progress(f"{len(train_photos)} training photos (of {len(photos)}; {len(held)} held out)")
        ds = make_detail_set(
            train_photos,
            chosen=chosen,
            random=random,
            size=size,
            workers=workers,
            progress=lambda i, n: progress(f"crops: {i}/{n} photos"),
        )
        feats, raws = detail_features(model, ds.crops)
        data = {"groups": ds.groups, "labels": ds.labels, "kinds": np.array(ds.kinds), "feats": feats, "raws": raws}
        data["strengths"] = ds.strengths
        if cache is not None:
            np.savez(cache, **data)
    a, b = profile.calibration
    targets = (data["labels"] - b) / a
    groups = data["groups"]
    rng = np.random.default_rng(0)
    val_groups = rng.choice(np.unique(groups), size=max(1, len(np.unique(groups)) // 7), replace=False)
    val = np.isin(groups, val_groups)
    check = train_head(data["feats"], targets, groups, hidden=hidden, steps=steps, pair_weight=pair_weight, val=val)
    progress(f"held-back crops: pair accuracy {check.val_pair_accuracy:.3f}")
    final = train_head(data["feats"], targets, groups, hidden=hidden, steps=steps, pair_weight=pair_weight)
    report = {
        "photos": len(train_photos),
        "crops": len(groups),
        "damage": list(DAMAGE),
        "hidden": hidden,
        "steps": steps,
        "pair_weight": pair_weight,
        "val_pair_accuracy": round(float(check.val_pair_accuracy or float("nan")), 4),
        "seconds": round(time.perf_counter() - start, 1),
    }
    _save_with_head(model, profile, final.state, hidden, report, out)
    return report


def _save_with_head(model, profile, head: dict[str, Array], hidden: int, report: dict, out: Path) -> None:
    """``profile`` (its network ``model``) saved full to ``out`` with the detail head ``head`` and its report."""
    import torch

    from model.loda import LoDa
    from model.profiles import save_profile

    config = model.config.replace(detail_hidden=hidden)
    full = LoDa(config, pretrained=False)
    state = model.state_dict()
    state.update({f"detail_head.{k}": torch.from_numpy(v) for k, v in head.items()})
    full.load_state_dict(state, strict=True)
    meta = dict(profile.metadata)
    meta["config"] = config.to_dict()
    meta["kind"] = "full"
    meta["detail_head"] = report
    save_profile(out, {k: v.numpy() for k, v in full.state_dict().items()}, meta)


__all__ = [
    "DAMAGE",
    "DetailSet",
    "HeadResult",
    "damage",
    "detail_features",
    "held_out_stems",
    "make_detail_set",
    "pair_accuracy",
    "train_detail",
    "train_head",
]
