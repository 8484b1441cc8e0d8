"""Crashes in the middle of an undo, and moves a crash split from their sidecars (issue 26, faults 2 and 11).

A kill is simulated two ways: an exception raised at the step boundary (``os.unlink`` after ``os.link``), which
the code under test does not catch, and a real child process killed with SIGKILL at that boundary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from loda_desktop import safe_moves
from loda_desktop.catalog import Catalog
from loda_desktop.culling import Culling
from loda_desktop.fileops import DONE, PENDING, UNDOING, UNDONE, FileActions
from loda_desktop.scan import REJECT_DIR
from tests.helpers.files import write

from . import test_fileops

home_trash = test_fileops.home_trash  # the fixtures of the trash tests
same_device = test_fileops.same_device


class Killed(BaseException):
    """Stands for the process dying: nothing in the code under test catches a BaseException that is not its own."""


@pytest.fixture
def shoot(tmp_path) -> Path:
    folder = tmp_path / "shoot"
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        write(folder / name, name.encode())
    return folder


REAL_UNLINK = os.unlink


def _die_at_unlink(monkeypatch, after: int = 0) -> dict:
    """The (after+1)-th os.unlink of safe_moves never happens: the process 'dies' just before it. The process
    'restarts' when the returned dict's "dead" is set False (monkeypatch.undo() would also undo the test's
    isolated home folders)."""
    calls = {"n": 0, "dead": True}

    def unlink(path, *a, **k):
        calls["n"] += 1
        if calls["dead"] and calls["n"] > after:
            raise Killed(path)
        return REAL_UNLINK(path, *a, **k)

    monkeypatch.setattr(safe_moves.os, "unlink", unlink)
    return calls


def test_undo_killed_between_link_and_unlink_finishes_on_the_next_undo(tmp_path, shoot, monkeypatch):
    db = tmp_path / "cat.sqlite3"
    a, moved = shoot / "a.jpg", shoot / REJECT_DIR / "a.jpg"
    with Catalog(db) as cat:
        cat.add_photos([a])
        cat.set_rating([a], 4)
        FileActions(cat).move_to_subfolder([a])
        kill = _die_at_unlink(monkeypatch)
        with pytest.raises(Killed):
            FileActions(cat).undo_last()
        kill["dead"] = False
    assert a.exists() and moved.exists() and os.path.samefile(a, moved)  # one file, two names
    with Catalog(db) as cat:
        undo = Culling(cat).undo()  # Ctrl+Z after the restart
        assert undo.files is not None and undo.files.ok, undo.message
        assert a.read_bytes() == b"a.jpg" and not moved.exists()
        assert cat.get(a)[0].rating == 4
        assert FileActions(cat).history()[0].state == UNDONE


UNDO_KILLED = """
import os, signal, sys
from loda_desktop import safe_moves
from loda_desktop.catalog import Catalog
from loda_desktop.fileops import FileActions

real_unlink = os.unlink
calls = 0

def unlink_then_die(path):
    global calls
    calls += 1
    if calls > int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # the new name is linked, the old one not yet removed
    real_unlink(path)

cat = Catalog(sys.argv[1])
safe_moves.os.unlink = unlink_then_die
FileActions(cat).undo_last()
"""


@pytest.mark.parametrize("unlinks_before_the_kill", [0, 1])
def test_sigkill_mid_undo_then_ctrl_z_resumes_that_undo(tmp_path, shoot, unlinks_before_the_kill):
    """A real SIGKILL in the undo of a three-photo move (undone last to first: d, b, a), between link and unlink
    of d or of b; an older action exists. After the restart, the half-moved file is back (once), and Ctrl+Z
    resumes the interrupted undo: not 'Nothing to undo', not the older action."""
    db = tmp_path / "cat.sqlite3"
    a, b, c, d = (shoot / n for n in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"))
    rejected = shoot / REJECT_DIR
    with Catalog(db) as cat:
        cat.add_photos([a, b, c, d])
        actions = FileActions(cat)
        older = actions.move_to_subfolder([c])
        newer = actions.move_to_subfolder([a, b, d])
    proc = subprocess.run([sys.executable, "-c", UNDO_KILLED, str(db), str(unlinks_before_the_kill)], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    with Catalog(db) as cat:
        assert cat.get_action(newer.action_id).state == UNDOING
        actions = FileActions(cat)
        [recovered] = actions.recovered
        assert cat.get_action(newer.action_id).state == DONE
        half = (d, b)[unlinks_before_the_kill]
        assert (rejected / half.name, half) in recovered.succeeded
        assert half.exists() and not (rejected / half.name).exists()  # the file half moved back is back, once
        undo = Culling(cat, actions).undo()
        assert undo.files is not None and undo.files.action_id == newer.action_id, undo.message
        assert undo.files.ok and a.read_bytes() == b"a.jpg" and not (rejected / "a.jpg").exists()
        assert cat.get_action(newer.action_id).state == UNDONE
        assert cat.get_action(older.action_id).state == DONE  # the older action is the next one, untouched
        assert (rejected / "c.jpg").exists()
        assert sorted(p.name for p in shoot.iterdir() if p.is_file()) == ["a.jpg", "b.jpg", "d.jpg"]


def test_a_single_action_whose_undo_was_interrupted_is_still_undoable(tmp_path, shoot):
    db = tmp_path / "cat.sqlite3"
    a, b = shoot / "a.jpg", shoot / "b.jpg"
    rejected = shoot / REJECT_DIR
    with Catalog(db) as cat:
        moved = FileActions(cat).move_to_subfolder([a, b])
        cat.update_action(moved.action_id, state=UNDOING)  # the undo died after putting b back
    os.rename(rejected / "b.jpg", b)
    with Catalog(db) as cat:
        culling = Culling(cat)
        assert culling.next_undo() == "Move 2 photos to _rejected"
        undo = culling.undo()
        assert undo.files.succeeded == [(rejected / "a.jpg", a)] and undo.files.ok and a.exists()


CRASHING_MOVE = """
import os, sys
from loda_desktop import fileops
from loda_desktop.catalog import Catalog

real_move = fileops.move_no_clobber
moves = 0

def move_then_die(src, dst):
    global moves
    if moves == int(sys.argv[3]):
        os._exit(9)
    real_move(src, dst)
    moves += 1

fileops.move_no_clobber = move_then_die
fileops.FileActions(Catalog(sys.argv[1])).move_to_subfolder([sys.argv[2]])
"""


def test_a_move_killed_between_photo_and_sidecar_is_completed(tmp_path):
    db = tmp_path / "cat.sqlite3"
    folder = tmp_path / "s"
    photo, sidecar = write(folder / "IMG_1.jpg"), write(folder / "IMG_1.xmp", b"<xmp/>")
    with Catalog(db) as cat:
        cat.add_photos([photo])
    proc = subprocess.run([sys.executable, "-c", CRASHING_MOVE, str(db), str(photo), "1"], timeout=120)
    assert proc.returncode == 9
    rejected = folder / REJECT_DIR
    assert (rejected / "IMG_1.jpg").exists() and sidecar.exists()  # split by the crash
    with Catalog(db) as cat:
        assert cat.actions()[0].state == PENDING
        actions = FileActions(cat)
        assert [i.state for i in actions.history()[0].items] == ["done", "done"]
        assert sorted(p.name for p in rejected.iterdir()) == ["IMG_1.jpg", "IMG_1.xmp"] and not sidecar.exists()
        assert actions.undo_last().ok
    assert sorted(p.name for p in folder.iterdir()) == ["IMG_1.jpg", "IMG_1.xmp"]


def test_a_sidecar_moved_without_its_photo_goes_back(tmp_path):
    db = tmp_path / "cat.sqlite3"
    folder = tmp_path / "s"
    photo, sidecar = write(folder / "IMG_1.jpg"), write(folder / "IMG_1.xmp", b"<xmp/>")
    rejected = folder / REJECT_DIR
    items = [
        {"group": 0, "src": str(photo), "dst": str(rejected / "IMG_1.jpg"), "sidecar": False, "state": "planned"},
        {"group": 0, "src": str(sidecar), "dst": str(rejected / "IMG_1.xmp"), "sidecar": True, "state": "planned"},
    ]
    with Catalog(db) as cat:
        cat.add_action("move", {"subfolder": REJECT_DIR, "items": items, "created_dirs": [str(rejected)]}, PENDING)
        write(rejected / "IMG_1.jpg", b"someone else's file")  # the photo could not have gone there
        os.rename(sidecar, rejected / "IMG_1.xmp")
        actions = FileActions(cat)
        assert sidecar.read_bytes() == b"<xmp/>" and photo.exists()
        assert [i.state for i in actions.history()[0].items] == ["failed", "failed"]


def test_trash_restore_killed_between_link_and_unlink(tmp_path, shoot, monkeypatch, same_device):
    db = tmp_path / "cat.sqlite3"
    a = shoot / "a.jpg"
    with Catalog(db) as cat:
        FileActions(cat).trash([a])
        kill = _die_at_unlink(monkeypatch)
        with pytest.raises(Killed):
            FileActions(cat).undo_last()
        kill["dead"] = False
        assert a.exists() and len(os.listdir(same_device / "files")) == 1  # one inode, in the folder and the trash
        undo = FileActions(cat).undo_last()
        assert undo.ok, undo.message
        assert a.read_bytes() == b"a.jpg"
        assert os.listdir(same_device / "files") == [] and os.listdir(same_device / "info") == []


def test_a_trash_killed_between_photo_and_sidecar_is_completed(tmp_path, same_device):
    import send2trash

    db = tmp_path / "cat.sqlite3"
    folder = tmp_path / "s"
    photo, sidecar = write(folder / "IMG_1.jpg"), write(folder / "IMG_1.xmp", b"<xmp/>")
    items = [
        {"group": 0, "src": str(photo), "dst": None, "sidecar": False, "state": "planned", "file_id": None},
        {"group": 0, "src": str(sidecar), "dst": None, "sidecar": True, "state": "planned", "file_id": None},
    ]
    with Catalog(db) as cat:
        cat.add_action("trash", {"items": items}, PENDING)
        send2trash.send2trash(str(photo))  # the crash came after the photo, before its sidecar
        actions = FileActions(cat)
        assert not sidecar.exists() and sorted(os.listdir(same_device / "files")) == ["IMG_1.jpg", "IMG_1.xmp"]
        assert [i.state for i in actions.history()[0].items] == ["done", "done"]
        assert actions.undo_last().ok
    assert sorted(p.name for p in folder.iterdir()) == ["IMG_1.jpg", "IMG_1.xmp"]
