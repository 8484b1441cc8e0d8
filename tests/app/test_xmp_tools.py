"""What the app writes, read by the real tools: exiftool reads the values back, we read what exiftool writes,
and darktable-cli accepts a darktable sidecar the app merged. Each test is skipped, saying why, where its tool
is not installed (Debian: ``apt-get install libimage-exiftool-perl darktable``)."""

import json
import shutil
import subprocess

import pytest
from PIL import Image

from loda_desktop.catalog import Catalog
from loda_desktop.culling import Culling
from loda_desktop.xmp import read_photo_xmp, read_xmp_file
from loda_desktop.xmp_write import SidecarValues, merge_sidecar

from .badfiles import photo
from .xmp_samples import DARKTABLE, LIGHTROOM, foreign_facts

EXIFTOOL = shutil.which("exiftool")
DARKTABLE_CLI = shutil.which("darktable-cli")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed (libimage-exiftool-perl)")
needs_darktable = pytest.mark.skipif(DARKTABLE_CLI is None, reason="darktable-cli is not installed (darktable)")


def exiftool(*args):
    done = subprocess.run([EXIFTOOL, *map(str, args)], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


@needs_exiftool
def test_exiftool_reads_back_what_the_window_s_culling_wrote(tmp_path):
    a = photo(tmp_path / "DSC_0011.jpg")
    b = photo(tmp_path / "DSC_0012.jpg", seed=2)
    c = photo(tmp_path / "DSC_0013.jpg", seed=3)
    (tmp_path / "DSC_0011.xmp").write_text(
        LIGHTROOM.format(date="2024-05-01T10:11:12+02:00", rating=1, label="Red"), encoding="utf-8"
    )
    with Catalog() as cat:
        cat.add_photos([a, b, c])
        culling = Culling(cat, xmp_layout="lightroom")
        culling.set_rating([a], 4)
        culling.set_label([a], "green")
        culling.set_rating([b], 2)
        culling.set_label([b], "purple")
        culling.set_flag([c], "reject")
    got = json.loads(exiftool("-j", "-XMP:Rating", "-XMP:Label", "-XMP:Subject", *sorted(tmp_path.glob("*.xmp"))))
    by_name = {row["SourceFile"].rsplit("/", 1)[1]: row for row in got}
    assert (by_name["DSC_0011.xmp"]["Rating"], by_name["DSC_0011.xmp"]["Label"]) == (4, "Green")
    assert by_name["DSC_0011.xmp"]["Subject"] == ["wedding", "Anna & Ben"]  # the keywords survived the merge
    assert (by_name["DSC_0012.xmp"]["Rating"], by_name["DSC_0012.xmp"]["Label"]) == (2, "Purple")
    assert by_name["DSC_0013.xmp"]["Rating"] == -1 and "Label" not in by_name["DSC_0013.xmp"]


@needs_exiftool
def test_a_sidecar_and_an_embedded_packet_exiftool_wrote_are_read(tmp_path):
    a = photo(tmp_path / "IMG_1.jpg")
    exiftool("-XMP-xmp:Rating=3", "-XMP-xmp:Label=Blue", "-o", tmp_path / "IMG_1.xmp")
    values = read_photo_xmp(a)
    assert (values.rating, values.label, values.embedded) == (3, "blue", False)
    b = tmp_path / "IMG_2.jpg"
    Image.new("RGB", (40, 30), (90, 120, 30)).save(b)
    exiftool("-overwrite_original", "-XMP-xmp:Rating=5", "-XMP-xmp:Label=Yellow", b)
    values = read_photo_xmp(b)
    assert (values.rating, values.label, values.embedded) == (5, "yellow", True)


@needs_darktable
def test_darktable_cli_accepts_a_sidecar_the_app_merged(tmp_path):
    source = tmp_path / "t.jpg"
    Image.new("RGB", (64, 48), (120, 80, 40)).save(source)
    sidecar = tmp_path / "t.jpg.xmp"
    original = DARKTABLE.format(rating=1, photo="t.jpg", colour=2)
    sidecar.write_text(original, encoding="utf-8")
    values = SidecarValues(4, "reject", "blue", "2025-01-02T03:04:05+00:00", score=0.5, model="loda|crops=5")
    merged = merge_sidecar(read_xmp_file(sidecar), values, darktable_layout=True)
    sidecar.write_bytes(merged)
    assert foreign_facts(merged) == foreign_facts(original)

    def export(xmp, out):
        command = [DARKTABLE_CLI, source, xmp, out, "--core", "--configdir", tmp_path / "dt-config"]
        return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300)

    done = export(sidecar, tmp_path / "out.jpg")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "parsed with errors" not in done.stdout + done.stderr  # darktable read the whole sidecar
    assert (tmp_path / "out.jpg").stat().st_size > 0
    broken = tmp_path / "broken.xmp"  # the check can fail: darktable says so about a sidecar it cannot read
    broken.write_bytes(merged[: len(merged) // 2])
    done = export(broken, tmp_path / "out2.jpg")
    assert done.returncode != 0 or "parsed with errors" in done.stdout + done.stderr
