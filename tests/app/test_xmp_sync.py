"""The catalog and XMP in step: read on open (newest wins, never silently, undoable), written back on every
change and undo when the setting asks, merged, with the original kept and the photos untouched."""

import logging
import os
import sqlite3
import time

import pytest

from loda_desktop import catalog_schema
from loda_desktop.catalog import Catalog
from loda_desktop.culling import Culling
from loda_desktop.paths import data_dir
from loda_desktop.sidecar_sync import import_xmp, sidecar_path, write_sidecars
from loda_desktop.xmp import read_photo_xmp

from .badfiles import photo
from .xmp_samples import DARKTABLE, LIGHTROOM, foreign_facts


def lightroom(path, rating, label="Green", date="2024-05-01T10:11:12+02:00"):
    path.write_text(LIGHTROOM.format(date=date, rating=rating, label=label), encoding="utf-8")
    return path


@pytest.fixture
def shoot(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    a = photo(folder / "DSC_0011.jpg")
    b = photo(folder / "DSC_0012.JPG", seed=2)
    lightroom(folder / "DSC_0011.xmp", 4)
    (folder / "DSC_0012.JPG.xmp").write_text(DARKTABLE.format(rating=-1, photo="DSC_0012.JPG", colour=3))
    return folder, a, b


@pytest.fixture
def cat():
    with Catalog() as catalog:
        yield catalog


def values(cat, path):
    record, _ = cat.get(path)
    return record.rating, record.flag, record.label


def test_sidecars_are_read_into_the_catalog_once_and_the_import_can_be_undone(shoot, cat):
    _, a, b = shoot
    cat.add_photos([a, b])
    report = import_xmp(cat, [a, b])
    assert values(cat, a) == (4, None, "green") and values(cat, b) == (0, "reject", "blue")
    assert (report.values, report.photos, report.replaced) == (4, 2, 0)
    assert report.describe() == "Read 4 values from XMP (2 photos)."
    assert sorted(e.description for e in report.edits) == [
        "flags read from XMP",
        "labels read from XMP",
        "ratings read from XMP",
    ]
    assert import_xmp(cat, [a, b]).values == 0  # unchanged sources are not read again
    culling = Culling(cat)
    for _ in report.edits:
        culling.undo()
    assert values(cat, a) == (0, None, None) and values(cat, b) == (0, None, None)


def test_an_unchanged_sidecar_never_overwrites_a_later_change_made_in_the_app(shoot, cat):
    folder, a, _ = shoot
    lightroom(folder / "DSC_0011.xmp", 4, date="2099-01-01T00:00:00Z")  # even one dated in the future
    cat.add_photos([a])
    import_xmp(cat, [a])
    Culling(cat).set_rating([a], 2)
    assert import_xmp(cat, [a]).values == 0 and values(cat, a)[0] == 2


def test_newest_wins_and_a_replaced_app_value_is_reported(shoot, cat, caplog):
    folder, a, _ = shoot
    cat.add_photos([a])
    (folder / "DSC_0011.xmp").unlink()
    Culling(cat).set_rating([a], 2)  # changed in the app now
    lightroom(folder / "DSC_0011.xmp", 5, date="2001-01-01T00:00:00Z")  # an older sidecar appears
    report = import_xmp(cat, [a])
    assert report.kept_newer == 1 and values(cat, a)[0] == 2
    assert "kept newer changes made in the app" in report.describe()
    lightroom(folder / "DSC_0011.xmp", 5, date="2099-01-01T00:00:00Z")  # edited in Lightroom later
    with caplog.at_level(logging.WARNING, logger="loda_desktop.sidecar_sync"):
        report = import_xmp(cat, [a])
    assert values(cat, a)[0] == 5 and report.replaced == 1
    assert "replaced a value set in the app" in report.describe()
    assert "replaces the rating 2 set in the app" in caplog.text


def test_without_a_metadata_date_the_file_time_decides(shoot, cat):
    folder, a, _ = shoot
    cat.add_photos([a])
    (folder / "DSC_0011.xmp").unlink()
    Culling(cat).set_rating([a], 2)
    sidecar = lightroom(folder / "DSC_0011.xmp", 5)
    sidecar.write_text(sidecar.read_text().replace('xmp:MetadataDate="2024-05-01T10:11:12+02:00"', ""))
    old = time.time() - 3600
    os.utime(sidecar, (old, old))
    assert import_xmp(cat, [a]).kept_newer == 1
    os.utime(sidecar, None)  # touched now: newer than the change in the app
    assert import_xmp(cat, [a]).values == 2 and values(cat, a) == (5, None, "green")


def test_write_back_on_change_and_undo_merges_and_keeps_the_original(shoot, cat):
    folder, a, _ = shoot
    original = (folder / "DSC_0011.xmp").read_bytes()
    photo_bytes = a.read_bytes()
    cat.add_photos([a])
    import_xmp(cat, [a])
    culling = Culling(cat, xmp_layout="lightroom")
    culling.set_rating([a], 1)
    culling.set_flag([a], "reject")
    after = read_photo_xmp(a)
    assert (after.rating, after.flag_after(None), after.label) == (None, "reject", "green")
    assert foreign_facts((folder / "DSC_0011.xmp").read_bytes()) == foreign_facts(original)
    copies = list((data_dir() / "xmp-originals").iterdir())
    assert len(copies) == 1 and copies[0].read_bytes() == original  # the first copy only
    culling.undo()
    assert read_photo_xmp(a).rating == 1 and read_photo_xmp(a).flag_after("reject") is None
    culling.undo()
    assert read_photo_xmp(a).rating == 4
    assert a.read_bytes() == photo_bytes  # the photo itself is never written
    assert import_xmp(cat, [a]).values == 0  # what the app wrote is not read back as news
    assert len(list((data_dir() / "xmp-originals").iterdir())) == 1


def test_darktable_layout_writes_name_ext_xmp_and_reuses_an_existing_case(shoot, cat):
    folder, _, b = shoot
    assert sidecar_path(b, "darktable") == folder / "DSC_0012.JPG.xmp"
    assert sidecar_path(b, "lightroom") == folder / "DSC_0012.xmp"
    lightroom(folder / "DSC_0012.XMP", 1)
    assert sidecar_path(b, "lightroom") == folder / "DSC_0012.XMP"
    cat.add_photos([b])
    Culling(cat, xmp_layout="darktable").set_label([b], "yellow")
    assert read_photo_xmp(b).label == "yellow"
    assert "<rdf:li>1</rdf:li>" in (folder / "DSC_0012.JPG.xmp").read_text()  # darktable:colorlabels 1 = yellow


def test_a_raw_jpeg_pair_reads_the_raw_sidecar_and_darktable_writes_both(tmp_path, cat):
    """darktable edits the RAW of a RAW + JPEG pair: its NAME.RAW.xmp is read for the pair and written with it."""
    folder = tmp_path / "pair"
    folder.mkdir()
    jpeg = photo(folder / "IMG_0001.JPG")
    (folder / "IMG_0001.DNG").write_bytes(b"II*\0 a RAW only by name: pairing looks at names")
    raw_sidecar = folder / "IMG_0001.DNG.xmp"
    raw_sidecar.write_text(DARKTABLE.format(rating=3, photo="IMG_0001.DNG", colour=2), encoding="utf-8")
    cat.add_photos([jpeg])
    import_xmp(cat, [jpeg])
    assert values(cat, jpeg) == (3, None, "green")
    Culling(cat, xmp_layout="darktable").set_rating([jpeg], 5)
    for sidecar in (folder / "IMG_0001.JPG.xmp", raw_sidecar):
        assert read_photo_xmp(sidecar.with_suffix("")).rating == 5, sidecar.name
    assert foreign_facts(raw_sidecar.read_bytes()) == foreign_facts(
        DARKTABLE.format(rating=3, photo="IMG_0001.DNG", colour=2).encode()
    )  # darktable's own fields of the RAW's sidecar survive the merge
    assert import_xmp(cat, [jpeg]).values == 0  # what was just written is not read back as news


def test_off_writes_nothing(shoot, cat):
    folder, a, _ = shoot
    (folder / "DSC_0011.xmp").unlink()
    cat.add_photos([a])
    Culling(cat).set_rating([a], 3)
    assert sorted(p.name for p in folder.iterdir()) == ["DSC_0011.jpg", "DSC_0012.JPG", "DSC_0012.JPG.xmp"]


def test_a_sidecar_that_cannot_be_parsed_is_left_alone_and_reported(shoot, cat):
    folder, a, b = shoot
    (folder / "DSC_0012.JPG.xmp").unlink()
    broken = folder / "DSC_0011.xmp"
    broken.write_bytes(b"<x:xmpmeta><not closed")
    cat.add_photos([a, b])
    culling = Culling(cat, xmp_layout="lightroom")
    edit = culling.set_rating([a, b], 3)
    assert edit is not None and values(cat, a)[0] == 3  # the change itself is saved
    assert broken.read_bytes() == b"<x:xmpmeta><not closed"
    assert [p for p, _ in culling.sidecar_problems] == [str(broken)]
    assert read_photo_xmp(b).rating == 3  # the other photo's sidecar is written
    report = write_sidecars(cat, [a], "lightroom")
    assert report.written == [] and "not well-formed" in report.problems[0][1]


def test_a_version_2_catalog_gains_edited_at_from_its_history(tmp_path):
    a = photo(tmp_path / "a.jpg")
    db = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    catalog_schema._create_v1(conn)
    catalog_schema._create_v2(conn)
    conn.execute("PRAGMA user_version = 2")
    st = a.stat()
    conn.execute(
        "INSERT INTO photos (path, size, mtime_ns, rating) VALUES (?, ?, ?, 3)", (str(a), st.st_size, st.st_mtime_ns)
    )
    conn.execute(
        "INSERT INTO edits (field, description, state, after_action, created, updated) "
        "VALUES ('rating', 'rating', 'done', 0, 1000.0, 1234.5)"
    )
    conn.execute("INSERT INTO edit_items VALUES (1, 1, 0, 3)")
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version >= 3
        assert cat.xmp_states([a]) == {str(a): (1234.5, None)}
        assert values(cat, a) == (3, None, None)


def test_import_uses_the_pairs_the_caller_found(tmp_path, cat):
    """The window's listing knows each chunk's pairs already: they are passed in rather than listed again."""
    folder = tmp_path / "given"
    folder.mkdir()
    jpeg = photo(folder / "IMG_0002.JPG")
    raw = folder / "IMG_0002.DNG"
    (raw.with_name("IMG_0002.DNG.xmp")).write_text(
        DARKTABLE.format(rating=2, photo="IMG_0002.DNG", colour=1), encoding="utf-8"
    )  # no RAW file: only a caller that says the pair exists reads its sidecar
    cat.add_photos([jpeg])
    assert import_xmp(cat, [jpeg], pairs={}).values == 0
    assert import_xmp(cat, [jpeg], pairs={jpeg: [raw]}).values == 2
    assert values(cat, jpeg) == (2, None, "yellow")
