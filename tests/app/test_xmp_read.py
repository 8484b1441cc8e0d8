"""Reading ratings, flags and labels from each application's sidecar layout, from embedded XMP, and refusing
hostile or broken XML without a crash."""

import logging

import pytest
from PIL import Image

from loda_desktop.xmp import MAX_XMP_BYTES, XmpError, parse_xmp, read_photo_xmp

from .badfiles import photo, png_bomb
from .xmp_samples import CAPTURE_ONE, DARKTABLE, DIGIKAM, LIGHTROOM

MINIMAL = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}"/>'
    "</rdf:RDF></x:xmpmeta>"
)


def read(tmp_path, sidecar_name, text, photo_name="IMG_0001.CR2"):
    target = tmp_path / photo_name
    target.write_bytes(b"raw bytes")
    (tmp_path / sidecar_name).write_text(text, encoding="utf-8")
    return read_photo_xmp(target)


def test_lightroom_layout_rating_label_and_metadata_date(tmp_path):
    text = LIGHTROOM.format(date="2024-05-01T10:11:12+02:00", rating=4, label="Green")
    values = read(tmp_path, "IMG_0001.xmp", text)
    assert (values.rating, values.flag_after(None), values.label) == (4, None, "green")
    assert values.metadata_date == pytest.approx(1714551072.0)  # 08:11:12 UTC
    assert values.flag_after("reject") is None  # a rating 0..5 says "not rejected"
    assert values.flag_after("pick") == "pick"  # and says nothing about a pick


def test_darktable_layout_colorlabels_and_reject(tmp_path):
    text = DARKTABLE.format(rating=-1, photo="IMG_0001.CR2", colour=3)
    values = read(tmp_path, "IMG_0001.CR2.xmp", text)
    assert values.rating is None  # -1 says "rejected", not a number of stars
    assert values.flag_after(None) == "reject" and values.label == "blue"
    no_label = DARKTABLE.format(rating=2, photo="x", colour=9).replace("<rdf:li>9</rdf:li>", "")
    values = read(tmp_path, "IMG_0001.CR2.xmp", no_label)
    assert values.rating == 2 and values.label_stated and values.label is None  # darktable wrote it: no label


def test_digikam_layout_pick_and_colour_labels(tmp_path):
    values = read(tmp_path, "IMG_0001.CR2.xmp", DIGIKAM.format(rating=3, pick=3, colour=6))
    assert (values.rating, values.flag_after(None), values.label) == (3, "pick", "purple")
    values = read(tmp_path, "IMG_0001.CR2.xmp", DIGIKAM.format(rating=3, pick=1, colour=2))
    assert (values.flag_after("pick"), values.label) == ("reject", "orange")
    values = read(tmp_path, "IMG_0001.CR2.xmp", DIGIKAM.format(rating=3, pick=2, colour=0))
    assert (values.flag_after("pick"), values.label) == (None, None)  # pending: no flag


def test_capture_one_layout_elements_in_several_descriptions(tmp_path):
    values = read(tmp_path, "IMG_0001.xmp", CAPTURE_ONE.format(rating=5, label="Orange"))
    assert (values.rating, values.label, values.metadata_date) == (5, "Orange", None)  # unknown colour: free text


def test_the_exact_sidecar_wins_over_the_shared_one_and_either_case_is_found(tmp_path):
    target = tmp_path / "IMG_0001.CR2"
    target.write_bytes(b"raw")
    (tmp_path / "IMG_0001.XMP").write_text(MINIMAL.format(rating=1))
    assert read_photo_xmp(target).rating == 1
    (tmp_path / "img_0001.cr2.xmp").write_text(MINIMAL.format(rating=5))
    values = read_photo_xmp(target)
    assert values.rating == 5 and values.source.name == "img_0001.cr2.xmp"


def test_embedded_xmp_in_jpeg_and_tiff_is_read_and_a_sidecar_wins_over_it(tmp_path):
    packet = MINIMAL.format(rating=3).encode()
    jpeg = tmp_path / "a.jpg"
    Image.new("RGB", (32, 24)).save(jpeg, xmp=packet)
    tiff = tmp_path / "b.dng"  # a DNG is a TIFF: the packet is tag 700
    Image.new("RGB", (32, 24)).save(tiff, format="TIFF", tiffinfo={700: packet})
    assert read_photo_xmp(jpeg).rating == 3 and read_photo_xmp(jpeg).embedded
    assert read_photo_xmp(tiff).rating == 3
    (tmp_path / "a.xmp").write_text(MINIMAL.format(rating=1))
    assert read_photo_xmp(jpeg).rating == 1 and not read_photo_xmp(jpeg).embedded
    assert read_photo_xmp(jpeg, embedded=False).rating == 1


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("entity expansion", b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>'),
        ("external entity", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
        ("malformed", b"<x:xmpmeta><unclosed>"),
        ("not xmp", b"<html><body>hello</body></html>"),
        ("too deep", b"<a>" * 200 + b"</a>" * 200),
        ("not utf-8", b'<?xml version="1.0" encoding="x-unknown"?><x/>'),
    ],
)
def test_hostile_or_broken_sidecars_are_ignored_with_a_logged_reason(tmp_path, caplog, name, data):
    target = photo(tmp_path / "a.jpg")
    good = MINIMAL.format(rating=2)
    (tmp_path / "a.xmp").write_text(good)  # the less specific sidecar still counts
    (tmp_path / "a.jpg.xmp").write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="loda_desktop.xmp"):
        problems = []
        values = read_photo_xmp(target, problems=problems)
    assert values.rating == 2
    assert "a.jpg.xmp ignored" in caplog.text and problems and problems[0][0].endswith("a.jpg.xmp")


def test_a_file_pillow_refuses_has_no_embedded_xmp(tmp_path):
    bomb = png_bomb(tmp_path / "bomb.png")  # Pillow raises DecompressionBombError (not an OSError) at open
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert read_photo_xmp(bomb) is None and read_photo_xmp(tmp_path / "junk.jpg") is None


def test_size_limit():
    with pytest.raises(XmpError, match="larger than"):
        parse_xmp(b" " * (MAX_XMP_BYTES + 1))
