"""Writing XMP: the properties LoDa owns are set in place in a sidecar; everything else in it survives.

An existing sidecar is parsed (:func:`loda_desktop.xmp.parse_xmp`, hardened), the owned properties are changed
where they are — an attribute of the top-level ``rdf:Description`` stays an attribute, an element stays an
element — and the tree is written back with its namespace prefixes, its declarations where they were, its
comments and its whitespace. Every other element and attribute (darktable's ``darktable:history``, keywords in
``dc:subject``, Lightroom's ``crs:`` develop settings, namespaces nobody here knows) is left exactly as parsed.

Owned properties:

- ``xmp:Rating``: the stars 0–5, -1 for a rejected photo (Adobe's and darktable's reject);
- ``xmp:Label``: the colour label by Lightroom's name ("Green"), or the label's free text; removed when none;
- ``xmp:MetadataDate``: when the values changed (ISO 8601 with the zone);
- ``loda:Score`` and ``loda:Model`` in :data:`~loda_desktop.xmp.LODA_NS`: the photo's latest LoDa score and
  the catalog key of the model that made it; removed when there is none; ``loda:Written``: when LoDa last
  wrote the sidecar (it also tells a sidecar LoDa has written from one it never touched);
- ``digiKam:PickLabel`` (3 pick, 1 reject, 0 none) when the photo is flagged or the sidecar has one already;
- ``digiKam:ColorLabel`` when the sidecar has one, ``darktable:colorlabels`` when it has one or the sidecar
  is darktable's layout (``NAME.EXT.xmp``), so that each application sees the same label.

The result is parsed again before it is returned: a sidecar this module could not read back is never written.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .xmp import (
    COLOURS,
    DARKTABLE_COLOURS,
    DARKTABLE_NS,
    DIGIKAM_COLOURS,
    DIGIKAM_NS,
    LODA_NS,
    RDF_NS,
    XMP_NS,
    XmpDocument,
    parse_xmp,
    top_descriptions,
)

__all__ = ["PREFERRED_PREFIXES", "SidecarValues", "merge_sidecar", "new_document", "serialize"]

XML_NS = "http://www.w3.org/XML/1998/namespace"
PREFERRED_PREFIXES = {
    "adobe:ns:meta/": "x",
    RDF_NS: "rdf",
    XMP_NS: "xmp",
    LODA_NS: "loda",
    DARKTABLE_NS: "darktable",
    DIGIKAM_NS: "digiKam",
}
XPACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
XPACKET_END = '\n<?xpacket end="w"?>\n'
_TEMPLATE = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="LoDa Desktop">\n'
    f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
    f'  <rdf:Description rdf:about="" xmlns:xmp="{XMP_NS}" xmlns:loda="{LODA_NS}"/>\n'
    " </rdf:RDF>\n</x:xmpmeta>"
)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold
_DIGIKAM_NUMBERS = {name: number for number, name in DIGIKAM_COLOURS.items()}
_DARKTABLE_NUMBERS = {name: number for number, name in DARKTABLE_COLOURS.items()}
_DIGIKAM_PICK_NUMBERS = {"pick": "3", "reject": "1", None: "0"}


@dataclass(frozen=True)
class SidecarValues:
    """What LoDa writes for one photo."""

    rating: int  # 0..5
    flag: str | None  # "pick" | "reject" | None
    label: str | None
    metadata_date: str  # ISO 8601
    score: float | None = None
    model: str | None = None
    written: str | None = None  # ISO 8601; the metadata date when None


def new_document() -> XmpDocument:
    """An empty sidecar: ``x:xmpmeta`` > ``rdf:RDF`` > one ``rdf:Description``."""
    return parse_xmp((XPACKET_BEGIN + _TEMPLATE + XPACKET_END).encode("utf-8"))


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _find(descriptions: list[ET.Element], qname: str) -> tuple[ET.Element, ET.Element | None] | None:
    """(description, element) holding ``qname``: element None for an attribute; None when absent."""
    for description in descriptions:
        if qname in description.attrib:
            return description, None
        element = description.find(qname)
        if element is not None:
            return description, element
    return None


def _set_simple(descriptions: list[ET.Element], ns: str, name: str, value: str | None) -> None:
    """Set a simple property where it is (attribute or element); add it as an attribute of the first
    description when absent; remove it for None."""
    qname = f"{{{ns}}}{name}"
    found = _find(descriptions, qname)
    if found is None:
        if value is not None:
            descriptions[0].set(qname, _clean(value))
        return
    description, element = found
    if element is None:
        if value is None:
            del description.attrib[qname]
        else:
            description.set(qname, _clean(value))
    elif value is None:
        description.remove(element)
    else:
        for child in list(element):  # a simple value replaces whatever structure was there
            element.remove(child)
        element.attrib.pop(f"{{{RDF_NS}}}resource", None)
        element.text = _clean(value)


def _set_seq(descriptions: list[ET.Element], ns: str, name: str, items: list[str], *, add: bool) -> None:
    """Set an ordered array property (``rdf:Seq``) to ``items`` where it is; add it when absent and ``add``;
    remove it when ``items`` is empty."""
    qname = f"{{{ns}}}{name}"
    found = _find(descriptions, qname)
    if found is None and (not add or not items):
        return
    if found is not None:
        description, element = found
        if element is None:  # an array written as an attribute is not XMP; make it an element
            del description.attrib[qname]
            element = ET.SubElement(description, qname)
        elif not items:
            description.remove(element)
            return
    else:
        element = ET.SubElement(descriptions[0], qname)
    for child in list(element):
        element.remove(child)
    element.text = None
    seq = ET.SubElement(element, f"{{{RDF_NS}}}Seq")
    for item in items:
        ET.SubElement(seq, f"{{{RDF_NS}}}li").text = item


def _label_text(label: str | None) -> str | None:
    if label is None:
        return None
    return label.capitalize() if label.casefold() in COLOURS else label


def merge_sidecar(document: XmpDocument, values: SidecarValues, *, darktable_layout: bool = False) -> bytes:
    """``document`` with the owned properties set to ``values``, serialised (UTF-8); see the module docstring.

    ``document`` is changed in place. Raises :class:`~loda_desktop.xmp.XmpError` if the result cannot be read
    back (never expected)."""
    descriptions = top_descriptions(document.root)
    if not descriptions:  # rdf:RDF with no description yet
        rdf = next(document.root.iter(f"{{{RDF_NS}}}RDF"))
        descriptions = [ET.SubElement(rdf, f"{{{RDF_NS}}}Description", {f"{{{RDF_NS}}}about": ""})]
    rating = -1 if values.flag == "reject" else values.rating
    _set_simple(descriptions, XMP_NS, "Rating", str(rating))
    _set_simple(descriptions, XMP_NS, "Label", _label_text(values.label))
    _set_simple(descriptions, XMP_NS, "MetadataDate", values.metadata_date)
    _set_simple(descriptions, LODA_NS, "Score", None if values.score is None else f"{values.score:.6f}")
    _set_simple(descriptions, LODA_NS, "Model", values.model)
    _set_simple(descriptions, LODA_NS, "Written", values.written or values.metadata_date)
    if values.flag is not None or _find(descriptions, f"{{{DIGIKAM_NS}}}PickLabel") is not None:
        _set_simple(descriptions, DIGIKAM_NS, "PickLabel", _DIGIKAM_PICK_NUMBERS[values.flag])
    label = values.label.casefold() if values.label else None
    if _find(descriptions, f"{{{DIGIKAM_NS}}}ColorLabel") is not None:
        _set_simple(descriptions, DIGIKAM_NS, "ColorLabel", str(_DIGIKAM_NUMBERS.get(label or "", 0)))
    darktable = [str(_DARKTABLE_NUMBERS[label])] if label in _DARKTABLE_NUMBERS else []
    _set_seq(descriptions, DARKTABLE_NS, "colorlabels", darktable, add=darktable_layout)
    data = serialize(document)
    parse_xmp(data)  # what is written must read back
    return data


# -- serialising with the prefixes as written ---------------------------------------------------------------


def _escape(text: str, *, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return text


class _Writer:
    """Writes a tree with its namespace declarations where the source had them; a namespace with no
    declaration in scope (one this module added) is declared on the element that first needs it."""

    def __init__(self, document: XmpDocument) -> None:
        self.declared = document.declared
        self.preferred = dict(PREFERRED_PREFIXES)
        for declarations in document.declared.values():
            for prefix, uri in declarations:
                if prefix:
                    self.preferred.setdefault(uri, prefix)
        self.out: list[str] = []

    def _name(self, tag: str, scope: dict[str, str], new: list[tuple[str, str]], *, attribute: bool) -> str:
        if not tag.startswith("{"):
            return tag
        uri, local = tag[1:].split("}", 1)
        if uri == XML_NS:
            return f"xml:{local}"
        if not attribute and scope.get("") == uri:
            return local
        for prefix, bound in scope.items():
            if prefix and bound == uri and prefix == self.preferred.get(uri):
                return f"{prefix}:{local}"
        for prefix, bound in scope.items():
            if prefix and bound == uri:
                return f"{prefix}:{local}"
        base = self.preferred.get(uri, "ns")
        prefix, n = base, 1
        while prefix in scope or prefix == "xml":
            prefix, n = f"{base}{n}", n + 1
        scope[prefix] = uri
        new.append((prefix, uri))
        return f"{prefix}:{local}"

    def write(self, element: ET.Element, scope: dict[str, str]) -> None:
        out = self.out
        if element.tag is ET.Comment:
            out.append(f"<!--{element.text or ''}-->")
        elif element.tag is ET.ProcessingInstruction:
            out.append(f"<?{element.text or ''}?>")
        else:
            scope = dict(scope)
            new = list(self.declared.get(element, []))
            scope.update(new)
            if not str(element.tag).startswith("{") and scope.get(""):  # an unqualified name under a default
                scope[""] = ""
                new.append(("", ""))
            tag = self._name(element.tag, scope, new, attribute=False)
            attributes = [(self._name(k, scope, new, attribute=True), v) for k, v in element.attrib.items()]
            out.append(f"<{tag}")
            for prefix, uri in new:
                out.append(f' xmlns{":" + prefix if prefix else ""}="{_escape(uri, attribute=True)}"')
            for name, value in attributes:
                out.append(f' {name}="{_escape(value, attribute=True)}"')
            if element.text is None and len(element) == 0:
                out.append("/>")
            else:
                out.append(">" + _escape(element.text or ""))
                for child in element:
                    self.write(child, scope)
                out.append(f"</{tag}>")
        if element.tail:
            out.append(_escape(element.tail))


def serialize(document: XmpDocument) -> bytes:
    """The document as UTF-8 bytes, with its prolog (``<?xpacket begin?>`` or ``<?xml?>``; an xpacket gets its
    end marker back)."""
    writer = _Writer(document)
    writer.write(document.root, {"xml": XML_NS})
    prolog = document.prolog or XPACKET_BEGIN
    if prolog.lstrip("\ufeff").startswith("<?xml") and "encoding" in prolog:  # it is UTF-8 now, whatever it was
        prolog = re.sub(r"encoding=(['\"])[^'\"]*\1", 'encoding="UTF-8"', prolog, count=1)
    end = XPACKET_END if "<?xpacket begin" in prolog else "\n"
    return (prolog + "".join(writer.out) + end).encode("utf-8")
