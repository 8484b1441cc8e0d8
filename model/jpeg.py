"""JPEG decoding through simplejpeg (libjpeg-turbo's TurboJPEG API), when it is installed.

:func:`decode_jpeg` returns the Pillow image ``Image.open(...).load()`` would give, pixel for pixel (both are
libjpeg-turbo with the same settings; ``benchmarks/decode_jpeg.py`` and ``tests/model/test_jpeg.py`` check it),
or None when the input is not a JPEG simplejpeg recognises (a truncated file is not), is a CMYK one, or
simplejpeg is missing: the caller then decodes with Pillow, which also words the error of a damaged file.

Why: a full-resolution decode of a 24-MP JPEG took 69 ms through simplejpeg against 113 ms through Pillow (one
thread, docs/performance.md), because Pillow decodes row by row through its own unpackers. simplejpeg writes
RGBX rows straight into one numpy buffer, which Pillow maps without a copy (mode ``RGBX``: Pillow's own RGB
layout plus the padding byte). ``rgbx=True`` returns that image as is (``reduce()``, ``resize()`` and ``crop()``
work on it and give the same values; convert the small result with ``convert("RGB")``); by default it is
converted to ``RGB`` (a copy: 19 ms at 24 MP). The DCT-scaled decode (``scale_denominator`` 2, 4 or 8, what
Pillow's ``draft()`` does) gains little: Huffman decoding, the same in both, is most of its cost.

The EXIF block is kept in ``image.info["exif"]``, so ``ImageOps.exif_transpose`` orients the result as it
would a Pillow-decoded JPEG.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image

SCALES = (1, 2, 4, 8)
_COLOURSPACES = {"YCbCr": "RGBX", "RGB": "RGBX", "Gray": "GRAY"}  # CMYK and YCCK are left to Pillow


def available() -> bool:
    return importlib.util.find_spec("simplejpeg") is not None


def decode_jpeg(
    path_or_bytes: str | Path | bytes,
    *,
    scale_denominator: int = 1,
    rgbx: bool = False,
    check_size: Callable[[tuple[int, int]], None] | None = None,
) -> Image.Image | None:
    """The JPEG ``path_or_bytes`` decoded to an 8-bit ``RGB`` image (``RGBX`` with ``rgbx``; ``L`` for a grey
    JPEG) at 1/``scale_denominator`` of its size, or None when it is not a JPEG, is CMYK, or simplejpeg is not
    installed. ValueError for a damaged JPEG; OSError for a file that cannot be read. ``check_size((width,
    height))`` is called with the header's size before any pixel is decoded (it raises to refuse the image)."""
    if scale_denominator not in SCALES:
        raise ValueError(f"scale_denominator must be one of {SCALES}, got {scale_denominator}")
    try:
        import simplejpeg
    except ImportError:
        return None
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    if not simplejpeg.is_jpeg(data):
        return None
    height, width, colourspace, _ = simplejpeg.decode_jpeg_header(data)
    if check_size is not None:
        check_size((width, height))
    target = _COLOURSPACES.get(colourspace)
    if target is None:
        return None
    arr = simplejpeg.decode_jpeg(
        data,
        colorspace=target,
        min_height=-(-height // scale_denominator),
        min_width=-(-width // scale_denominator),
    )
    h, w = arr.shape[:2]
    mode = "L" if target == "GRAY" else "RGBX"
    img = Image.frombuffer(mode, (w, h), arr, "raw", mode, 0, 1)  # maps the buffer: no copy
    if mode == "RGBX" and not rgbx:
        img = img.convert("RGB")
    with Image.open(io.BytesIO(data)) as header:  # the header only: its EXIF block, for the orientation
        exif = header.info.get("exif")
    if exif:
        img.info["exif"] = exif
    return img


__all__ = ["SCALES", "available", "decode_jpeg"]
