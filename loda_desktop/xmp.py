"""Star ratings from XMP sidecars, the way Lightroom, Bridge, darktable and digiKam leave them next to photos.

Sidecar names: ``IMG_0001.xmp`` (Lightroom, Bridge, Capture One) and ``IMG_0001.CR2.xmp`` (darktable,
digiKam), either case. The rating is ``xmp:Rating`` (namespace ``http://ns.adobe.com/xap/1.0/``), written as
an attribute of ``rdf:Description`` or as an element: 1–5 are stars, 0 is unrated and -1 is Adobe's "rejected".
Reading never fails: a missing, unreadable or malformed sidecar simply has no rating. Nothing here writes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

XMP_NS = "http://ns.adobe.com/xap/1.0/"
_RATING = f"{{{XMP_NS}}}Rating"
MAX_SIDECAR_BYTES = 4 * 1024 * 1024

__all__ = ["read_sidecar_rating", "sidecar_candidates"]


def sidecar_candidates(photo: Path) -> list[Path]:
    """Where a sidecar for ``photo`` may be, most specific first."""
    photo = Path(photo)
    names = [photo.name + ".xmp", photo.name + ".XMP", photo.stem + ".xmp", photo.stem + ".XMP"]
    return [photo.with_name(n) for n in dict.fromkeys(names)]


def _rating_in(root: ET.Element) -> int | None:
    for element in root.iter():
        value = element.get(_RATING)
        if value is None and element.tag == _RATING:
            value = element.text
        if value is not None:
            try:
                return round(float(value.strip()))
            except ValueError:
                return None
    return None


def read_sidecar_rating(photo: Path) -> tuple[int, str | None] | None:
    """``(stars, flag)`` from the photo's XMP sidecar: stars 0–5, flag "reject" for a rating of -1; None when
    there is no sidecar or it holds no usable rating."""
    for candidate in sidecar_candidates(photo):
        try:
            if not candidate.is_file() or candidate.stat().st_size > MAX_SIDECAR_BYTES:
                continue
            root = ET.parse(candidate).getroot()
        except (OSError, ET.ParseError):
            continue
        rating = _rating_in(root)
        if rating is None:
            continue
        if rating < 0:
            return 0, "reject"
        return min(rating, 5), None
    return None
