"""Thumbnails: the embedded EXIF thumbnail first, else a draft() decode; always upright; errors explained."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from loda_desktop import thumbnails
from loda_desktop.thumbnails import ThumbnailCache, ThumbnailError, load_thumbnail, make_thumbnail
from tests.helpers.raw_files import hide_module

from .badfiles import make_shoot, photo

RED, BLUE, BLACK = (220, 20, 20), (20, 20, 220), (0, 0, 0)


def exif_with_thumbnail(thumb: Image.Image, orientation: int = 1) -> bytes:
    """An EXIF block (little-endian TIFF) with IFD0 {Orientation} and IFD1 {JPEG thumbnail offset, length}."""
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=90)
    blob = buf.getvalue()
    ifd0_at = 8
    ifd1_at = ifd0_at + 2 + 12 + 4
    blob_at = ifd1_at + 2 + 2 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", ifd0_at)
    tiff += struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", ifd1_at)
    tiff += struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x0201, 4, 1, blob_at) + struct.pack("<HHII", 0x0202, 4, 1, len(blob))
    tiff += struct.pack("<I", 0)
    return b"Exif\x00\x00" + tiff + blob


def camera_jpeg(path, size=(1200, 800), thumb_size=(160, 120), orientation=1, letterbox=True):
    """A blue photo carrying a red EXIF thumbnail (4:3 with black bars, as many 3:2 cameras write it)."""
    tw, th = thumb_size
    thumb = Image.new("RGB", thumb_size, BLACK)
    aspect = size[0] / size[1]
    inner_h = round(tw / aspect) if letterbox else th
    thumb.paste(Image.new("RGB", (tw, inner_h), RED), (0, (th - inner_h) // 2))
    Image.new("RGB", size, BLUE).save(path, "JPEG", quality=90, exif=exif_with_thumbnail(thumb, orientation))
    return path


def mean_colour(img):
    small = img.resize((1, 1), Image.Resampling.BOX)
    return small.getpixel((0, 0))


def close(colour, expected, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(colour, expected, strict=True))


def test_embedded_thumbnail_is_used_and_its_bars_cropped(tmp_path):
    path = camera_jpeg(tmp_path / "cam.jpg")
    thumb = make_thumbnail(path, 256)
    assert thumb.source == "exif"
    assert thumb.full_size == (1200, 800)
    w, h = thumb.image.size
    assert w / h == pytest.approx(1.5, rel=0.03)  # 160x120 with bars → 160x107
    assert close(mean_colour(thumb.image), RED)  # the embedded picture, without black bars


def test_embedded_thumbnail_follows_the_orientation(tmp_path):
    path = camera_jpeg(tmp_path / "portrait.jpg", orientation=6)
    thumb = make_thumbnail(path, 256)
    assert thumb.source == "exif" and thumb.full_size == (800, 1200)
    w, h = thumb.image.size
    assert h > w


def test_small_embedded_thumbnail_or_none_means_decoding(tmp_path, monkeypatch):
    path = camera_jpeg(tmp_path / "cam.jpg", thumb_size=(64, 48))
    drafts = []
    real_draft = Image.Image.draft

    def spy(self, mode, size):
        drafts.append(size)
        return real_draft(self, mode, size)

    monkeypatch.setattr(Image.Image, "draft", spy)
    thumb = make_thumbnail(path, 256)  # 64 px is too small for a 256 px cell
    assert thumb.source == "decoded" and drafts  # DCT-scaled decode, not a full one
    assert close(mean_colour(thumb.image), BLUE)
    assert max(thumb.image.size) == 256 and thumb.full_size == (1200, 800)
    assert make_thumbnail(path, 100).source == "exif"  # big enough for a 100 px thumbnail


def test_decoded_thumbnails_are_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90° counter-clockwise to view
    path = tmp_path / "rot.jpg"
    Image.new("RGB", (600, 300), BLUE).save(path, "JPEG", exif=exif)
    thumb = make_thumbnail(path, 128)
    assert thumb.image.size == (64, 128) and thumb.full_size == (300, 600)


def test_every_format_and_every_bad_file(tmp_path, monkeypatch):
    files = make_shoot(tmp_path / "shoot")
    hide_module(monkeypatch, "pillow_heif")  # phone.heic stands for a HEIC without its optional decoder
    for name, path in files.items():
        if name.startswith("good"):
            thumb = make_thumbnail(path, 128)
            assert max(thumb.image.size) == 128 and thumb.image.mode == "RGB", name
    reasons = {}
    for name in ("empty", "truncated", "non_image", "bomb", "unsupported"):
        with pytest.raises(ThumbnailError) as info:
            make_thumbnail(files[name], 128)
        reasons[name] = str(info.value)
    assert "empty" in reasons["empty"]
    assert "not an image" in reasons["non_image"]
    assert "too many pixels" in reasons["bomb"]
    assert "pillow-heif" in reasons["unsupported"]
    with pytest.raises(ThumbnailError, match="no longer exists"):
        make_thumbnail(tmp_path / "gone.jpg")


def test_disk_cache_keeps_decoded_thumbnails_until_the_file_changes(tmp_path, monkeypatch):
    import os

    path = photo(tmp_path / "p.png", size=(800, 600))
    cache = ThumbnailCache(tmp_path / "cache")
    first = load_thumbnail(path, 128, cache)
    assert first.source == "decoded"
    assert load_thumbnail(path, 128, cache).source == "cache"
    assert load_thumbnail(path, 64, cache).source == "decoded"  # another size, another entry
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert load_thumbnail(path, 128, cache).source == "decoded"

    def no_decode(*a, **k):
        raise AssertionError("should come from the cache")

    monkeypatch.setattr(thumbnails, "make_thumbnail", no_decode)
    assert load_thumbnail(path, 128, cache).image.size == (128, 96)
    cache.max_bytes = 0
    assert cache.prune() == 3 and cache.get(path, 128) is None


def test_a_damaged_cache_file_is_ignored(tmp_path):
    path = photo(tmp_path / "p.png", size=(300, 200))
    cache = ThumbnailCache(tmp_path / "cache")
    load_thumbnail(path, 64, cache)
    (cached,) = (tmp_path / "cache").glob("*/*.jpg")
    cached.write_bytes(b"garbage")
    assert load_thumbnail(path, 64, cache).source == "decoded"


def test_a_long_thin_strip_still_gets_a_thumbnail(tmp_path):
    path = tmp_path / "strip.png"
    Image.new("RGB", (1, 5000), BLUE).save(path)  # refused for scoring (aspect ratio), still shown in the grid
    thumb = make_thumbnail(path, 128)
    assert thumb.source == "decoded" and thumb.image.size[1] == 128 and thumb.full_size == (1, 5000)


def test_pixels_over_the_limit_are_refused_with_the_limit_named(tmp_path, monkeypatch):
    path = photo(tmp_path / "big.png", size=(400, 300))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # 120,000 pixels: only a warning for Pillow
    with pytest.raises(ThumbnailError, match="too many pixels") as info:
        make_thumbnail(path, 128)
    assert "100,000" in str(info.value)


def test_out_of_memory_while_decoding_has_a_reason(tmp_path, monkeypatch):
    path = photo(tmp_path / "p.png", size=(300, 200))

    def no_memory(*a, **k):
        raise MemoryError

    monkeypatch.setattr(thumbnails, "open_image", no_memory)
    with pytest.raises(ThumbnailError, match="memory"):
        make_thumbnail(path, 128)
