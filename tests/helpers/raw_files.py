"""Camera RAW (DNG) and HEIC files written by the tests themselves, and a way to hide an optional package.

The DNG is a real one that LibRaw (rawpy) decodes: a 16-bit RGGB Bayer mosaic (PhotometricInterpretation
32803, CFA) with the DNG tags LibRaw needs (DNGVersion, UniqueCameraModel, ColorMatrix1, AsShotNeutral,
CFARepeatPatternDim, CFAPattern, BlackLevel, WhiteLevel), written by tifffile. With ``preview`` the file is laid
out as cameras and Adobe's converter do: IFD0 holds an 8-bit RGB preview (NewSubFileType 1) and the mosaic is in
a SubIFD; without it the mosaic is the only image, so LibRaw has to demosaic it.

The mosaic is a left-to-right ramp (dark on the left, bright on the right), the preview a flat :data:`PREVIEW_RGB`:
a test tells which route the decoder took from the pixels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

PREVIEW_RGB = (20, 60, 200)

_MAKE, _MODEL = 271, 272


def _dng_tags() -> list[tuple]:
    identity = (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)  # a 3x3 identity as SRATIONALs
    return [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "LoDa Test Camera", True),  # UniqueCameraModel
        (50721, "2i", 9, identity, True),  # ColorMatrix1
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
        (_MAKE, "s", 0, "LoDa", True),
        (_MODEL, "s", 0, "Test Camera", True),
    ]


def _cfa_tags() -> list[tuple]:
    return [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50714, "H", 1, (0,), True),  # BlackLevel
        (50717, "H", 1, (4095,), True),  # WhiteLevel (12-bit data)
    ]


def mosaic(height: int = 256, width: int = 384) -> np.ndarray:
    """The Bayer data: a horizontal ramp from 50 to 4050 (12 bits in 16)."""
    ramp = (np.arange(width) * 4000 // width + 50).astype(np.uint16)
    return np.broadcast_to(ramp, (height, width)).copy()


def write_dng(path: Path, *, preview: bool = True, size: tuple[int, int] = (384, 256)) -> Path:
    """A small DNG (``size`` = width, height of the mosaic) that LibRaw decodes; see the module docstring."""
    import tifffile

    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tw:
        if preview:
            thumb = np.empty((height // 2, width // 2, 3), np.uint8)
            thumb[...] = PREVIEW_RGB
            tw.write(thumb, photometric="rgb", subfiletype=1, subifds=1, extratags=_dng_tags())
            tw.write(mosaic(height, width), photometric=32803, subfiletype=0, extratags=_cfa_tags())
        else:
            tags = _dng_tags() + _cfa_tags()
            tw.write(mosaic(height, width), photometric=32803, subfiletype=0, extratags=tags)
    return path


def write_heic(path: Path, size: tuple[int, int] = (480, 320), colour=(200, 40, 40)) -> Path:
    """A HEIC encoded by pillow-heif (libheif + x265), a horizontal ramp tinted ``colour``."""
    import pillow_heif
    from PIL import Image

    w, h = size
    ramp = np.linspace(0.3, 1.0, w)[None, :, None] * np.array(colour, dtype=np.float64)[None, None, :]
    image = Image.fromarray(np.broadcast_to(ramp, (h, w, 3)).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    pillow_heif.from_pillow(image).save(path, quality=90)
    return path


def hide_module(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make the optional package ``name`` look uninstalled (``import`` fails, ``find_spec`` finds nothing) for
    the rest of the test; for pillow-heif also forget that preprocess registered its Pillow plugin."""
    monkeypatch.setitem(sys.modules, name, None)
    if name == "pillow_heif":
        import model.preprocess as pre

        monkeypatch.setattr(pre, "_heif_registered", False)
