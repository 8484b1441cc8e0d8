"""``loda score --csv`` shows the sidecars' ratings and labels; ``loda xmp read`` / ``loda xmp write``."""

from loda_desktop.cli import main
from loda_desktop.xmp import read_photo_xmp
from tests.app.badfiles import photo
from tests.app.xmp_samples import DARKTABLE, LIGHTROOM
from tests.helpers.files import read_export_csv


def make_shoot(folder):
    folder.mkdir()
    photo(folder / "DSC_0011.jpg", size=(320, 240), seed=1)
    photo(folder / "DSC_0012.JPG", size=(320, 240), seed=2)
    photo(folder / "DSC_0013.jpg", size=(320, 240), seed=3)
    lightroom = LIGHTROOM.format(date="2024-05-01T10:11:12+02:00", rating=4, label="Green")
    (folder / "DSC_0011.xmp").write_text(lightroom, encoding="utf-8")
    (folder / "DSC_0012.JPG.xmp").write_text(DARKTABLE.format(rating=-1, photo="DSC_0012.JPG", colour=3))
    return folder


def test_score_csv_shows_sidecar_ratings_and_labels(tmp_path, capsys):
    folder = make_shoot(tmp_path / "shoot")
    out = tmp_path / "out.csv"
    assert main(["score", str(folder), "--csv", str(out), "--crops", "2", "--batch", "8"]) == 0
    rows = {r["path"].rsplit("/", 1)[1]: r for r in read_export_csv(out)}
    assert (rows["DSC_0011.jpg"]["rating"], rows["DSC_0011.jpg"]["label"]) == ("4", "green")
    assert (rows["DSC_0012.JPG"]["flag"], rows["DSC_0012.JPG"]["label"]) == ("reject", "blue")
    assert (rows["DSC_0013.jpg"]["rating"], rows["DSC_0013.jpg"]["label"]) == ("0", "")
    assert "Read 4 values from XMP (2 photos)." in capsys.readouterr().err


def test_xmp_write_and_read(tmp_path, capsys):
    folder = make_shoot(tmp_path / "shoot")
    assert main(["xmp", "write", str(folder)]) == 1  # the setting is off and no layout was given
    assert "error: choose --layout" in capsys.readouterr().err
    assert main(["xmp", "read", str(folder)]) == 0
    assert "Read 4 values from XMP (2 photos)." in capsys.readouterr().err
    assert main(["xmp", "read", str(folder)]) == 0
    assert "No new ratings, flags or labels" in capsys.readouterr().err
    assert main(["xmp", "write", str(folder), "--layout", "darktable"]) == 0
    assert "Wrote 3 XMP sidecars." in capsys.readouterr().err
    written = read_photo_xmp(folder / "DSC_0011.jpg")
    assert written.source.name == "DSC_0011.jpg.xmp" and (written.rating, written.label) == (4, "green")
    assert read_photo_xmp(folder / "DSC_0012.JPG").flag_after(None) == "reject"
    assert read_photo_xmp(folder / "DSC_0013.jpg").rating == 0
