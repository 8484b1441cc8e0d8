from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(scope="session")
def tiny_model():
    """A random-weight ``loda_tiny`` network in eval mode (built once per session; do not mutate)."""
    from model import create_model

    torch.manual_seed(0)
    return create_model("loda_tiny").eval()


def make_photo(path, size=(480, 320), seed=0, fmt=None, **save_kw):
    """A smooth random colour photo-like image written to ``path``."""
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 256, size=(max(2, h // 40), max(2, w // 40), 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    img.save(path, format=fmt, **save_kw)
    return path
