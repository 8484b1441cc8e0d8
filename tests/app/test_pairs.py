"""RAW + JPEG pairs are one photo for file actions: a move or trash takes both files and their sidecars,
undo brings them all back, and journal entries written before pairs existed still undo."""

from __future__ import annotations

import pytest

from loda_desktop.catalog import Catalog
from loda_desktop.fileops import DONE, UNDONE, FileActions, describe_action
from loda_desktop.scan import REJECT_DIR
from tests.helpers.files import write


@pytest.fixture
def cat(tmp_path):
    with Catalog(tmp_path / "catalog.sqlite3") as c:
        yield c


@pytest.fixture
def pair(tmp_path):
    folder = tmp_path / "shoot"
    files = {
        "jpg": write(folder / "IMG_0001.JPG", b"jpeg"),
        "raw": write(folder / "img_0001.cr2", b"raw"),  # the stems differ in case: still a pair
        "shared_xmp": write(folder / "IMG_0001.xmp", b"<x/>"),
        "raw_xmp": write(folder / "img_0001.cr2.xmp", b"<x/>"),
        "other": write(folder / "IMG_0002.JPG", b"other"),
    }
    return folder, files


def names(paths) -> list[str]:
    return sorted(p.name for p in paths)


@pytest.mark.parametrize("asked", [["jpg"], ["raw"], ["jpg", "raw"], ["raw", "jpg"]])
def test_moving_either_file_of_a_pair_moves_both_and_their_sidecars_and_undo_brings_them_back(cat, pair, asked):
    folder, files = pair
    cat.add_photos([files["jpg"]])
    cat.set_rating([files["jpg"]], 4)
    actions = FileActions(cat)
    result = actions.move_to_subfolder([files[k] for k in asked])
    assert result.ok and result.message == "Moved 1 photo to _rejected."
    moved = [dst for _, dst in result.succeeded]
    assert names(moved) == ["IMG_0001.JPG", "IMG_0001.xmp", "img_0001.cr2", "img_0001.cr2.xmp"]
    assert all(p.parent == folder / REJECT_DIR and p.exists() for p in moved)
    assert names(folder.glob("*.*")) == ["IMG_0002.JPG"]
    assert cat.get(folder / REJECT_DIR / "IMG_0001.JPG")[0].rating == 4  # the record followed the JPEG
    entry = cat.get_action(result.action_id)
    assert describe_action(entry) == "Move 1 photo to _rejected"
    assert [i["companion"] for i in entry.payload["items"]].count(True) == 1
    undone = actions.undo_last()
    assert undone.ok and undone.message == "Restored 1 photo."
    assert all(p.exists() for p in files.values())
    assert not (folder / REJECT_DIR).exists()
    assert cat.get(files["jpg"])[0].rating == 4 and cat.get_action(result.action_id).state == UNDONE


def test_a_name_clash_gives_the_whole_pair_the_same_new_stem(cat, pair):
    folder, files = pair
    write(folder / REJECT_DIR / "img_0001.cr2", b"an older reject")  # only the RAW's name is taken
    result = FileActions(cat).move_to_subfolder([files["jpg"]])
    assert names(dst for _, dst in result.succeeded) == [
        "IMG_0001 (1).JPG",
        "IMG_0001 (1).cr2",
        "IMG_0001 (1).cr2.xmp",
        "IMG_0001 (1).xmp",
    ]
    assert (folder / REJECT_DIR / "img_0001.cr2").read_bytes() == b"an older reject"


def test_trashing_a_pair_and_undo(cat, pair):
    folder, files = pair
    actions = FileActions(cat)
    result = actions.trash([files["jpg"]])
    assert result.ok and result.message == "Moved 1 photo to the trash."
    assert names(src for src, _ in result.succeeded) == names(v for k, v in files.items() if k != "other")
    assert names(folder.iterdir()) == ["IMG_0002.JPG"]
    undone = actions.undo_last()
    assert undone.ok and all(p.exists() for p in files.values())


def test_a_raw_alone_and_two_rendered_files_are_no_pair(cat, tmp_path):
    folder = tmp_path / "s"
    raw = write(folder / "A.NEF")
    jpg, heic, raw_b = write(folder / "B.jpg"), write(folder / "B.heic"), write(folder / "B.nef")
    result = FileActions(cat).move_to_subfolder([raw, jpg])
    assert names(src for src, _ in result.succeeded) == ["A.NEF", "B.jpg"]
    assert heic.exists() and raw_b.exists()


def test_a_journal_entry_from_before_pairs_still_undoes(cat, tmp_path):
    """Entries written by the previous release have no "companion" key on their items."""
    folder = tmp_path / "s"
    photo, sidecar = write(folder / "a.jpg"), write(folder / "a.xmp")
    actions = FileActions(cat)
    result = actions.move_to_subfolder([photo])
    entry = cat.get_action(result.action_id)
    for item in entry.payload["items"]:
        del item["companion"]
    cat.update_action(result.action_id, payload=entry.payload)
    assert describe_action(cat.get_action(result.action_id)) == "Move 1 photo to _rejected"
    assert [h.companion for h in actions.history()[0].items] == [False, False]
    assert cat.get_action(result.action_id).state == DONE
    undone = FileActions(cat).undo_last()
    assert undone.ok and photo.exists() and sidecar.exists()
