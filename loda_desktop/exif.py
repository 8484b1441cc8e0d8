"""The EXIF basics a photographer looks at, read from the file header only (no pixel decoding).

:func:`read_exif` opens the file lazily with Pillow and reads ``getexif()``: capture time (DateTimeOriginal,
with its sub-seconds and UTC offset when present, as ISO 8601 text for :meth:`Catalog.set_capture_time`),
camera, lens, exposure time, aperture, ISO, focal length and the upright pixel size. It never raises for a
bad or foreign file: what cannot be read is ``None``.

Plain Python (Pillow only): the window reads it on a worker thread, the CLI and the tests without a display.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from PIL import ExifTags, Image

__all__ = ["ExifInfo", "format_exposure", "parse_exif_datetime", "read_exif"]

# IFD0
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
# Exif IFD
_EXPOSURE_TIME, _F_NUMBER, _ISO = 0x829A, 0x829D, 0x8827
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_TIME_ORIGINAL = 0x9011
_FOCAL_LENGTH, _SUBSEC_ORIGINAL = 0x920A, 0x9291
_FOCAL_35MM, _LENS_MAKE, _LENS_MODEL = 0xA405, 0xA433, 0xA434

# What Pillow raises for files it cannot open or EXIF blocks it cannot parse.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    TypeError,
    KeyError,
    IndexError,
    struct.error,
    Image.DecompressionBombError,
)

_DATETIME_RE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


@dataclass(frozen=True)
class ExifInfo:
    """What the loupe shows and the catalog sorts by. Every field is optional."""

    capture_time: str | None = None  # ISO 8601, e.g. "2024-05-01T10:00:00" or "...+02:00"
    camera: str | None = None  # "Canon EOS R5"
    lens: str | None = None
    exposure_time: float | None = None  # seconds
    f_number: float | None = None
    iso: int | None = None
    focal_length: float | None = None  # mm
    focal_length_35mm: int | None = None  # mm, 35 mm equivalent
    width: int | None = None  # upright pixel size (EXIF orientation applied)
    height: int | None = None
    orientation: int | None = None  # EXIF orientation 1..8
    format: str | None = None  # Pillow's format name: "JPEG", "PNG", ...

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for display, only for the fields that are known."""
        out: list[tuple[str, str]] = []
        if self.capture_time:
            out.append(("Captured", self.capture_time.replace("T", " ")))
        if self.camera:
            out.append(("Camera", self.camera))
        if self.lens:
            out.append(("Lens", self.lens))
        exposure = []
        if self.exposure_time:
            exposure.append(format_exposure(self.exposure_time))
        if self.f_number:
            exposure.append(f"f/{self.f_number:g}")
        if self.iso:
            exposure.append(f"ISO {self.iso}")
        if exposure:
            out.append(("Exposure", "  ".join(exposure)))
        if self.focal_length:
            focal = f"{self.focal_length:g} mm"
            if self.focal_length_35mm and self.focal_length_35mm != round(self.focal_length):
                focal += f" ({self.focal_length_35mm} mm equiv.)"
            out.append(("Focal length", focal))
        if self.width and self.height:
            megapixels = self.width * self.height / 1e6
            size = f"{self.width} × {self.height}"
            out.append(("Size", f"{size} ({megapixels:.1f} MP)" if megapixels >= 0.1 else size))
        if self.format:
            out.append(("Format", self.format))
        return out


def format_exposure(seconds: float) -> str:
    """``1/250 s``, ``0.5 s``, ``2 s``, ``30 s``: how cameras print shutter speeds."""
    if seconds <= 0 or not math.isfinite(seconds):
        return ""
    if seconds >= 1:
        return f"{seconds:g} s"
    denominator = 1 / seconds
    if abs(denominator - round(denominator)) < 0.05 * denominator or denominator >= 3:
        return f"1/{round(denominator)} s"
    return f"{seconds:.1f} s"


def parse_exif_datetime(value: Any, subsec: Any = None, offset: Any = None) -> str | None:
    """``"2024:05:01 10:00:00"`` (plus optional sub-seconds and ``"+02:00"``) → ISO 8601, or None when the
    value is missing, blank (``"    :  :     "``) or not a real date (``"0000:00:00 00:00:00"``)."""
    text = _text(value)
    if not text:
        return None
    m = _DATETIME_RE.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    from datetime import datetime

    try:
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None
    iso = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{min(second, 59):02d}"
    digits = re.sub(r"\D", "", _text(subsec) or "")
    if digits and int(digits):
        iso += "." + digits[:6].ljust(6, "0")
    off = _OFFSET_RE.match(_text(offset) or "")
    if off:
        sign, hh, mm = off.groups()
        if int(hh) <= 14 and int(mm) < 60:
            iso += f"{sign}{hh}:{mm}"
    return iso


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        value = str(value)
    value = value.replace("\x00", " ").strip()
    return value or None


def _number(value: Any) -> float | None:
    if isinstance(value, (tuple, list)):
        if len(value) == 2 and all(isinstance(v, int) for v in value):  # a raw (numerator, denominator)
            value = Fraction(value[0], value[1]) if value[1] else None
        elif value:
            value = value[0]
        else:
            return None
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _camera(make: str | None, model: str | None) -> str | None:
    if make and model:
        # "Canon" + "Canon EOS R5" → "Canon EOS R5"; "NIKON CORPORATION" + "NIKON Z 6" → "NIKON Z 6"
        first = make.split()[0].lower()
        return model if model.lower().startswith(first) else f"{make} {model}"
    return model or make


def read_exif(path: str | os.PathLike[str]) -> ExifInfo:
    """The EXIF basics of the photo at ``path`` (header only); an empty :class:`ExifInfo` when unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                return _from_image(img)
    except _READ_ERRORS:  # a foreign, damaged or unsupported file: no EXIF, never an error for the caller
        return ExifInfo()


def _from_image(img: Image.Image) -> ExifInfo:
    width, height = img.size
    fmt = img.format
    try:
        exif = img.getexif()
    except _READ_ERRORS:
        return ExifInfo(width=width, height=height, format=fmt)
    sub: dict[int, Any] = {}
    with contextlib.suppress(*_READ_ERRORS):
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    orientation = exif.get(_ORIENTATION)
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    capture = parse_exif_datetime(
        sub.get(_DATETIME_ORIGINAL), sub.get(_SUBSEC_ORIGINAL), sub.get(_OFFSET_TIME_ORIGINAL)
    ) or parse_exif_datetime(sub.get(_DATETIME_DIGITIZED) or exif.get(_DATETIME))
    lens = _text(sub.get(_LENS_MODEL))
    lens_make = _text(sub.get(_LENS_MAKE))
    if lens and lens_make and not lens.lower().startswith(lens_make.split()[0].lower()):
        lens = f"{lens_make} {lens}"
    iso = _number(sub.get(_ISO))
    focal_35 = _number(sub.get(_FOCAL_35MM))
    f_number = _number(sub.get(_F_NUMBER))
    focal = _number(sub.get(_FOCAL_LENGTH))
    return ExifInfo(
        capture_time=capture,
        camera=_camera(_text(exif.get(_MAKE)), _text(exif.get(_MODEL))),
        lens=lens,
        exposure_time=_number(sub.get(_EXPOSURE_TIME)),
        f_number=round(f_number, 1) if f_number else None,
        iso=round(iso) if iso else None,
        focal_length=round(focal, 1) if focal else None,
        focal_length_35mm=round(focal_35) if focal_35 else None,
        width=width,
        height=height,
        orientation=orientation,
        format=fmt,
    )
