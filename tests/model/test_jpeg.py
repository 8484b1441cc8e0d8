"""model.jpeg: simplejpeg's decode gives Pillow's pixels, full size and DCT-scaled, and declines what it cannot do."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from model import jpeg

pytest.importorskip("simplejpeg")


def encode(arr: np.ndarray, **params) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", **params)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo() -> bytes:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (12, 18, 3), dtype=np.uint8)
    arr = np.asarray(Image.fromarray(small).resize((451, 300), Image.Resampling.BICUBIC))
    return encode(arr, quality=90)


def pillow(data: bytes, denominator: int = 1) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    if denominator > 1:
        img.draft(img.mode, (img.width // denominator, img.height // denominator))
    img.load()
    return img


@pytest.mark.parametrize("denominator", [1, 2, 4, 8])
def test_same_pixels_as_pillow(photo, denominator):
    ours, theirs = jpeg.decode_jpeg(photo, scale_denominator=denominator), pillow(photo, denominator)
    assert ours is not None and ours.mode == "RGB" and ours.size == theirs.size
    assert np.array_equal(np.asarray(ours), np.asarray(theirs))


def test_rgbx_is_the_same_image_without_a_copy(photo, tmp_path):
    path = tmp_path / "p.jpg"
    path.write_bytes(photo)
    rgbx = jpeg.decode_jpeg(path, rgbx=True)
    assert rgbx is not None and rgbx.mode == "RGBX"
    assert np.array_equal(np.asarray(rgbx.reduce(3).convert("RGB")), np.asarray(pillow(photo).reduce(3)))


def test_grey_and_exif_orientation(photo):
    grey = encode(np.full((40, 60), 128, np.uint8))
    img = jpeg.decode_jpeg(grey)
    assert img is not None and img.mode == "L" and np.array_equal(np.asarray(img), np.asarray(pillow(grey)))

    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    rotated = encode(np.asarray(pillow(photo)), quality=90, exif=exif.tobytes())
    ours, theirs = jpeg.decode_jpeg(rotated), pillow(rotated)
    assert ours is not None
    upright = ImageOps.exif_transpose(ours)
    assert upright.size == (300, 451)
    assert np.array_equal(np.asarray(upright), np.asarray(ImageOps.exif_transpose(theirs)))


def test_what_it_declines_is_left_to_pillow(photo):
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    png = io.BytesIO()
    Image.fromarray(arr).save(png, "PNG")
    cmyk = io.BytesIO()
    Image.fromarray(arr).convert("CMYK").save(cmyk, "JPEG")
    assert jpeg.decode_jpeg(png.getvalue()) is None
    assert jpeg.decode_jpeg(cmyk.getvalue()) is None
    assert jpeg.decode_jpeg(photo[: len(photo) // 2]) is None  # truncated: Pillow words the error
    with pytest.raises(ValueError, match="scale_denominator"):
        jpeg.decode_jpeg(photo, scale_denominator=3)


def test_without_simplejpeg_the_answer_is_none(photo, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "simplejpeg", None)  # import fails
    assert jpeg.decode_jpeg(photo) is None
