"""Sidecars in the layouts each application writes, with fields this app does not know, and a comparison of
every foreign element and attribute of two parsed sidecars.

The layouts follow what each application writes: Lightroom Classic (attributes on one ``rdf:Description``,
``crs:`` develop settings, ``dc:subject`` and ``lr:hierarchicalSubject`` keywords, an ``xmpMM:History`` of
structs), darktable 4.x (as ``darktable-cli`` 4.2 writes it: ``darktable:history`` Seq of ``rdf:li`` with
attributes, ``darktable:masks_history``, ``darktable:colorlabels``), digiKam (``digiKam:PickLabel``,
``digiKam:ColorLabel``, ``digiKam:TagsList``, ``MicrosoftPhoto:Rating``) and Capture One (properties as
elements, a colour name Lightroom does not have).
"""

from __future__ import annotations

from collections import Counter

from defusedxml.ElementTree import fromstring

XMP = "http://ns.adobe.com/xap/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
LODA = "http://loda-desktop.org/ns/1.0/"
OWNED = {
    f"{{{XMP}}}Rating",
    f"{{{XMP}}}Label",
    f"{{{XMP}}}MetadataDate",
    "{http://www.digikam.org/ns/1.0/}PickLabel",
    "{http://www.digikam.org/ns/1.0/}ColorLabel",
    "{http://darktable.sf.net/}colorlabels",
}

LIGHTROOM = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00        ">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmlns:acme="http://example.com/acme/1.0/"
   xmp:ModifyDate="2024-05-01T10:11:12+02:00"
   xmp:CreateDate="2024-04-30T18:00:00.52"
   xmp:MetadataDate="{date}"
   xmp:Rating="{rating}"
   xmp:Label="{label}"
   tiff:Make="NIKON CORPORATION"
   exif:ExposureTime="1/250"
   photoshop:DateCreated="2024-04-30T18:00:00.52"
   xmpMM:DocumentID="xmp.did:0a1b2c3d"
   crs:Version="16.2"
   crs:ProcessVersion="11.0"
   crs:WhiteBalance="As Shot"
   crs:Exposure2012="+0.35"
   crs:HasSettings="True"
   acme:Unknown="kept &amp; escaped &lt;here&gt;">
   <xmpMM:History>
    <rdf:Seq>
     <rdf:li rdf:parseType="Resource">
      <stEvt:action>saved</stEvt:action>
      <stEvt:instanceID>xmp.iid:0a1b2c3d</stEvt:instanceID>
      <stEvt:when>2024-05-01T10:11:12+02:00</stEvt:when>
      <stEvt:softwareAgent>Adobe Photoshop Lightroom Classic 13.2 (Macintosh)</stEvt:softwareAgent>
      <stEvt:changed>/metadata</stEvt:changed>
     </rdf:li>
    </rdf:Seq>
   </xmpMM:History>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>wedding</rdf:li>
     <rdf:li>Anna &amp; Ben</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>events|wedding</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <crs:ToneCurvePV2012>
    <rdf:Seq>
     <rdf:li>0, 0</rdf:li>
     <rdf:li>255, 255</rdf:li>
    </rdf:Seq>
   </crs:ToneCurvePV2012>
   <acme:Struct rdf:parseType="Resource"><acme:Depth>3</acme:Depth></acme:Struct>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""

DARKTABLE = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
   exif:DateTimeOriginal="2024:04:30 18:00:00.520"
   xmp:Rating="{rating}"
   xmpMM:DerivedFrom="{photo}"
   darktable:import_timestamp="63850000000000000"
   darktable:change_timestamp="63850000100000000"
   darktable:xmp_version="5"
   darktable:raw_params="0"
   darktable:auto_presets_applied="1"
   darktable:history_end="2"
   darktable:iop_order_version="2">
   <darktable:colorlabels>
    <rdf:Seq>
     <rdf:li>{colour}</rdf:li>
    </rdf:Seq>
   </darktable:colorlabels>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>birds</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>animals|birds</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <darktable:masks_history>
    <rdf:Seq/>
   </darktable:masks_history>
   <darktable:history>
    <rdf:Seq>
     <rdf:li
      darktable:num="0"
      darktable:operation="colorin"
      darktable:enabled="1"
      darktable:modversion="7"
      darktable:params="gz48eJxjZBgFowABWAbaAaNgwAEAEDgABg=="
      darktable:multi_name=""
      darktable:multi_priority="0"
      darktable:blendop_version="11"
      darktable:blendop_params="gz14eJxjYIAACQYYOOHEgAZY0QVwggZ7CB6pfNoAAE8gGQg="/>
     <rdf:li
      darktable:num="1"
      darktable:operation="exposure"
      darktable:enabled="1"
      darktable:modversion="6"
      darktable:params="00000000000080b90000003f00004842000080c00100000001000000"
      darktable:multi_name=""
      darktable:multi_priority="0"
      darktable:blendop_version="11"
      darktable:blendop_params="gz14eJxjYIAACQYYOOHEgAZY0QVwggZ7CB6pfNoAAE8gGQg="/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

DIGIKAM = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:MicrosoftPhoto="http://ns.microsoft.com/photo/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmp:Rating="{rating}"
   digiKam:PickLabel="{pick}"
   digiKam:ColorLabel="{colour}"
   MicrosoftPhoto:Rating="75">
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>Places/Lisbon</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Lisbon</rdf:li>
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""

CAPTURE_ONE = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 5.6.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">
   <photoshop:Headline>Harbour</photoshop:Headline>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:Rating>{rating}</xmp:Rating>
   <xmp:Label>{label}</xmp:Label>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/">
   <Iptc4xmpCore:Location>Quay</Iptc4xmpCore:Location>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def foreign_facts(data: bytes | str) -> Counter:
    """Every element and attribute of a sidecar that is not one of the properties this app owns, with its
    place (the path of element names from the root, by namespace URI), its attributes and its text: two
    sidecars with equal facts say the same things apart from the owned properties."""
    root = fromstring(data.encode() if isinstance(data, str) else data)
    facts: Counter = Counter()

    # descriptions directly under rdf:RDF carry the owned properties as attributes
    def visit_all(element, path: tuple[str, ...]) -> None:
        top = element.tag == f"{{{RDF}}}Description" and len(path) >= 2 and path[-2] == f"{{{RDF}}}RDF"
        attributes = {
            k: v for k, v in element.attrib.items() if not (top and (k in OWNED or k.startswith(f"{{{LODA}}}")))
        }
        facts[(path, tuple(sorted(attributes.items())), (element.text or "").strip())] += 1
        for child in element:
            if top and (child.tag in OWNED or str(child.tag).startswith(f"{{{LODA}}}")):
                continue
            visit_all(child, (*path, child.tag))

    visit_all(root, (root.tag,))
    return facts
