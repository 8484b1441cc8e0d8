"""A synthetic rated shoot for the fine-tuning tests: contents × blur levels, rated 5, 4, 3, 2 by level.

Small textured images (90×72: the tiny config runs with 64 px crops and a 72 px short side), so a few epochs on
one CPU thread take seconds. The ratings follow the distortion level exactly, as a photographer's would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

W, H = 90, 72
LEVELS = 4
TINY_ARGS = ["--img-size", "64", "--short-side", "72"]


def make_rated_photos(root: Path, n_contents: int = 10, seed: int = 0) -> dict[Path, int]:
    """Write ``n_contents * 4`` JPEGs under ``root``; returns path → stars (5 sharp … 2 most blurred)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    out = {}
    for i in range(n_contents):
        colours = rng.integers(0, 256, size=(4, 5, 3)).astype(np.uint8)
        base = np.asarray(Image.fromarray(colours).resize((W, H), Image.Resampling.BICUBIC), dtype=np.float64)
        freq, angle = rng.uniform(0.3, 0.8), rng.uniform(0, np.pi)
        texture = 40 * np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy)) + rng.normal(0, 12, (H, W))
        image = np.clip(base + texture[..., None], 0, 255).astype(np.uint8)
        for level in range(LEVELS):
            blurred = Image.fromarray(image).filter(ImageFilter.GaussianBlur(level))
            path = root / f"c{i:02d}_blur{level}.jpg"
            blurred.save(path, quality=95)
            out[path] = 5 - level
    return out


def rate_in_catalog(ratings: dict[Path, int]) -> None:
    """Store the ratings in the (test's) catalog, as if the photographer had rated them in the window."""
    from loda_desktop.catalog import Catalog

    with Catalog() as catalog:
        catalog.add_photos(ratings)
        for stars in set(ratings.values()):
            catalog.set_rating([p for p, s in ratings.items() if s == stars], stars)
