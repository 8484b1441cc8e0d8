"""Reading XMP: ratings, flags and colour labels from sidecars and from XMP embedded in photos.

Where it is read, most specific first (the first source that states a rating, flag or label wins whole; the
others are not mixed in):

1. ``IMG_0001.CR2.xmp`` — darktable and digiKam: the sidecar of exactly this file;
2. ``IMG_0001.xmp`` — Lightroom, Bridge, Capture One: shared by every file named ``IMG_0001.*``, so it is
   the less specific of the two (either case of ``.xmp`` for both);
3. the XMP packet inside the photo — JPEG (APP1 ``http://ns.adobe.com/xap/1.0/``), TIFF and DNG (tag 700),
   PNG and WebP (Pillow's ``info["xmp"]``); Lightroom and Bridge store a JPEG's rating there instead of in a
   sidecar. Pillow reads these from the file's header, without decoding pixels.

What is read (properties of the top-level ``rdf:Description``, as an attribute or as an element):

- ``xmp:Rating``: 0–5 stars (fractions rounded, more than 5 is 5); -1 is Adobe's and darktable's "rejected"
  → the reject flag, stars left as they are. A rating 0–5 also says "not rejected": it clears a reject flag,
  and leaves a pick alone (no rating says "picked").
- ``digiKam:PickLabel``: 1 rejected → reject, 3 accepted → pick, 0 none and 2 pending → no flag (digiKam's
  ``PickLabel`` enum). Lightroom keeps its pick flags in its catalog, not in XMP; darktable has only reject.
- ``xmp:Label``: the colour label by name (Lightroom/Bridge: Red, Yellow, Green, Blue, Purple; Capture One
  and others may use other words, kept as free text); an empty label clears it.
- ``darktable:colorlabels`` (a Seq of 0 red, 1 yellow, 2 green, 3 blue, 4 purple; the first one is used, the
  catalog holds one label) when there is no ``xmp:Label``; in a sidecar darktable wrote (it has
  ``darktable:xmp_version``) no colorlabels means no label.
- ``digiKam:ColorLabel`` (1 red, 2 orange, 3 yellow, 4 green, 5 blue, 6 magenta → purple, 7 gray, 8 black,
  9 white; 0 none) when neither of the two above is there.
- ``xmp:MetadataDate``: when the metadata last changed, for the newest-wins rule of :mod:`.sidecar_sync`.

Not read: keywords, develop settings, Lightroom's and Capture One's own namespaces: they are kept untouched
when a sidecar is merged (:mod:`.xmp_write`).

Untrusted input: every packet goes through defusedxml (no DTD at all, so no entity expansion and no external
references), at most :data:`MAX_XMP_BYTES` and :data:`MAX_DEPTH` levels of elements. A missing, unreadable,
malformed or hostile source is skipped with a logged reason; reading never raises for what a file holds.
"""

from __future__ import annotations

import logging
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

log = logging.getLogger(__name__)

__all__ = [
    "DARKTABLE_NS",
    "DIGIKAM_NS",
    "LODA_NS",
    "MAX_XMP_BYTES",
    "RDF_NS",
    "XMP_NS",
    "XmpDocument",
    "XmpError",
    "XmpValues",
    "find_sidecars",
    "folder_listing",
    "parse_date",
    "parse_xmp",
    "read_embedded_xmp",
    "read_photo_xmp",
    "read_sidecar_rating",
    "read_xmp_file",
    "sidecar_candidates",
    "top_descriptions",
    "values_from",
]

XMP_NS = "http://ns.adobe.com/xap/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DARKTABLE_NS = "http://darktable.sf.net/"
DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
LODA_NS = "http://loda-desktop.org/ns/1.0/"
MAX_XMP_BYTES = 4 * 1024 * 1024  # real sidecars are kilobytes; darktable's with a long history well under 1 MiB
MAX_SIDECAR_BYTES = MAX_XMP_BYTES  # the name this module used before
MAX_DEPTH = 64  # XMP nests a handful of levels; a deeper tree is refused rather than recursed into

# the catalog's colour names (the window's LABEL_COLOURS)
COLOURS = ("red", "yellow", "green", "blue", "purple")
DARKTABLE_COLOURS = dict(enumerate(COLOURS))  # darktable's dt_colorlabels_enum
DIGIKAM_COLOURS = {1: "red", 2: "orange", 3: "yellow", 4: "green", 5: "blue", 6: "purple", 7: "gray", 8: "black"}
DIGIKAM_COLOURS[9] = "white"
DIGIKAM_PICKS: dict[int, str | None] = {0: None, 1: "reject", 2: None, 3: "pick"}


class XmpError(Exception):
    """An XMP packet that cannot be used (malformed, hostile, too large, not RDF); the message says why."""


@dataclass(frozen=True)
class XmpDocument:
    """A parsed packet: its tree (comments and processing instructions kept), the namespace declarations of
    each element as written (for :mod:`.xmp_write`, which keeps the prefixes), and the text before the root
    element (``<?xpacket begin ...?>``, ``<?xml ...?>``)."""

    root: ET.Element
    declared: dict[ET.Element, list[tuple[str, str]]]
    prolog: str = ""


@dataclass(frozen=True)
class XmpValues:
    """What one XMP source says. ``None`` / ``False`` fields say nothing (the catalog's value stays)."""

    source: Path
    rating: int | None = None  # 0..5; None: not stated (absent, or -1, which says "rejected", not a star count)
    flag: str | None = None  # "pick" | "reject" | None, when flag_stated
    flag_stated: bool = False
    unreject: bool = False  # a rating 0..5 without a pick label: not rejected (a pick stays)
    label: str | None = None  # when label_stated; None clears
    label_stated: bool = False
    metadata_date: float | None = None  # xmp:MetadataDate, seconds since the epoch
    embedded: bool = False  # read from inside the photo, not from a sidecar

    @property
    def states_anything(self) -> bool:
        return self.rating is not None or self.flag_stated or self.unreject or self.label_stated

    def flag_after(self, current: str | None) -> str | None:
        """The flag a photo flagged ``current`` gets from this source."""
        if self.flag_stated:
            return self.flag
        if self.unreject and current == "reject":
            return None
        return current


class _Builder(ET.TreeBuilder):
    """A tree builder that also records which element declared which namespace prefixes, and refuses a tree
    deeper than :data:`MAX_DEPTH`."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self.declared: dict[ET.Element, list[tuple[str, str]]] = {}
        self._pending: list[tuple[str, str]] = []
        self._depth = 0

    def start_ns(self, prefix: str, uri: str) -> None:
        self._pending.append((prefix or "", uri))

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise XmpError(f"elements nested more than {MAX_DEPTH} levels deep")
        element = super().start(tag, attrs)
        if self._pending:
            self.declared[element] = self._pending
            self._pending = []
        return element

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        return super().end(tag)


def parse_xmp(data: bytes) -> XmpDocument:
    """Parse an XMP packet or sidecar with defusedxml (no DTD, no entities, no external references).

    Raises :class:`XmpError` saying why it cannot be used."""
    if len(data) > MAX_XMP_BYTES:
        raise XmpError(f"larger than {MAX_XMP_BYTES // (1024 * 1024)} MiB")
    data = data.rstrip(b"\0 \t\r\n")  # packets embedded in files are often padded
    builder = _Builder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as exc:
        raise XmpError(f"refused: {type(exc).__name__}") from None
    except ET.ParseError as exc:
        raise XmpError(f"not well-formed XML: {exc}") from None
    except (ValueError, LookupError) as exc:  # an encoding expat cannot use, say
        raise XmpError(f"unreadable XML: {exc}") from None
    if not isinstance(root.tag, str) or _rdf(root) is None:
        raise XmpError("no rdf:RDF element: not XMP")
    start = _root_start(data)
    prolog = data[:start].decode("utf-8", "replace") if start > 0 else ""
    return XmpDocument(root, builder.declared, prolog)


def _root_start(data: bytes) -> int:
    """Where the root element's start tag begins: the first ``<`` that opens no PI, comment or DTD."""
    index = 0
    while (index := data.find(b"<", index)) >= 0:
        if data[index + 1 : index + 2] not in (b"?", b"!"):
            return index
        index += 1
    return -1


def _rdf(root: ET.Element) -> ET.Element | None:
    return next(root.iter(f"{{{RDF_NS}}}RDF"), None)


def top_descriptions(root: ET.Element) -> list[ET.Element]:
    """The ``rdf:Description`` elements directly under ``rdf:RDF``: where a resource's properties are (a
    darktable history entry or a struct field nested deeper is never mistaken for one)."""
    rdf = _rdf(root)
    return [] if rdf is None else [d for d in rdf if d.tag == f"{{{RDF_NS}}}Description"]


def _value(descriptions: list[ET.Element], ns: str, name: str) -> str | list[str] | None:
    """A simple property's text, an array property's items (Seq, Bag, Alt), or None when absent."""
    qname = f"{{{ns}}}{name}"
    for description in descriptions:
        if qname in description.attrib:
            return description.attrib[qname].strip()
        element = description.find(qname)
        if element is not None:
            items = [li for li in element.iter(f"{{{RDF_NS}}}li")]
            if items:
                return [(li.text or "").strip() for li in items]
            value = element.get(f"{{{RDF_NS}}}resource", element.text)
            return (value or "").strip()
    return None


def _number(value: str | list[str] | None) -> int | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return round(number) if math.isfinite(number) else None


def _label_name(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    return text.casefold() if text.casefold() in COLOURS else text


def parse_date(text: str | None) -> float | None:
    """An XMP date (ISO 8601, any precision XMP allows) as seconds since the epoch; no zone means local time."""
    if not text:
        return None
    text = text.strip()
    for candidate in (text, text + "-01", text + "-01-01"):  # "2024-05" and "2024" are valid XMP dates
        try:
            return datetime.fromisoformat(candidate).timestamp()
        except ValueError:
            continue
    return None


def values_from(document: XmpDocument, source: Path, *, embedded: bool = False) -> XmpValues:
    """What ``document`` says about rating, flag and label; see the module docstring for the mapping."""
    d = top_descriptions(document.root)
    result: dict = {"source": source, "embedded": embedded}
    rating = _number(_value(d, XMP_NS, "Rating"))
    if rating is not None and rating < 0:
        result.update(flag="reject", flag_stated=True)
    elif rating is not None:
        result.update(rating=min(rating, 5), unreject=True)
    pick = _number(_value(d, DIGIKAM_NS, "PickLabel"))
    if pick in DIGIKAM_PICKS:
        result.update(flag=DIGIKAM_PICKS[pick], flag_stated=True)
    label = _value(d, XMP_NS, "Label")
    darktable = _value(d, DARKTABLE_NS, "colorlabels")
    digikam = _number(_value(d, DIGIKAM_NS, "ColorLabel"))
    if isinstance(label, str):
        result.update(label=_label_name(label), label_stated=True)
    elif darktable is not None or _value(d, DARKTABLE_NS, "xmp_version") is not None:
        numbers = [_number(v) for v in (darktable if isinstance(darktable, list) else [darktable or ""])]
        colours = [DARKTABLE_COLOURS[n] for n in numbers if n in DARKTABLE_COLOURS]
        result.update(label=colours[0] if colours else None, label_stated=True)
    elif digikam is not None:
        result.update(label=DIGIKAM_COLOURS.get(digikam), label_stated=True)
    if result.get("label") is not None and len(result["label"]) > 200:  # the catalog's MAX_LABEL_LENGTH
        log.warning("XMP %s: a label of %d characters ignored", source, len(result["label"]))
        result.update(label=None, label_stated=False)
    date = _value(d, XMP_NS, "MetadataDate")
    result["metadata_date"] = parse_date(date if isinstance(date, str) else None)
    return XmpValues(**result)


def read_xmp_file(path: Path) -> XmpDocument:
    """Parse a sidecar file; :class:`XmpError` (the reason) when it cannot be used, OSError when unreadable."""
    with open(path, "rb") as f:
        data = f.read(MAX_XMP_BYTES + 1)
    return parse_xmp(data)


# -- where XMP is -------------------------------------------------------------------------------------------


def sidecar_candidates(photo: Path) -> list[Path]:
    """Where a sidecar for ``photo`` may be, most specific first."""
    photo = Path(photo)
    names = [photo.name + ".xmp", photo.name + ".XMP", photo.stem + ".xmp", photo.stem + ".XMP"]
    return [photo.with_name(n) for n in dict.fromkeys(names)]


def find_sidecars(
    photo: Path, listing: Mapping[str, list[str]] | None = None, companions: Sequence[Path] = ()
) -> list[Path]:
    """The sidecars of ``photo`` that exist, most specific first (``NAME.EXT.xmp``, then ``NAME.xmp``, any case).

    ``listing``: the photo's folder as ``{lower-case name: [names]}`` (:func:`folder_listing`), to look names up
    without a ``stat`` each; without it the folder is listed here. ``companions``: the RAW files of a RAW + JPEG
    pair (:func:`loda_desktop.scan.find_companions`); their own ``NAME.RAW.xmp`` (what darktable and digiKam
    write when the RAW is edited) come after the photo's own and before the shared ``NAME.xmp``."""
    photo = Path(photo)
    if listing is None:
        listing = folder_listing(photo.parent)
    found: list[Path] = []
    exact = [photo.name + ".xmp", *(Path(c).name + ".xmp" for c in companions)]
    for wanted in (*exact, photo.stem + ".xmp"):
        for name in sorted(listing.get(wanted.lower(), [])):
            found.append(photo.with_name(name))
    return list(dict.fromkeys(found))


def folder_listing(folder: Path) -> dict[str, list[str]]:
    """The ``.xmp`` files of ``folder`` by lower-case name (empty when it cannot be listed)."""
    out: dict[str, list[str]] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower().endswith(".xmp"):
                    out.setdefault(entry.name.lower(), []).append(entry.name)
    except OSError:
        pass
    return out


EMBEDDED_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".dng", ".png", ".webp"})


def read_embedded_xmp(photo: Path) -> bytes | None:
    """The XMP packet inside ``photo`` (JPEG APP1, TIFF/DNG tag 700, PNG/WebP), read from the header only;
    None when there is none or the file cannot be opened."""
    if Path(photo).suffix.lower() not in EMBEDDED_SUFFIXES:
        return None
    from PIL import Image

    try:
        with Image.open(photo) as image:
            data = image.info.get("xmp")
            if data is None and hasattr(image, "tag_v2"):
                data = image.tag_v2.get(700)
    except Exception as exc:  # not an image, damaged, a decompression bomb...: scoring says why; no XMP here
        log.debug("no embedded XMP read from %s: %s", photo, exc)
        return None
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, tuple):  # some Pillow versions give tag 700 as a tuple of ints
        data = bytes(data)
    return data or None


def read_photo_xmp(
    photo: Path,
    listing: Mapping[str, list[str]] | None = None,
    *,
    embedded: bool = True,
    problems: list[tuple[str, str]] | None = None,
    companions: Sequence[Path] = (),
) -> XmpValues | None:
    """What the photo's XMP says, from the first source (see the module docstring) that states a rating, flag
    or label; None when none does. Unusable sources are skipped with a logged reason (also appended to
    ``problems`` as ``(source, reason)``); ``companions``: as for :func:`find_sidecars`."""
    problems = problems if problems is not None else []
    for sidecar in find_sidecars(photo, listing, companions):
        try:
            document = read_xmp_file(sidecar)
        except (OSError, XmpError) as exc:
            log.warning("XMP sidecar %s ignored: %s", sidecar, exc)
            problems.append((str(sidecar), str(exc)))
            continue
        values = values_from(document, sidecar)
        if values.states_anything:
            return values
    if embedded:
        data = read_embedded_xmp(photo)
        if data:
            try:
                values = values_from(parse_xmp(data), Path(photo), embedded=True)
            except XmpError as exc:
                log.warning("XMP inside %s ignored: %s", photo, exc)
                problems.append((str(photo), str(exc)))
                return None
            if values.states_anything:
                return values
    return None


def read_sidecar_rating(photo: Path) -> tuple[int, str | None] | None:
    """``(stars, flag)`` from the photo's XMP sidecar: stars 0–5, flag "reject" for a rating of -1; None when
    there is no sidecar or it holds no usable rating (fine-tuning's input, :mod:`loda_desktop.ratings`)."""
    values = read_photo_xmp(Path(photo), embedded=False)
    if values is None or (values.rating is None and not values.flag_stated):
        return None
    return values.rating or 0, values.flag_after(None)
