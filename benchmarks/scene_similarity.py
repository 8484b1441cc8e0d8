"""How alike near-identical frames and different photos look to a model (not a test): the measurement behind
``trainer.finetune.SCENE_SIMILARITY``.

    .venv/bin/python benchmarks/scene_similarity.py [--model loda-default]

Every real photo of ``assets/demo`` and (when installed: ``apt-get install mate-backgrounds``)
``/usr/share/backgrounds/mate/nature`` is resized to 1600 px wide and copied with small changes a burst or a
re-export makes: shifted 8 px (and resized back) or 30 px (cropped), exposure +15 % / -20 %, Gaussian blur of 1
and 2.5 px, Gaussian noise σ 6, JPEG quality 50; plus a reframed copy (the top-left 80 %), reported but not a
near-duplicate. For two features it prints the lowest cosine similarity between a photo and its near-identical
copies, the reframed copy's lowest, and the highest between two different photos (any copies):

- ``scene``: :func:`trainer.scenes.scene_features` (the CNN's last stage on the whole photo squashed to the crop
  size), what the fine-tuning's scene split uses;
- ``cls``: the ViT's final CLS token (:meth:`model.loda.LoDa.forward_features`) on the centre crop.

A threshold separates them when the first number is above the last.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    *sorted((ROOT / "assets" / "demo").glob("*.jpg")),
    *sorted(Path("/usr/share/backgrounds/mate/nature").glob("*.jpg")),
]


def copies(img: Image.Image) -> dict[str, Image.Image]:
    """The photo and its near-identical copies (plus ``reframe80``, the top-left 80 %)."""
    w, h = img.size
    noisy = np.asarray(img, dtype=np.float32) + np.random.default_rng(0).normal(0, 6, (h, w, 3))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=50)
    return {
        "original": img,
        "shift8": img.crop((8, 6, w, h)).resize((w, h), Image.Resampling.BICUBIC),
        "shift30": img.crop((30, 20, w, h)),
        "exposure+15%": ImageEnhance.Brightness(img).enhance(1.15),
        "exposure-20%": ImageEnhance.Brightness(img).enhance(0.8),
        "blur1": img.filter(ImageFilter.GaussianBlur(1.0)),
        "blur2.5": img.filter(ImageFilter.GaussianBlur(2.5)),
        "noise6": Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)),
        "jpeg50": Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"),
        "reframe80": img.crop((0, 0, int(w * 0.8), int(h * 0.8))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="loda-default", help="profile (name in assets/models, or a file)")
    args = ap.parse_args()
    import torch

    from model.preprocess import inference_crops, load_for_model
    from model.profiles import load_model, resolve_profile
    from trainer.finetune import scene_features

    module = load_model(resolve_profile(args.model, [ROOT / "assets" / "models"])).eval()
    short, size = module.config.short_side, module.config.img_size
    rows: dict[str, dict[tuple[int, str], np.ndarray]] = {"scene": {}, "cls": {}}
    for i, source in enumerate(SOURCES):
        img = Image.open(source).convert("RGB")
        img = img.resize((1600, round(1600 * img.height / img.width)), Image.Resampling.BICUBIC)
        for name, copy in copies(img).items():
            arr = np.asarray(load_for_model(copy, short))
            rows["scene"][(i, name)] = scene_features(module, [arr])[0]
            centre = torch.from_numpy(inference_crops(Image.fromarray(arr), 1, size)).float().div_(255.0)
            with torch.no_grad():
                rows["cls"][(i, name)] = module.forward_features(centre)[0].double().numpy()
    names = list(copies(Image.new("RGB", (64, 64))))
    print(f"{len(SOURCES)} photos, model {args.model}")
    for feature, table in rows.items():
        unit = {k: v / np.linalg.norm(v) for k, v in table.items()}
        same = {n: min(float(unit[(i, "original")] @ unit[(i, n)]) for i in range(len(SOURCES))) for n in names[1:]}
        near = {n: v for n, v in same.items() if n != "reframe80"}
        worst = min(near, key=near.__getitem__)
        different = max(
            float(unit[(i, a)] @ unit[(j, b)])
            for i in range(len(SOURCES))
            for j in range(i + 1, len(SOURCES))
            for a in names
            for b in names
        )
        print(
            f"{feature:6s} near-identical copies: lowest {near[worst]:.3f} ({worst}); reframed: lowest "
            f"{same['reframe80']:.3f}; different photos: highest {different:.3f}"
        )


if __name__ == "__main__":
    main()
