"""Image decoding and cropping in numpy + PIL only (no torch), shared by every backend.

Pipeline, as in the paper (Sec. IV-A): decode → apply EXIF orientation → convert to 8-bit RGB → resize the
short side to 384 → 224×224 crops. Training takes random crops with random horizontal and vertical flips;
inference takes K deterministic crops spread over the image (default 15) so one image always gets one score.

Crops come out as ``uint8`` arrays of shape (K, 3, S, S). The network takes RGB in [0, 1] and applies each
backbone's own mean / std itself (ViT and CNN are normalised differently), so :func:`to_float` is the only
numeric step left to the caller.

JPEGs are decoded with Pillow's ``draft()`` DCT scaling straight to the smallest size that still covers the
short side; HEIC/HEIF open through pillow-heif and camera RAW files through the embedded preview (rawpy)
when those optional libraries are installed.

Decode limits (a file is refused with :class:`ImageDecodeError` before the memory is spent, never silently
cropped or decoded anyway):

* :data:`MAX_IMAGE_PIXELS` = 200 MP per image, counted from the header before any pixel is decoded (arrays and
  Pillow images passed in are held to it too). That covers every camera (150-MP medium format, 187-MP in-camera
  high-resolution modes) and bounds one decode to about 600 MB of RGB. On import this module sets Pillow's own
  ``Image.MAX_IMAGE_PIXELS`` to the same value, so thumbnails and EXIF reads use the one limit; the limit in force
  is read from Pillow at each call. Pillow raises above twice the limit and only warns between the limit and
  twice it: there the header check refuses, so that warning is filtered out once, at import (a per-call
  ``warnings.catch_warnings`` would change process-wide state from the decoding threads).
* :data:`MAX_ASPECT_RATIO` = 20: the long side may be at most 20 times the short side. Resizing the short side
  to 384 multiplies the long side by the same factor, so a 1x5000 strip would become 384 x 1,920,000 (gigabytes);
  real panoramas (360° cylindrical about 1:6 to 1:10, stitched strips up to about 1:12 to 1:15) stay well inside,
  and at 1:20 the 15 crops still cover about half of the resized image (384 x 7680, 9 MB).
* :data:`MAX_RESIZED_PIXELS` = 16 MP for the resized image, checked before resizing: a second bound for a
  larger ``short_side`` than the default (1:20 at 384 is 3 MP).

Every :class:`ImageDecodeError` carries a non-empty reason.
"""

from __future__ import annotations

import importlib.util
import io
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

# File extensions (lowercase, no dot) of the photos this module decodes. HEIF and RAW need optional packages;
# without them such a file still gets a clear reason instead of being silently skipped.
BASE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp", "gif"})
HEIF_EXTENSIONS = frozenset({"heic", "heif"})
RAW_EXTENSIONS = frozenset({"cr2", "cr3", "nef", "nrw", "arw", "dng", "raf", "orf", "rw2", "pef", "srw", "x3f"})

ImageSource = str | Path | bytes | np.ndarray | Image.Image


# See the module docstring for why these values.
MAX_IMAGE_PIXELS = 200_000_000
MAX_ASPECT_RATIO = 20
MAX_RESIZED_PIXELS = 16_000_000

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # _check_pixels refuses those images


class ImageDecodeError(Exception):
    """An image that cannot be scored; the message is meant for the user's eyes and is never empty."""

    def __init__(self, reason: object = "") -> None:
        text = str(reason).strip() if reason is not None else ""
        super().__init__(text or "the image cannot be decoded (no reason given)")


def pixel_limit() -> int:
    """The pixel limit in force: Pillow's ``Image.MAX_IMAGE_PIXELS`` (set from :data:`MAX_IMAGE_PIXELS` on
    import), or :data:`MAX_IMAGE_PIXELS` when something switched Pillow's check off."""
    return Image.MAX_IMAGE_PIXELS or MAX_IMAGE_PIXELS


def _too_many_pixels(size: tuple[int, int] | None, limit: int, count: int | None = None) -> ImageDecodeError:
    if size is not None:
        what = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels"
    elif count is not None:
        what = f"{count:,} pixels"
    else:
        what = "the image"
    return ImageDecodeError(f"refused: too many pixels to decode safely ({what}; the limit is {limit:,} pixels)")


def _check_pixels(size: tuple[int, int]) -> None:
    limit = pixel_limit()
    if size[0] * size[1] > limit:
        raise _too_many_pixels(size, limit)


def _bomb_error(exc: Exception) -> ImageDecodeError:
    """Pillow's DecompressionBombError as a refusal naming the limit in force."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return _too_many_pixels(None, pixel_limit(), int(found.group(1)) if found else None)


_heif_registered = False


def _ensure_heif() -> bool:
    global _heif_registered
    if not _heif_registered and importlib.util.find_spec("pillow_heif") is not None:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True
    return _heif_registered


def _open_raw(path: Path) -> Image.Image:
    if importlib.util.find_spec("rawpy") is None:
        raise ImageDecodeError("camera RAW file: install the optional 'rawpy' package to score RAW files")
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            try:
                thumb = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                return Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True))
            if thumb.format == rawpy.ThumbFormat.JPEG:
                img = Image.open(io.BytesIO(thumb.data))
                _check_pixels(img.size)
                img.load()
                return img
            return Image.fromarray(thumb.data)
    except Image.DecompressionBombError as exc:
        raise _bomb_error(exc) from None
    except MemoryError:
        raise ImageDecodeError("not enough memory to decode the RAW file") from None
    except (rawpy.LibRawError, OSError) as exc:
        raise ImageDecodeError(f"cannot read the RAW file: {str(exc) or type(exc).__name__}") from None


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any Pillow mode: gray, gray+alpha, palette (with transparency), RGBA, CMYK, YCbCr,
    LAB, 16-bit and 32-bit integer, float. Transparent pixels are composited on white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if mode == "F":
            peak = 1.0 if arr.size and np.nanmax(arr) <= 1.0 else 255.0
        else:
            peak = 65535.0 if arr.size and arr.max() > 255 else 255.0
        arr = np.clip(np.nan_to_num(arr) / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _draft_size(size: tuple[int, int], short_side: int) -> tuple[int, int]:
    w, h = size
    scale = short_side / min(w, h)
    return max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))


def open_image(source: ImageSource, short_side: int | None = None) -> Image.Image:
    """Decode ``source`` to an upright 8-bit RGB image.

    With ``short_side`` set, JPEGs are DCT-scaled on decode to the smallest size whose short side still
    covers it (the final resize happens in :func:`resize_short_side`). Raises :class:`ImageDecodeError`
    with a readable reason for anything that is not a decodable image, or that has more pixels than
    :func:`pixel_limit` (checked on the header, before decoding).
    """
    if isinstance(source, Image.Image):
        _check_pixels(source.size)
        return to_rgb(ImageOps.exif_transpose(source))
    if isinstance(source, np.ndarray):
        image = _from_array(source)
        _check_pixels(image.size)
        return to_rgb(image)
    if short_side is None:
        fast = _whole_jpeg(source)
        if fast is not None:
            return fast
    path: Path | None = None
    if isinstance(source, bytes):
        fp: io.BytesIO | Path = io.BytesIO(source)
    else:
        path = Path(source)
        fp = path
        suffix = path.suffix[1:].lower()
        if suffix in RAW_EXTENSIONS:
            raw = _open_raw(path)
            _check_pixels(raw.size)
            return to_rgb(ImageOps.exif_transpose(raw))
        if suffix in HEIF_EXTENSIONS and not _ensure_heif():
            raise ImageDecodeError("HEIC/HEIF file: install the optional 'pillow-heif' package to score it")
    try:
        with Image.open(fp) as img:  # above twice the limit Pillow raises; up to it, the check below refuses
            _check_pixels(img.size)
            if short_side and img.format == "JPEG":
                img.draft("RGB", _draft_size(img.size, short_side))
            img.load()
            oriented = ImageOps.exif_transpose(img)
            return to_rgb(oriented)
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise _bomb_error(exc) from None
    except MemoryError:
        raise ImageDecodeError("not enough memory to decode the image") from None
    except FileNotFoundError:
        raise ImageDecodeError("the file no longer exists") from None
    except IsADirectoryError:
        raise ImageDecodeError("this is a folder, not an image") from None
    except PermissionError:
        raise ImageDecodeError("permission denied: the file cannot be read") from None
    except UnidentifiedImageError:
        if path is not None and path.stat().st_size == 0:
            raise ImageDecodeError("the file is empty") from None
        raise ImageDecodeError("not an image, or an image format this app cannot read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc) or type(exc).__name__
        if "truncated" in text.lower() or isinstance(exc, EOFError):
            raise ImageDecodeError(f"the image file is truncated or damaged ({text})") from None
        raise ImageDecodeError(f"the image cannot be decoded ({text})") from None


def _whole_jpeg(source: str | Path | bytes) -> Image.Image | None:
    """A whole JPEG through simplejpeg (:mod:`model.jpeg`, faster than Pillow at full size: 71 against 110 ms for
    24 MP), upright and RGB, after the pixel check on its header; None leaves it to Pillow (not a JPEG, CMYK,
    damaged: Pillow words the error, simplejpeg missing, the file unreadable)."""
    from . import jpeg

    if not jpeg.available() or (
        not isinstance(source, bytes) and Path(source).suffix[1:].lower() not in ("jpg", "jpeg")
    ):
        return None
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        img = jpeg.decode_jpeg(data, check_size=_check_pixels)
    except (OSError, ValueError):
        return None
    if img is None:
        return None
    ImageOps.exif_transpose(img, in_place=True)  # no copy of 24 MP when it is upright already
    return to_rgb(img)


def _from_array(arr: np.ndarray) -> Image.Image:
    """An HxW or HxWxC array (uint8, uint16 or float in [0, 1]) as a Pillow image."""
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageDecodeError(f"an image array must be HxW or HxWx{{1,3,4}}, got shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.dtype == np.uint8:
        return Image.fromarray(arr)
    if arr.dtype == np.uint16:
        return Image.fromarray((arr // 257).astype(np.uint8))
    if np.issubdtype(arr.dtype, np.floating):
        return Image.fromarray(np.clip(np.nan_to_num(arr) * 255.0 + 0.5, 0, 255).astype(np.uint8))
    raise ImageDecodeError(f"unsupported image array dtype {arr.dtype}")


def resized_size(size: tuple[int, int], short_side: int) -> tuple[int, int]:
    """The size :func:`resize_short_side` resizes to; :class:`ImageDecodeError` when the image is longer than
    :data:`MAX_ASPECT_RATIO` times its width (or the reverse) or the result would pass :data:`MAX_RESIZED_PIXELS`.
    """
    w, h = size
    if min(w, h) < 1:
        raise ImageDecodeError(f"the image has no pixels ({w}x{h})")
    if max(w, h) > MAX_ASPECT_RATIO * min(w, h):
        raise ImageDecodeError(
            f"refused: the image is {w}x{h}, too long and thin to score "
            f"(the long side may be at most {MAX_ASPECT_RATIO} times the short side, 1:{MAX_ASPECT_RATIO})"
        )
    scale = short_side / min(w, h)
    new = (max(short_side, round(w * scale)), max(short_side, round(h * scale)))
    new = (short_side, new[1]) if w <= h else (new[0], short_side)
    if new[0] * new[1] > MAX_RESIZED_PIXELS:
        raise ImageDecodeError(
            f"refused: the image is too large to resize ({w}x{h} to {new[0]}x{new[1]}; "
            f"the limit is {MAX_RESIZED_PIXELS:,} pixels)"
        )
    return new


def resize_short_side(img: Image.Image, short_side: int) -> Image.Image:
    """Resize so that the shorter side equals ``short_side`` (aspect ratio kept; antialiased bicubic).

    The size is checked before resizing (see :func:`resized_size`), so a long thin strip costs nothing.
    """
    new = resized_size(img.size, short_side)
    if new == img.size:
        return img
    return img.resize(new, Image.Resampling.BICUBIC, reducing_gap=3.0)


def crop_positions(height: int, width: int, k: int, size: int) -> list[tuple[int, int]]:
    """K deterministic (top, left) crop positions spread evenly over the image.

    A rows × cols grid shaped like the image (15 crops of a 3:2 photo: 3 × 5) with corners included; when the
    grid has more cells than K, K of them are taken at even intervals. K = 1 is the centre crop.
    """
    if k < 1:
        raise ValueError(f"crops must be at least 1, got {k}")
    if height < size or width < size:
        raise ValueError(f"image {width}x{height} is smaller than the {size}px crop")
    if k == 1:
        return [((height - size) // 2, (width - size) // 2)]
    if height == size:
        rows = 1
    elif width == size:
        rows = k
    else:
        rows = max(1, min(k, round(math.sqrt(k * height / width))))
    cols = math.ceil(k / rows)
    tops = np.linspace(0, height - size, rows).round().astype(int)
    lefts = np.linspace(0, width - size, cols).round().astype(int)
    grid = [(int(t), int(left)) for t in tops for left in lefts]
    if len(grid) > k:
        grid = [grid[i] for i in np.linspace(0, len(grid) - 1, k).round().astype(int)]
    return grid


def _chw(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def inference_crops(img: Image.Image, k: int, size: int) -> np.ndarray:
    """(K, 3, size, size) uint8 crops at :func:`crop_positions`."""
    arr = np.asarray(img)
    return np.stack(
        [_chw(arr[t : t + size, left : left + size]) for t, left in crop_positions(*arr.shape[:2], k, size)]
    )


def train_crops(img: Image.Image, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, size, size) uint8 random crops, each flipped horizontally and vertically with p = 0.5."""
    arr = np.asarray(img)
    h, w = arr.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image {w}x{h} is smaller than the {size}px crop")
    out = []
    for _ in range(n):
        t = int(rng.integers(0, h - size + 1))
        left = int(rng.integers(0, w - size + 1))
        crop = arr[t : t + size, left : left + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.5:
            crop = crop[::-1, :]
        out.append(_chw(crop))
    return np.stack(out)


# -- detail crops: the photo at the camera's resolution --------------------------------------------------------
#
# The global view above shrinks a 24-MP frame about 10 times: a missed focus of 1-1.5 px, a 5-px shake or grain
# at 100 % disappear in it. Detail crops are taken from the decoded photo itself (no resize), where the frame has
# content worth judging. Where: the photo is cut into a grid of crop-sized tiles (centred, so that frames of the
# same size share the same tiles, which lets a burst compare like with like); each tile is weighed by the edge
# energy of its footprint in a guide image: the photo reduced about to a 768-px short side (at least halved) and
# blurred by 1 px (there grain and a 1-px blur are invisible, so the choice does not change between a sharp and a
# spoiled copy of a frame, while flat sky and a soft out-of-focus background weigh little), times a mild centre
# weight (1 at the centre, 0.75 at a corner: the subject is more often central); the heaviest tiles are taken,
# never two neighbours while others are left.

DETAIL_MIN_SCALE = 1.5  # detail crops only when the photo is at least this many times the global view


def wants_detail(size: tuple[int, int], short_side: int, crop: int) -> bool:
    """Whether a photo of ``size`` gets detail crops: it must be clearly larger than its global view."""
    return min(size) >= max(DETAIL_MIN_SCALE * short_side, crop)


def detail_boxes(
    img: Image.Image, k: int, crop: int, reduced: tuple[Image.Image, int] | None = None
) -> list[tuple[int, int, int]]:
    """``k`` (x, y, crop) squares in ``img``'s pixels, chosen as the section above describes, heaviest first.
    ``reduced``: ``img`` already reduced by an integer factor, and that factor (saves reducing it again)."""
    width, height = img.size
    cols, rows = width // crop, height // crop
    if k < 1 or cols < 1 or rows < 1:
        return []
    x0, y0 = (width - cols * crop) // 2, (height - rows * crop) // 2
    factor = max(2, round(min(width, height) / 768))
    source, done = reduced or (img, 1)
    step = max(1, round(factor / done))
    guide = (source.reduce(step) if step > 1 else source).convert("L").filter(ImageFilter.GaussianBlur(1.0))
    gray = np.asarray(guide, dtype=np.float32)
    energy = np.zeros_like(gray)
    energy[:, 1:] += np.abs(np.diff(gray, axis=1))
    energy[1:, :] += np.abs(np.diff(gray, axis=0))
    integral = np.pad(energy.cumsum(0, dtype=np.float64).cumsum(1), ((1, 0), (1, 0)))
    sx, sy = guide.width / width, guide.height / height
    weights = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            left, top = x0 + c * crop, y0 + r * crop
            a, b = int(top * sy), max(int(top * sy) + 1, int((top + crop) * sy))
            e, f = int(left * sx), max(int(left * sx) + 1, int((left + crop) * sx))
            total = integral[b, f] - integral[a, f] - integral[b, e] + integral[a, e]
            cy, cx = (top + crop / 2) / height - 0.5, (left + crop / 2) / width - 0.5
            weights[r, c] = total / ((b - a) * (f - e)) * (1.0 - 0.5 * (cx * cx + cy * cy))
    order = sorted((-weights[r, c], r, c) for r in range(rows) for c in range(cols))
    chosen: list[tuple[int, int]] = []
    for spaced in (True, False):
        for _, r, c in order:
            if len(chosen) == k:
                break
            near = any(abs(r - r2) <= 1 and abs(c - c2) <= 1 for r2, c2 in chosen)
            if (r, c) not in chosen and not (spaced and near):
                chosen.append((r, c))
    return [(x0 + c * crop, y0 + r * crop, crop) for r, c in chosen]


def crops_at(img: Image.Image, boxes: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """(len(boxes), 3, S, S) uint8 crops of ``img`` at (x, y, S) boxes, which must lie inside it."""
    for x, y, s in boxes:
        if x < 0 or y < 0 or x + s > img.width or y + s > img.height or s < 1:
            raise ImageDecodeError(f"the region {s}x{s} at ({x}, {y}) is outside the {img.width}x{img.height} photo")
    return np.stack([_chw(np.asarray(img.crop((x, y, x + s, y + s)))) for x, y, s in boxes])


@dataclass(frozen=True)
class Prepared:
    """One photo ready for the network: ``n_global`` crops of the global view, then one per detail box."""

    crops: np.ndarray
    n_global: int
    boxes: tuple[tuple[int, int, int], ...] = ()
    width: int = 0
    height: int = 0


def prepare_multiscale(
    source: ImageSource, *, short_side: int = 384, size: int = 224, k: int = 15, detail: int = 0
) -> Prepared:
    """The global view's ``k`` crops (as :func:`prepare_inference`) and, for a photo large enough
    (:func:`wants_detail`), ``detail`` crops at its own resolution (:func:`detail_boxes`). With detail crops asked
    for, the photo is decoded whole and the view made from it (one decode serves both)."""
    img = open_image(source, short_side=None if detail > 0 else short_side)
    if not (detail > 0 and wants_detail(img.size, short_side, size)):
        return Prepared(inference_crops(resize_short_side(img, short_side), k, size), k, (), img.width, img.height)
    # one reduce() serves the global view and the boxes' guide: what resize()'s reducing_gap would do anyway
    factor = max(1, min(img.size) // (2 * short_side))
    reduced = img.reduce(factor) if factor > 1 else img
    crops = inference_crops(resize_short_side(reduced, short_side), k, size)
    boxes = detail_boxes(img, detail, size, (reduced, factor))
    if boxes:
        crops = np.concatenate([crops, crops_at(img, boxes)])
    return Prepared(crops, k, tuple(boxes), img.width, img.height)


def load_for_model(source: ImageSource, short_side: int) -> Image.Image:
    """Decode, orient, convert to RGB and resize the short side: the image every crop is taken from."""
    return resize_short_side(open_image(source, short_side=short_side), short_side)


def prepare_inference(source: ImageSource, *, short_side: int = 384, size: int = 224, k: int = 15) -> np.ndarray:
    """Everything from a file (or array) to the uint8 crops the scorer feeds the network."""
    return inference_crops(load_for_model(source, short_side), k, size)


def to_float(crops: np.ndarray) -> np.ndarray:
    """uint8 crops → float32 RGB in [0, 1], the network's input."""
    return crops.astype(np.float32) * np.float32(1.0 / 255.0)
