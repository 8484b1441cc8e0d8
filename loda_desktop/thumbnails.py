"""Thumbnails and previews for the grid and the loupe, in plain Pillow (no Qt: the window converts).

:func:`make_thumbnail` takes the cheapest route that still looks right:

1. the JPEG's embedded EXIF thumbnail (IFD1), when it is at least ``min_embedded`` pixels on its long side;
   letterbox bars some cameras add are cropped by matching the photo's aspect ratio;
2. otherwise a decode through :func:`model.preprocess.open_image`, which DCT-scales JPEGs with ``draft()``
   straight to about the size asked for, opens HEIC (pillow-heif) and RAW previews (rawpy) when installed,
   converts any mode to RGB and refuses decompression bombs with a readable reason (the pixel limit,
   ``model.preprocess.MAX_IMAGE_PIXELS``, 200 MP). Long thin strips that scoring refuses (past 1:20) still get
   a thumbnail: ``thumbnail()`` only ever shrinks them.

Either way the EXIF orientation is applied, so thumbnails are upright. A file that cannot be read raises
:class:`ThumbnailError` with a message meant for the user.

:class:`ThumbnailCache` keeps decoded thumbnails as small JPEGs on disk (the app uses
``paths.cache_dir()/thumbnails``), keyed by path, size, mtime and thumbnail size, so a reopened shoot of PNG
or TIFF files does not decode everything again. It can be deleted at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image

from model.preprocess import ImageDecodeError, open_image

__all__ = [
    "DEFAULT_SIZE",
    "Thumbnail",
    "ThumbnailCache",
    "ThumbnailError",
    "embedded_thumbnail",
    "load_thumbnail",
    "make_thumbnail",
]

DEFAULT_SIZE = 256
_ORIENTATION = 0x0112
_JPEG_OFFSET, _JPEG_LENGTH = 0x0201, 0x0202
_CACHE_VERSION = 1


class ThumbnailError(Exception):
    """The file has no picture the app can show; the message says why."""


@dataclass(frozen=True)
class Thumbnail:
    image: Image.Image  # RGB, upright, long side <= the size asked for
    source: str  # "exif" (embedded thumbnail), "decoded" or "cache"
    full_size: tuple[int, int] | None = None  # upright pixel size of the photo itself, when known


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, TypeError, KeyError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _orient(img: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation to a picture that carries none itself (an embedded thumbnail)."""
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    return img.transpose(method) if method is not None else img


def _crop_to_aspect(thumb: Image.Image, aspect: float) -> Image.Image:
    """Cut the letterbox bars off a thumbnail whose shape differs from the photo's (160×120 for a 3:2 frame)."""
    w, h = thumb.size
    if abs(w / h - aspect) <= 0.02 * aspect:
        return thumb
    if w / h > aspect:  # too wide: bars left and right
        new_w = max(1, round(h * aspect))
        left = (w - new_w) // 2
        return thumb.crop((left, 0, left + new_w, h))
    new_h = max(1, round(w / aspect))
    top = (h - new_h) // 2
    return thumb.crop((0, top, w, top + new_h))


def embedded_thumbnail(img: Image.Image) -> Image.Image | None:
    """The EXIF (IFD1) JPEG thumbnail of an opened image, decoded, in the sensor's orientation; or None."""
    data = img.info.get("exif")
    if not isinstance(data, bytes):
        return None
    try:
        ifd1 = img.getexif().get_ifd(ExifTags.IFD.IFD1)
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError):
        return None
    offset, length = ifd1.get(_JPEG_OFFSET), ifd1.get(_JPEG_LENGTH)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        return None
    tiff = re.sub(b"^(Exif\x00\x00){1,2}", b"", data)  # offsets count from the TIFF header
    blob = tiff[offset : offset + length]
    if len(blob) != length or not blob.startswith(b"\xff\xd8"):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            thumb = Image.open(io.BytesIO(blob))
            thumb.load()
    except (OSError, ValueError, SyntaxError, EOFError):
        return None
    return thumb.convert("RGB") if thumb.mode != "RGB" else thumb


def make_thumbnail(
    path: str | os.PathLike[str],
    size: int = DEFAULT_SIZE,
    *,
    use_embedded: bool = True,
    min_embedded: int | None = None,
) -> Thumbnail:
    """An upright RGB thumbnail of ``path`` whose long side is at most ``size`` (see the module docstring).

    ``min_embedded`` (default ``size // 2``): the smallest embedded thumbnail worth using instead of decoding.
    Raises :class:`ThumbnailError` when the file cannot be shown.
    """
    if size < 8:
        raise ValueError(f"thumbnail size must be at least 8, got {size}")
    minimum = size // 2 if min_embedded is None else min_embedded
    full_size: tuple[int, int] | None = None
    thumb: Image.Image | None = None
    orientation = 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:  # the header only: size, orientation, the EXIF block
                orientation = _orientation(img)
                full_size = _upright_size(img.size, orientation)
                if use_embedded and img.format in ("JPEG", "MPO"):
                    thumb = embedded_thumbnail(img)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        pass  # RAW, HEIC without its plugin, or a bad file: the decode below handles it or says why
    if thumb is not None and full_size is not None and max(thumb.size) >= minimum:
        sensor_w, sensor_h = _upright_size(full_size, orientation)
        thumb = _orient(_crop_to_aspect(thumb, sensor_w / sensor_h), orientation)
        thumb.thumbnail((size, size), Image.Resampling.BICUBIC)
        return Thumbnail(thumb, "exif", full_size)
    # decode (JPEG: DCT-scale) only as large as the long side needs: the short side is that much smaller
    short_side = size if full_size is None else max(1, math.ceil(size * min(full_size) / max(full_size)))
    try:
        img = open_image(path, short_side=short_side)
    except ImageDecodeError as exc:
        raise ThumbnailError(str(exc)) from None
    except MemoryError:
        raise ThumbnailError("not enough memory to decode the image") from None
    except (OSError, ValueError) as exc:
        raise ThumbnailError(f"cannot read the image: {str(exc) or type(exc).__name__}") from None
    decoded_size = img.size  # draft() may have scaled the decode: the header's size is the photo's own
    img.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return Thumbnail(img, "decoded", full_size or decoded_size)


class ThumbnailCache:
    """Decoded thumbnails as JPEG files in ``root``; safe to delete at any time. Thread-safe for distinct keys."""

    def __init__(self, root: str | os.PathLike[str], *, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def _file(self, path: str | os.PathLike[str], size: int) -> Path | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        ident = f"{_CACHE_VERSION}|{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{size}"
        digest = hashlib.sha1(ident.encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / digest[:2] / f"{digest}.jpg"

    def get(self, path: str | os.PathLike[str], size: int) -> Image.Image | None:
        file = self._file(path, size)
        if file is None or not file.is_file():
            return None
        try:
            with Image.open(file) as img:
                img.load()
                return img.convert("RGB")
        except (OSError, ValueError, SyntaxError, EOFError):
            with contextlib.suppress(OSError):
                file.unlink()
            return None

    def put(self, path: str | os.PathLike[str], size: int, image: Image.Image) -> None:
        file = self._file(path, size)
        if file is None:
            return
        tmp = file.with_name(f".{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            image.save(tmp, "JPEG", quality=88)
            os.replace(tmp, file)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def prune(self) -> int:
        """Delete the least recently written files until the cache fits ``max_bytes``; returns files removed."""
        entries = []
        for file in self.root.glob("*/*.jpg"):
            with contextlib.suppress(OSError):
                st = file.stat()
                entries.append((st.st_mtime, st.st_size, file))
        total = sum(e[1] for e in entries)
        removed = 0
        for _, nbytes, file in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                file.unlink()
                total -= nbytes
                removed += 1
        return removed


def load_thumbnail(
    path: str | os.PathLike[str], size: int = DEFAULT_SIZE, cache: ThumbnailCache | None = None
) -> Thumbnail:
    """:func:`make_thumbnail` with a disk cache for decoded thumbnails (embedded ones are cheap already)."""
    if cache is not None:
        cached = cache.get(path, size)
        if cached is not None:
            return Thumbnail(cached, "cache")
    thumb = make_thumbnail(path, size)
    if cache is not None and thumb.source == "decoded":
        cache.put(path, size, thumb.image)
    return thumb
