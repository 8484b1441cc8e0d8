"""Merging: the owned properties change in place, every other element and attribute survives."""

import pytest

from loda_desktop.xmp import parse_xmp, values_from
from loda_desktop.xmp_write import SidecarValues, merge_sidecar, new_document

from .xmp_samples import CAPTURE_ONE, DARKTABLE, DIGIKAM, LIGHTROOM, foreign_facts

VALUES = SidecarValues(rating=2, flag=None, label="red", metadata_date="2025-01-02T03:04:05+00:00", score=0.25)

SAMPLES = {
    "lightroom": LIGHTROOM.format(date="2024-05-01T10:11:12+02:00", rating=4, label="Green"),
    "darktable": DARKTABLE.format(rating=1, photo="IMG_1.CR2", colour=2),
    "digikam": DIGIKAM.format(rating=3, pick=3, colour=4),
    "capture_one": CAPTURE_ONE.format(rating=5, label="Orange"),
}


@pytest.mark.parametrize("layout", SAMPLES)
def test_every_foreign_element_and_attribute_survives_a_merge(layout):
    before = SAMPLES[layout].encode()
    after = merge_sidecar(parse_xmp(before), VALUES, darktable_layout=layout == "darktable")
    assert foreign_facts(after) == foreign_facts(before)
    values = values_from(parse_xmp(after), source=None)
    assert (values.rating, values.label, values.flag_after(None)) == (2, "red", None)
    assert after.decode().count("<rdf:Description") == SAMPLES[layout].count("<rdf:Description")


def test_owned_properties_change_where_they_are():
    attribute_form = merge_sidecar(parse_xmp(SAMPLES["lightroom"].encode()), VALUES).decode()
    assert 'xmp:Rating="2"' in attribute_form and 'xmp:Label="Red"' in attribute_form
    assert "<xmp:Rating>" not in attribute_form and 'crs:Exposure2012="+0.35"' in attribute_form
    assert 'acme:Unknown="kept &amp; escaped &lt;here&gt;"' in attribute_form  # prefixes and escapes kept
    element_form = merge_sidecar(parse_xmp(SAMPLES["capture_one"].encode()), VALUES).decode()
    assert "<xmp:Rating>2</xmp:Rating>" in element_form and "<xmp:Label>Red</xmp:Label>" in element_form
    assert element_form.startswith('<?xml version="1.0" encoding="UTF-8"?>')


def test_each_application_sees_the_flag_and_label():
    rejected = SidecarValues(rating=3, flag="reject", label="purple", metadata_date="2025-01-02T03:04:05Z")
    digikam = merge_sidecar(parse_xmp(SAMPLES["digikam"].encode()), rejected).decode()
    assert 'xmp:Rating="-1"' in digikam and 'digiKam:PickLabel="1"' in digikam and 'digiKam:ColorLabel="6"' in digikam
    darktable = merge_sidecar(parse_xmp(SAMPLES["darktable"].encode()), rejected, darktable_layout=True)
    values = values_from(parse_xmp(darktable), source=None)
    assert (values.flag_after(None), values.label) == ("reject", "purple")
    cleared = SidecarValues(rating=0, flag=None, label=None, metadata_date="2025-01-02T03:04:05Z")
    values = values_from(parse_xmp(merge_sidecar(parse_xmp(darktable), cleared, darktable_layout=True)), None)
    assert (values.rating, values.flag_after("reject"), values.label) == (0, None, None)


def test_a_new_sidecar_holds_the_values_and_the_loda_namespace():
    data = merge_sidecar(new_document(), VALUES).decode()
    assert data.startswith("<?xpacket begin") and data.rstrip().endswith('<?xpacket end="w"?>')
    assert 'xmlns:loda="http://loda-desktop.org/ns/1.0/"' in data and 'loda:Score="0.250000"' in data
    assert 'xmp:MetadataDate="2025-01-02T03:04:05+00:00"' in data


def test_control_characters_in_a_label_cannot_break_the_xml():
    values = SidecarValues(rating=1, flag=None, label='odd\x01 <label> & "quotes"', metadata_date="2025-01-02")
    data = merge_sidecar(new_document(), values)
    assert values_from(parse_xmp(data), None).label == 'odd <label> & "quotes"'
