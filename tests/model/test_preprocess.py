import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from model.preprocess import (
    MAX_IMAGE_PIXELS,
    ImageDecodeError,
    crop_positions,
    load_for_model,
    open_image,
    prepare_inference,
    resize_short_side,
    to_float,
    to_rgb,
    train_crops,
)

from .conftest import make_photo


def test_short_side_resized_to_384_and_15_crops(tmp_path):
    p = make_photo(tmp_path / "a.jpg", size=(1200, 800))
    img = load_for_model(p, 384)
    assert img.size == (576, 384)
    crops = prepare_inference(p, short_side=384, size=224, k=15)
    assert crops.shape == (15, 3, 224, 224) and crops.dtype == np.uint8
    assert np.array_equal(crops, prepare_inference(p, short_side=384, size=224, k=15))  # deterministic


def test_small_images_are_upscaled(tmp_path):
    p = make_photo(tmp_path / "small.png", size=(120, 90))
    assert load_for_model(p, 384).size == (512, 384)


@pytest.mark.parametrize("k", [1, 2, 5, 9, 15, 25])
@pytest.mark.parametrize("shape", [(384, 576), (576, 384), (384, 384), (384, 1400)])
def test_crop_positions_are_k_distinct_in_bounds(k, shape):
    h, w = shape
    pos = crop_positions(h, w, k, 224)
    assert len(pos) == k
    assert all(0 <= t <= h - 224 and 0 <= left <= w - 224 for t, left in pos)
    if k > 1:
        assert len(set(pos)) == k
        # spread: the crops reach both ends of the long side
        lefts = [left for _, left in pos]
        tops = [t for t, _ in pos]
        assert (min(lefts), max(lefts)) == (0, w - 224) or (min(tops), max(tops)) == (0, h - 224)


def test_centre_crop_for_k1():
    assert crop_positions(384, 576, 1, 224) == [(80, 176)]


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (600, 400), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    img.save(tmp_path / "o.jpg", exif=exif)
    assert open_image(tmp_path / "o.jpg").size == (400, 600)


@pytest.mark.parametrize(
    ("mode", "maker"),
    [
        ("L", lambda: Image.new("L", (50, 40), 128)),
        ("LA", lambda: Image.new("LA", (50, 40), (128, 0))),
        ("RGBA", lambda: Image.new("RGBA", (50, 40), (0, 0, 0, 0))),
        ("CMYK", lambda: Image.new("CMYK", (50, 40), (0, 255, 0, 0))),
        ("1", lambda: Image.new("1", (50, 40), 1)),
        ("I;16", lambda: Image.fromarray(np.full((40, 50), 65535, dtype=np.uint16))),
        ("F", lambda: Image.fromarray(np.full((40, 50), 0.5, dtype=np.float32))),
    ],
)
def test_modes_become_8bit_rgb(mode, maker):
    img = maker()
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == (50, 40)
    arr = np.asarray(out)
    if mode in ("RGBA",):
        assert (arr == 255).all()  # fully transparent → composited on white
    if mode == "I;16":
        assert (arr == 255).all()  # 16-bit full scale → 8-bit full scale
    if mode == "F":
        assert abs(int(arr[0, 0, 0]) - 128) <= 1


def test_palette_with_transparency_and_gif_first_frame(tmp_path):
    frames = [Image.new("P", (64, 48), i) for i in (1, 2)]
    for f in frames:
        f.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    arr = np.asarray(open_image(tmp_path / "anim.gif"))
    assert tuple(arr[0, 0]) == (255, 0, 0)  # first frame's colour
    pal = Image.new("P", (10, 10), 0)
    pal.info["transparency"] = 0
    assert to_rgb(pal).getpixel((0, 0)) == (255, 255, 255)


def test_16bit_png_file(tmp_path):
    Image.fromarray(np.full((300, 300), 40000, dtype=np.uint16)).save(tmp_path / "g16.png")
    arr = np.asarray(open_image(tmp_path / "g16.png"))
    assert arr.shape == (300, 300, 3) and abs(int(arr[0, 0, 0]) - round(40000 / 65535 * 255)) <= 1


def test_jpeg_draft_decodes_at_reduced_size(tmp_path):
    p = make_photo(tmp_path / "big.jpg", size=(4000, 3000))
    img = open_image(p, short_side=384)
    assert min(img.size) >= 384 and min(img.size) < 1500  # DCT-scaled on decode
    assert load_for_model(p, 384).size == (512, 384)


def test_arrays_are_accepted():
    arr = (np.random.default_rng(0).random((300, 500, 3))).astype(np.float32)
    assert prepare_inference(arr, k=3).shape == (3, 3, 224, 224)
    assert open_image(np.zeros((20, 30), np.uint16)).size == (30, 20)
    with pytest.raises(ImageDecodeError):
        open_image(np.zeros((2, 3, 5)))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
    ],
)
def test_bad_files_have_readable_reasons(tmp_path, content, reason):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageDecodeError, match=reason):
        open_image(p)


def test_truncated_and_missing(tmp_path):
    p = make_photo(tmp_path / "t.jpg", size=(800, 600))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageDecodeError, match="truncated|damaged"):
        open_image(p)
    with pytest.raises(ImageDecodeError, match="no longer exists"):
        open_image(tmp_path / "gone.jpg")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    p = make_photo(tmp_path / "bomb.png", size=(400, 400))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        open_image(p)


def test_train_crops_are_seeded_and_randomly_flipped_both_ways():
    h, w = 384, 500
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx // 2, yy // 2, np.zeros_like(xx)], axis=-1).astype(np.uint8)  # ramps along x and y
    img = Image.fromarray(arr)
    crops = train_crops(img, 200, 224, np.random.default_rng(0))
    assert crops.shape == (200, 3, 224, 224)
    assert np.array_equal(crops, train_crops(img, 200, 224, np.random.default_rng(0)))  # seeded
    h_flipped = np.array([c[0, 0, 0] > c[0, 0, -1] for c in crops])
    v_flipped = np.array([c[1, 0, 0] > c[1, -1, 0] for c in crops])
    assert 0.35 < h_flipped.mean() < 0.65 and 0.35 < v_flipped.mean() < 0.65
    lefts = {int(min(c[0, 0, 0], c[0, 0, -1])) for c in crops}
    assert len(lefts) > 20  # positions vary
    with pytest.raises(ValueError):
        train_crops(Image.new("RGB", (100, 300)), 1, 224, np.random.default_rng(0))


def test_to_float_range():
    x = to_float(np.array([[0, 255]], dtype=np.uint8))
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0


def test_preprocessing_does_not_import_torch():
    code = "import sys, model.preprocess, model.profiles, model.configs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- decode limits: pixel count, aspect ratio, output size, and a reason every time ---------------------------


def _no_resize(monkeypatch):
    def fail(self, *a, **k):
        raise AssertionError("resize must not be reached")

    monkeypatch.setattr(Image.Image, "resize", fail)


@pytest.mark.parametrize("size", [(1, 5000), (5000, 1)])
def test_a_long_thin_strip_is_refused_before_any_resize(tmp_path, monkeypatch, size):
    p = tmp_path / "strip.png"
    Image.new("RGB", size, (90, 90, 90)).save(p)  # ~100 bytes; scaled to 384 px short side it would be 737 MP
    _no_resize(monkeypatch)
    with pytest.raises(ImageDecodeError, match=r"1:20") as info:
        prepare_inference(p)
    reason = str(info.value)
    assert "1x5000" in reason or "5000x1" in reason
    with pytest.raises(ImageDecodeError, match=r"1:20"):
        load_for_model(np.zeros((*size[::-1], 3), np.uint8), 384)  # arrays too, not only files


def test_the_resized_image_has_a_pixel_budget(monkeypatch):
    _no_resize(monkeypatch)
    with pytest.raises(ImageDecodeError, match="too large to resize"):
        resize_short_side(Image.new("RGB", (2000, 200)), 4096)  # 1:10 is fine, 4096 x 40960 is not


def test_pixels_over_the_limit_are_refused_with_the_limit_named(tmp_path, monkeypatch):
    p = make_photo(tmp_path / "big.png", size=(400, 300))  # 120,000 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # Pillow only warns below 2x its limit
    with pytest.raises(ImageDecodeError, match="too many pixels") as info:
        open_image(p)
    assert "100,000" in str(info.value) and "120,000" in str(info.value)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # past 2x: Pillow's own DecompressionBombError
    with pytest.raises(ImageDecodeError, match="too many pixels") as info:
        open_image(p)
    assert "1,000" in str(info.value)
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        open_image(np.zeros((300, 400, 3), np.uint8))


def test_the_documented_pixel_limit_is_pillows():
    assert Image.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS == 200_000_000


@pytest.mark.parametrize(
    ("size", "resized"), [((600, 400), (576, 384)), ((2400, 400), (2304, 384)), ((400, 8000), (384, 7680))]
)
def test_ordinary_photos_and_panoramas_still_score(tmp_path, size, resized):
    p = make_photo(tmp_path / "p.png", size=size)
    assert load_for_model(p, 384).size == resized
    assert prepare_inference(p, k=15).shape == (15, 3, 224, 224)


def test_every_decode_error_has_a_reason(tmp_path, monkeypatch):
    assert str(ImageDecodeError("")) and str(ImageDecodeError("  ")) and str(ImageDecodeError())
    p = make_photo(tmp_path / "a.png", size=(300, 200))
    for exc in (MemoryError(), OSError(), ValueError(), EOFError()):

        def boom(*a, exc=exc, **k):
            raise exc

        monkeypatch.setattr(Image, "open", boom)
        with pytest.raises(ImageDecodeError) as info:
            open_image(p)
        assert str(info.value).strip(), type(exc).__name__
        if isinstance(exc, MemoryError):
            assert "memory" in str(info.value)
