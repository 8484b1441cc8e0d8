"""Wall time of one fine-tune (``trainer.finetune.finetune``) on N rated photos, and where it goes (not a test).

    .venv/bin/python benchmarks/finetune_speed.py --n 50 200 [--size 1600x1067] [--model loda-default]

Makes N rated photos of realistic size from real photos (once, under ``--photos``, default
``/tmp/loda-finetune-bench``): photo i is a random 3:2 window (70-100 % of the width) of source photo
``i mod S`` (``assets/demo/*.jpg`` and, when installed, ``/usr/share/backgrounds/mate/nature/*.jpg``: S = 17),
resized to ``--size``, damaged at level ``L = i mod 5`` (even i: Gaussian blur of radius 2.5·L px, odd i:
Gaussian noise of 7·L levels; both times height / 1067, so the model sees the same damage at any size) and rated
``5 - L`` stars, as a photographer would. Capture times are two minutes apart, so only the look-alike test can
put two photos in one scene.

Then fine-tunes the model with the default :class:`~trainer.finetune.FinetuneConfig` on every core torch uses
(the app's situation; ``--full``: no early stopping, every epoch runs, for comparing
versions) and prints the wall time split into phases from the progress callbacks: start-up (decode,
model load, scene features, caches) until the first evaluation starts, the evaluations (base and each epoch),
the training steps, and saving (calibration + writing), plus the held-out SRCC before/after.

``--per-crop`` instead times the parts of one training step per crop (frozen CNN, patch embedding, forward and
training step, whole and from cached frozen outputs; float32 and bfloat16 autocast) on random crops.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    *sorted((ROOT / "assets" / "demo").glob("*.jpg")),
    *sorted(Path("/usr/share/backgrounds/mate/nature").glob("*.jpg")),
]
LEVELS = 5


def make_photo(i: int, out: Path, size: tuple[int, int]) -> tuple[str, int]:
    """Photo ``i`` (see the module docstring); returns (file name, stars)."""
    rng = np.random.default_rng((i, 0xBE))
    src = Image.open(SOURCES[i % len(SOURCES)]).convert("RGB")
    w, h = size
    sw, sh = src.size
    cw = min(sw, round(sh * w / h)) * rng.uniform(0.7, 1.0)
    ch = cw * h / w
    left, top = rng.uniform(0, sw - cw), rng.uniform(0, sh - ch)
    img = src.resize((w, h), Image.Resampling.BICUBIC, box=(left, top, left + cw, top + ch))
    level = i % LEVELS
    scale = h / 1067  # the same damage as seen by the model (short side 384) at any size
    if level and i % 2 == 0:
        img = img.filter(ImageFilter.GaussianBlur(2.5 * level * scale))
    elif level:
        noise = rng.normal(0, 7.0 * level * scale, (h, w, 3)).astype(np.float32)
        arr = np.asarray(img, dtype=np.float32) + noise
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    name = f"p{i:04d}.jpg"
    img.save(out / name, quality=92)
    return name, 5 - level


def make_photos(root: Path, n: int, size: tuple[int, int]) -> dict[Path, int]:
    """``n`` rated photos under ``root / f"{n}_{w}x{h}"`` (reused when already there): path → stars."""
    folder = root / f"{n}_{size[0]}x{size[1]}"
    index = folder / "ratings.json"
    if index.is_file():
        return {folder / k: v for k, v in json.loads(index.read_text()).items()}
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(2) as pool:
        rated = dict(pool.map(partial(make_photo, out=folder, size=size), range(n)))
    index.write_text(json.dumps(rated))
    return {folder / k: v for k, v in rated.items()}


def run_once(args: argparse.Namespace, rated: dict[Path, int]) -> dict[str, float]:
    from model.profiles import resolve_profile
    from trainer.finetune import FinetuneConfig, Rated, finetune, samples_from_ratings

    base = resolve_profile(args.model, [ROOT / "assets" / "models"])
    samples = samples_from_ratings(Rated(p, s) for p, s in rated.items())
    cfg = FinetuneConfig()
    cfg.epochs = args.epochs or cfg.epochs
    cfg.patience = cfg.epochs if args.full else cfg.patience
    if args.amp:
        cfg.amp = True  # type: ignore[attr-defined]  (the version before the cache had no such field)
    if args.bank_crops is not None:
        cfg.bank_crops = args.bank_crops  # type: ignore[attr-defined]
    kwargs = {}
    if "capture_times" in inspect.signature(finetune).parameters:  # the version before scene splits had none
        kwargs["capture_times"] = {p: 1.7e9 + 120.0 * k for k, p in enumerate(sorted(rated))}
    events: list[tuple[float, str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = finetune(
            base,
            samples,
            Path(tmp) / "bench.safetensors",
            name="bench",
            cfg=cfg,
            on_progress=lambda p: events.append((time.perf_counter(), p.phase)),
            **kwargs,
        )
    total = time.perf_counter() - started
    phases = {"startup": events[0][0] - started, "evaluating": 0.0, "training": 0.0, "saving": 0.0}
    previous = events[0][0]
    for (t, phase), (t_next, _) in zip(events, [*events[1:], (started + total, "end")], strict=True):
        if phase == "evaluating":
            phases["evaluating"] += t_next - t
        elif phase == "saving":
            phases["saving"] += t_next - t
        elif phase == "training":
            phases["training"] += t - previous
        previous = t if phase in ("training", "epoch") else previous
    return {
        "n": len(samples),
        "total_s": round(total, 1),
        "per_epoch_s": round(phases["training"] / max(1, result.epochs_run), 1),
        **{f"{k}_s": round(v, 1) for k, v in phases.items()},
        "epochs_run": result.epochs_run,
        "n_train": result.n_train,
        "n_test": result.n_test,
        "srcc_before": round(result.srcc_before, 3),
        "srcc_after": round(result.srcc_after, 3),
        **{k: getattr(result, k) for k in ("n_test_scenes", "n_scenes") if hasattr(result, k)},
    }


def per_crop(model: str, batch: int = 16, repeats: int = 3) -> None:
    """Milliseconds per crop of the parts of one fine-tuning step, float32 and bfloat16 autocast: the frozen CNN,
    the ViT's patch embedding, a forward pass whole and from cached frozen outputs, a training step (forward and
    backward of the PLCC loss) whole and from cached outputs."""
    import torch

    from model.profiles import load_model, resolve_profile

    module = load_model(resolve_profile(model, [ROOT / "assets" / "models"]))
    module.set_bn_adapt(False)
    module.train()
    size = module.config.img_size
    x, y = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)), torch.linspace(0, 1, batch)

    for amp in (False, True):
        row = _per_crop_row(module, x, y, amp, repeats)
        print(json.dumps({"bf16": amp, **{f"{k}_ms": round(v, 1) for k, v in row.items()}}), flush=True)


def _per_crop_row(module: Any, x: Any, y: Any, amp: bool, repeats: int) -> dict[str, float]:
    import torch

    from trainer.losses import batch_loss_grad

    def ms(fn: Any) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - start) / repeats / x.shape[0] * 1000

    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        tokens, features = module.embed_tokens(x).float(), [f.float() for f in module.cnn_features(x)]
        row = {
            "cnn": ms(lambda: module.cnn_features(x)),
            "embed": ms(lambda: module.embed_tokens(x)),
            "forward": ms(lambda: module(x)),
            "forward_cached": ms(lambda: module.forward_cached(tokens, features)),
        }

    def step(cached: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            pred = module.forward_cached(tokens, features) if cached else module(x)
        pred = pred.float()
        _, grad = batch_loss_grad(pred.detach(), y)
        (pred * grad).sum().backward()

    return row | {"step": ms(lambda: step(False)), "step_cached": ms(lambda: step(True))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[50, 200], help="numbers of rated photos (default: 50 200)")
    ap.add_argument("--size", default="1600x1067", help="WIDTHxHEIGHT of the photos (default: 1600x1067)")
    ap.add_argument("--photos", type=Path, default=Path(tempfile.gettempdir()) / "loda-finetune-bench")
    ap.add_argument("--model", default="loda-default", help="base profile (name in assets/models, or a file)")
    ap.add_argument("--epochs", type=int, default=None, help="override the default number of epochs")
    ap.add_argument("--full", action="store_true", help="no early stopping: run every epoch")
    ap.add_argument("--amp", action="store_true", help="bfloat16 autocast in the training steps")
    ap.add_argument("--bank-crops", type=int, default=None, help="FinetuneConfig.bank_crops (0: fresh crops)")
    ap.add_argument("--per-crop", action="store_true", help="only time the parts of a step per crop (no photos)")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)
    if args.per_crop:
        per_crop(args.model)
        return
    for n in args.n:
        rated = make_photos(args.photos, n, size)  # type: ignore[arg-type]
        print(json.dumps(run_once(args, rated)), flush=True)


if __name__ == "__main__":
    main()
