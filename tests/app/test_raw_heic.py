"""Camera RAW (through rawpy: the embedded preview, else a demosaic) and HEIC (through pillow-heif), decoded,
thumbnailed and scored end to end with files the tests write; and the message when the extra is missing."""

from __future__ import annotations

import numpy as np
import pytest

from loda_desktop.cli import main
from loda_desktop.thumbnails import ThumbnailError, make_thumbnail
from model.preprocess import ImageDecodeError, open_image, prepare_inference
from tests.app.badfiles import photo
from tests.helpers.files import read_export_csv
from tests.helpers.raw_files import PREVIEW_RGB, hide_module, write_dng, write_heic

rawpy = pytest.importorskip("rawpy", reason="the 'raw' extra (rawpy) is part of the dev install")
pillow_heif = pytest.importorskip("pillow_heif", reason="the 'heic' extra (pillow-heif) is part of the dev install")


def test_the_dng_the_tests_write_is_a_raw_file_libraw_reads(tmp_path):
    with rawpy.imread(str(write_dng(tmp_path / "a.dng"))) as raw:
        assert raw.raw_image.shape == (256, 384)
        assert raw.extract_thumb().format == rawpy.ThumbFormat.BITMAP
    with (
        rawpy.imread(str(write_dng(tmp_path / "b.dng", preview=False))) as raw,
        pytest.raises(rawpy.LibRawNoThumbnailError),
    ):
        raw.extract_thumb()


def test_a_raw_file_decodes_from_its_embedded_preview(tmp_path):
    img = open_image(write_dng(tmp_path / "IMG_0001.DNG"))
    assert img.mode == "RGB" and img.size == (192, 128)  # the preview's size, not the sensor's
    assert np.abs(np.asarray(img, dtype=int) - PREVIEW_RGB).max() <= 1  # the preview's pixels


def test_a_raw_file_without_a_preview_is_demosaiced(tmp_path):
    img = open_image(write_dng(tmp_path / "IMG_0002.dng", preview=False))
    arr = np.asarray(img, dtype=float)
    assert img.mode == "RGB" and img.size == (192, 128)  # half-size demosaic of the 384x256 mosaic
    left, right = arr[:, :20].mean(), arr[:, -20:].mean()
    assert right > left + 100  # the ramp of the mosaic, not a flat preview


def test_heic_decodes(tmp_path):
    img = open_image(write_heic(tmp_path / "phone.HEIC"))
    arr = np.asarray(img, dtype=float)
    assert img.size == (480, 320) and img.mode == "RGB"
    assert arr[..., 0].mean() > 2 * arr[..., 2].mean()  # red, as written


@pytest.mark.parametrize("kind", ["dng_preview", "dng_demosaic", "heic"])
def test_raw_and_heic_get_thumbnails(tmp_path, kind):
    if kind == "heic":
        path = write_heic(tmp_path / "a.heic")
    else:
        path = write_dng(tmp_path / "a.dng", preview=kind == "dng_preview")
    thumb = make_thumbnail(path, 64)
    assert thumb.image.mode == "RGB" and max(thumb.image.size) == 64
    assert thumb.source == "decoded"


def test_raw_and_heic_prepare_model_crops(tmp_path):
    for path in (
        write_dng(tmp_path / "a.dng"),
        write_dng(tmp_path / "b.dng", preview=False),
        write_heic(tmp_path / "c.heic"),
    ):
        crops = prepare_inference(path, short_side=96, size=64, k=3)
        assert crops.shape == (3, 3, 64, 64) and crops.dtype == np.uint8


def test_loda_score_scores_raw_and_heic_end_to_end(tmp_path, capsys):
    shoot = tmp_path / "shoot"
    write_dng(shoot / "solo.dng")  # a RAW without a JPEG: a photo of its own, scored from its preview
    write_dng(shoot / "flat.DNG", preview=False)
    write_heic(shoot / "phone.heic")
    photo(shoot / "a.jpg", size=(480, 320), seed=1)
    out = tmp_path / "ranking.csv"
    assert main(["score", str(shoot), "--csv", str(out), "--crops", "2"]) == 0
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in read_export_csv(out)}
    assert set(rows) == {"solo.dng", "flat.DNG", "phone.heic", "a.jpg"}
    for name, row in rows.items():
        assert row["status"] == "ok" and row["error"] == "" and float(row["score"]) == float(row["score"]), name
        assert row["companions"] == "", name


@pytest.mark.parametrize(
    ("module", "package", "write"),
    [
        ("rawpy", "rawpy", lambda d: write_dng(d / "a.dng")),
        ("pillow_heif", "pillow-heif", lambda d: write_heic(d / "a.heic")),
    ],
)
def test_a_missing_extra_is_named_in_the_message(tmp_path, monkeypatch, module, package, write):
    path = write(tmp_path)
    hide_module(monkeypatch, module)
    with pytest.raises(ImageDecodeError, match=f"install the optional '{package}' package"):
        open_image(path)
    with pytest.raises(ThumbnailError, match=f"'{package}'"):
        make_thumbnail(path, 64)
    out = tmp_path / "ranking.csv"
    assert main(["score", str(tmp_path), "--csv", str(out), "--crops", "2"]) == 0
    (row,) = read_export_csv(out)
    assert row["status"] == "error" and f"'{package}'" in row["error"]
