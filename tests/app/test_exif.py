"""EXIF basics from the header: capture time as ISO 8601, camera, lens, exposure; never an error."""

from __future__ import annotations

from datetime import datetime

import pytest
from PIL import ExifTags, Image

from loda_desktop.catalog import Catalog
from loda_desktop.exif import ExifInfo, format_exposure, parse_exif_datetime, read_exif

from .badfiles import make_shoot, photo


def exif_jpeg(path, sub, *, orientation=None, size=(300, 200)):
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    if orientation:
        exif[0x0112] = orientation
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd.update(sub)
    Image.new("RGB", size, (90, 120, 150)).save(path, "JPEG", exif=exif)
    return path


def test_reads_the_basics(tmp_path):
    path = exif_jpeg(
        tmp_path / "a.jpg",
        {
            0x9003: "2024:05:01 10:20:30",
            0x9291: "12",
            0x9011: "+02:00",
            0x829A: 1 / 250,
            0x829D: 2.8,
            0x8827: 400,
            0x920A: 50.0,
            0xA405: 50,
            0xA434: "RF50mm F1.2 L USM",
        },
        orientation=6,
    )
    info = read_exif(path)
    assert info.capture_time == "2024-05-01T10:20:30.120000+02:00"
    datetime.fromisoformat(info.capture_time)  # what Catalog.set_capture_time accepts
    assert info.camera == "Canon EOS R5"  # the make is not repeated
    assert info.lens == "RF50mm F1.2 L USM"
    assert info.exposure_time == pytest.approx(1 / 250)
    assert (info.f_number, info.iso, info.focal_length) == (2.8, 400, 50.0)
    assert (info.width, info.height, info.orientation) == (200, 300, 6)  # upright: rotated 90°
    rows = dict(info.rows())
    assert rows["Exposure"] == "1/250 s  f/2.8  ISO 400"
    assert rows["Camera"] == "Canon EOS R5" and rows["Size"] == "200 × 300"
    assert rows["Captured"] == "2024-05-01 10:20:30.120000+02:00"


def test_capture_time_goes_into_the_catalog(tmp_path):
    path = exif_jpeg(tmp_path / "a.jpg", {0x9003: "2023:12:24 18:00:00"})
    with Catalog() as cat:
        cat.add_photos([path])
        assert cat.set_capture_time(path, read_exif(path).capture_time)
        record, _ = cat.get(path)
    assert record.capture_time == "2023-12-24T18:00:00"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024:01:02 03:04:05", "2024-01-02T03:04:05"),
        ("2024-01-02 03:04:05", "2024-01-02T03:04:05"),
        ("2024:01:02 03:04:05\x00", "2024-01-02T03:04:05"),
        (b"2024:01:02 03:04:05", "2024-01-02T03:04:05"),
        ("0000:00:00 00:00:00", None),
        ("    :  :     :  :  ", None),
        ("2024:13:40 00:00:00", None),
        ("", None),
        (None, None),
        (12345, None),
    ],
)
def test_parse_exif_datetime(raw, expected):
    assert parse_exif_datetime(raw) == expected


def test_format_exposure():
    assert format_exposure(1 / 250) == "1/250 s"
    assert format_exposure(1 / 3) == "1/3 s"
    assert format_exposure(0.5) == "1/2 s"
    assert format_exposure(0.4) == "0.4 s"
    assert format_exposure(2.0) == "2 s"
    assert format_exposure(30) == "30 s"
    assert format_exposure(0) == ""


def test_files_without_exif_and_bad_files_give_what_is_known(tmp_path):
    files = make_shoot(tmp_path / "shoot")
    png = read_exif(files["good_png"])
    assert (png.width, png.height, png.format, png.capture_time) == (640, 480, "PNG", None)
    for name in ("empty", "truncated", "non_image", "bomb", "unsupported"):
        info = read_exif(files[name])
        assert isinstance(info, ExifInfo) and info.capture_time is None, name
    assert read_exif(tmp_path / "missing.jpg") == ExifInfo()
    assert read_exif(photo(tmp_path / "plain.jpg")).rows() == [("Size", "900 × 600 (0.5 MP)"), ("Format", "JPEG")]
