"""Culling without a display: ratings, flags and labels, and Ctrl+Z's one history of edits and file moves,
newest first, also after the catalog was closed and opened again."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from loda_desktop.catalog import Catalog
from loda_desktop.culling import HISTORY_LIMIT, Culling
from loda_desktop.fileops import PARTIAL, UNDONE, FileActions
from loda_desktop.scan import REJECT_DIR
from tests.helpers.files import write


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "catalog.sqlite3"


@pytest.fixture
def shoot(tmp_path) -> list[Path]:
    photos = [write(tmp_path / "shoot" / name, name.encode()) for name in ("a.jpg", "b.jpg", "c.jpg")]
    with Catalog(tmp_path / "catalog.sqlite3") as cat:
        cat.add_photos(photos)
    return photos


@pytest.fixture
def cat(db, shoot):
    with Catalog(db) as c:
        yield c


@pytest.fixture
def culling(cat):
    return Culling(cat)


def values(cat: Catalog, paths, field: str) -> list:
    return [getattr(cat.get(p)[0], field) for p in paths]


def test_set_then_undo_restores_each_photos_own_value(cat, culling, shoot):
    a, b, _ = shoot
    cat.set_rating([a], 3)  # outside the history: the value before the edit
    edit = culling.set_rating([a, b], 5)
    assert edit is not None and edit.field == "rating"
    assert edit.changes == {str(a): (3, 5), str(b): (0, 5)}
    assert values(cat, shoot, "rating") == [5, 5, 0]
    assert culling.next_undo() == "rating ★★★★★ (2 photos)"

    result = culling.undo()
    assert result.message == "Undid rating ★★★★★ (2 photos)."
    assert result.field == "rating" and result.restored == {str(a): 3, str(b): 0} and not result.kept
    assert values(cat, shoot, "rating") == [3, 0, 0]
    assert culling.next_undo() is None
    assert culling.undo().message == "Nothing to undo."
    assert values(cat, shoot, "rating") == [3, 0, 0]


def test_undo_walks_back_newest_first_through_every_field(cat, culling, shoot):
    a, b, _ = shoot
    culling.set_rating([a], 3)
    culling.set_rating([a], 5)
    culling.set_flag([a, b], "pick")
    culling.set_flag([b], "reject")
    culling.toggle_label([a], "green")
    culling.toggle_label([a], "green")  # the same colour again clears it
    assert cat.get(a)[0].label is None
    culling.set_label([b], "  red ")
    assert cat.get(b)[0].label == "red"

    undone = [culling.undo().description for _ in range(7)]
    assert undone == [
        "label red (1 photo)",
        "label cleared (1 photo)",
        "label green (1 photo)",
        "reject (1 photo)",
        "pick (2 photos)",
        "rating ★★★★★ (1 photo)",
        "rating ★★★ (1 photo)",
    ]
    for photo in shoot:
        record = cat.get(photo)[0]
        assert (record.rating, record.flag, record.label) == (0, None, None)
    assert culling.undo().description == ""


def test_a_change_that_changes_nothing_is_not_an_undo_step(cat, culling, shoot):
    a, b, _ = shoot
    culling.set_flag([a], "reject")
    assert culling.set_flag([a], "reject") is None
    assert culling.set_rating([a, b, shoot[0].with_name("not-cataloged.jpg")], 0) is None
    culling.toggle_label([a, b], "blue")
    culling.toggle_label([a], "yellow")  # not every photo has yellow: set it, do not clear
    assert values(cat, [a, b], "label") == ["yellow", "blue"]
    assert len(cat.edits()) == 3
    culling.undo()
    culling.undo()
    assert culling.undo().description == "reject (1 photo)"


def test_bad_values_are_refused_before_anything_is_written(cat, culling, shoot):
    for bad in (6, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="rating"):
            culling.set_rating(shoot, bad)
    with pytest.raises(ValueError, match="flag"):
        culling.set_flag(shoot, "maybe")
    with pytest.raises(ValueError, match="label"):
        culling.set_label(shoot, "x" * 1000)
    assert cat.edits() == [] and values(cat, shoot, "rating") == [0, 0, 0]


def test_a_value_changed_outside_the_history_is_kept(cat, culling, shoot):
    a, b, _ = shoot
    culling.set_rating([a, b], 2)
    cat.set_rating([b], 4)  # e.g. another copy of the app on the same catalog
    result = culling.undo()
    assert result.restored == {str(a): 0} and result.kept == {str(b): 4}
    assert "1 photo changed since kept the newer value" in result.message
    assert values(cat, [a, b], "rating") == [0, 4]


def test_edits_and_file_moves_are_undone_in_the_order_they_were_made(cat, shoot):
    a, b, c = shoot
    actions = FileActions(cat)
    culling = Culling(cat, actions)
    culling.set_rating([a], 4)
    culling.set_flag([a, b], "reject")
    moved = actions.move_to_subfolder([a, b])
    assert moved.ok
    ra = a.parent / REJECT_DIR / "a.jpg"
    culling.set_label([c], "red")
    assert culling.next_undo() == "label red (1 photo)"

    assert culling.undo().field == "label"
    assert cat.get(c)[0].label is None and ra.exists()  # the newer label first, the move stays
    assert culling.next_undo() == f"Move 2 photos to {REJECT_DIR}"
    result = culling.undo()
    assert result.files is not None and result.files.ok and result.field is None
    assert result.message == "Restored 2 photos." and a.exists() and b.exists() and not ra.exists()
    assert culling.undo().restored == {str(a): None, str(b): None}  # then the flags, at their own place
    assert culling.undo().restored == {str(a): 0}
    assert culling.undo().message == "Nothing to undo."


def test_an_edit_older_than_a_move_comes_after_it(cat, shoot):
    a, b, _ = shoot
    actions = FileActions(cat)
    culling = Culling(cat, actions)
    first = actions.move_to_subfolder([b])
    culling.set_rating([a], 1)  # between two file actions
    second = actions.move_to_subfolder([a])
    assert [culling.undo().files.action_id, culling.undo().field, culling.undo().files.action_id] == [
        second.action_id,
        "rating",
        first.action_id,
    ]
    assert a.exists() and b.exists() and cat.get(a)[0].rating == 0


def test_an_edit_follows_its_photo_when_a_move_could_not_be_fully_undone(cat, shoot):
    a, b, _ = shoot
    actions = FileActions(cat)
    culling = Culling(cat, actions)
    culling.set_rating([a], 5)
    moved = actions.move_to_subfolder([a, b])
    write(a, b"someone else's a.jpg")  # a.jpg's place is taken: its move cannot be undone
    result = culling.undo()
    assert result.files.action_id == moved.action_id and not result.files.ok
    assert cat.get_action(moved.action_id).state == PARTIAL
    ra = a.parent / REJECT_DIR / "a.jpg"
    undone = culling.undo()  # the partial move is not retried by Ctrl+Z (as before): the rating is next
    assert undone.restored == {str(ra): 0}
    assert cat.get(ra)[0].rating == 0


def test_undo_survives_a_restart(db, shoot):
    a, b, _ = shoot
    with Catalog(db) as cat:
        actions = FileActions(cat)
        culling = Culling(cat, actions)
        culling.set_rating([a, b], 3)
        culling.set_flag([b], "reject")
        assert actions.move_to_subfolder([b]).ok
        culling.toggle_label([a], "green")

    with Catalog(db) as cat:  # a new process would see exactly this
        culling = Culling(cat)
        assert culling.next_undo() == "label green (1 photo)"
        assert culling.undo().restored == {str(a): None}

    with Catalog(db) as cat:
        culling = Culling(cat)
        assert culling.undo().files.ok and b.exists()
        assert culling.undo().description == "reject (1 photo)"
        assert culling.undo().description == "rating ★★★ (2 photos)"
        assert values(cat, [a, b], "rating") == [0, 0] and values(cat, [a, b], "flag") == [None, None]
        assert [e.state for e in cat.edits()] == ["undone"] * 3
        assert cat.actions()[0].state == UNDONE


def test_the_history_is_bounded(cat, shoot):
    a = shoot[0]
    culling = Culling(cat, history_limit=3)
    for stars in range(1, 6):
        culling.set_rating([a], stars)
    assert len(cat.edits()) == 3
    assert [culling.undo().restored for _ in range(3)] == [{str(a): 4}, {str(a): 3}, {str(a): 2}]
    assert culling.undo().message == "Nothing to undo."
    assert cat.get(a)[0].rating == 2  # the two oldest changes were forgotten
    rows = cat._conn.execute("SELECT COUNT(*) FROM edit_items").fetchone()[0]
    assert rows == 3  # the items of trimmed entries went with them
    assert Culling(cat).history_limit == HISTORY_LIMIT == 500  # what README's key table promises


def test_an_undo_made_elsewhere_in_the_meantime_is_reported_not_repeated(db, shoot, monkeypatch):
    a = shoot[0]
    with Catalog(db) as mine, Catalog(db) as theirs:
        culling = Culling(mine)
        edit = culling.set_rating([a], 2)
        looked_up = culling._newest()
        theirs.revert_edit(edit.id)  # another copy of the app undoes it between the look-up and the revert
        monkeypatch.setattr(culling, "_newest", lambda: looked_up)
        result = culling.undo()
        assert result.description == "" and "already undone" in result.message
        assert mine.get(a)[0].rating == 0


def test_the_edit_history_is_in_the_catalog_schema(db, shoot):
    with Catalog(db) as cat:
        Culling(cat).set_flag(shoot[:1], "pick")
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT field, state FROM edits").fetchall() == [("flag", "done")]
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO edits (field, description, state, after_action, created, updated) "
                "VALUES ('score', 'x', 'done', 0, 0, 0)"
            )
    finally:
        conn.close()


def test_culling_does_not_import_qt():
    code = "import sys, loda_desktop.culling; print([m for m in sys.modules if m.startswith(('PySide6', 'shiboken'))])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
