"""Undoable file actions: move to _rejected, trash, undo (also after reopening), crash recovery."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loda_desktop import fileops, safe_moves
from loda_desktop.catalog import Catalog
from loda_desktop.fileops import DONE, FAILED, PARTIAL, PENDING, UNDONE, FileActions, find_trashinfo
from loda_desktop.scan import REJECT_DIR
from tests.helpers.files import write

MODEL = "m"


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "catalog.sqlite3"


@pytest.fixture
def cat(db):
    with Catalog(db) as c:
        yield c


@pytest.fixture
def shoot(tmp_path) -> Path:
    folder = tmp_path / "shoot"
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        write(folder / name, name.encode())
    return folder


def test_move_keeps_catalog_data_and_undo_restores(cat, shoot):
    a, b, c = (shoot / n for n in ("a.jpg", "b.jpg", "c.jpg"))
    cat.add_photos([a, b, c])
    cat.set_rating([a], 4)
    cat.set_flag([a], "reject")
    cat.put_score(a, MODEL, 0.3)
    actions = FileActions(cat)

    result = actions.move_to_subfolder([a, b])
    rejected = shoot / REJECT_DIR
    assert result.ok and result.action_id is not None
    assert result.succeeded == [(a, rejected / "a.jpg"), (b, rejected / "b.jpg")]
    assert "Moved 2 photos" in result.message
    assert not a.exists() and (rejected / "a.jpg").read_bytes() == b"a.jpg"
    record, score = cat.get(rejected / "a.jpg", MODEL)
    assert (record.rating, record.flag, score.score) == (4, "reject", 0.3)
    assert a not in cat

    [entry] = actions.history()
    assert (entry.kind, entry.state, entry.undoable) == ("move", DONE, True)
    assert entry.description == f"Move 2 photos to {REJECT_DIR}"
    assert [i.src for i in entry.items] == [a, b] and all(i.state == "done" for i in entry.items)

    undo = actions.undo_last()
    assert undo.ok and sorted(undo.succeeded) == [(rejected / "a.jpg", a), (rejected / "b.jpg", b)]
    assert a.read_bytes() == b"a.jpg" and b.exists()
    assert not rejected.exists()  # the folder the action created is removed again when empty
    assert cat.get(a, MODEL)[1].score == 0.3
    assert actions.history()[0].state == UNDONE
    assert actions.undo_last().message == "Nothing to undo."


def test_name_clash_never_overwrites(cat, shoot):
    rejected = shoot / REJECT_DIR
    write(rejected / "a.jpg", b"older reject")
    write(rejected / "a (1).jpg", b"another older reject")
    a = shoot / "a.jpg"
    result = FileActions(cat).move_to_subfolder([a])
    assert result.succeeded == [(a, rejected / "a (2).jpg")]
    assert (rejected / "a.jpg").read_bytes() == b"older reject"
    assert (rejected / "a (1).jpg").read_bytes() == b"another older reject"
    assert (rejected / "a (2).jpg").read_bytes() == b"a.jpg"


def test_same_name_from_one_folder_twice(cat, shoot):
    actions = FileActions(cat)
    a = shoot / "a.jpg"
    first = actions.move_to_subfolder([a])
    write(a, b"new a")
    result = actions.move_to_subfolder([a])
    assert result.succeeded == [(a, shoot / REJECT_DIR / "a (1).jpg")]
    # Undo in reverse order brings both back: the newer first, then the older one can't (a.jpg is occupied).
    assert actions.undo_last().ok
    assert a.read_bytes() == b"new a"
    blocked = actions.undo_last()
    assert not blocked.ok
    assert "is now occupied" in blocked.failed[0][1]
    assert (shoot / REJECT_DIR / "a.jpg").read_bytes() == b"a.jpg"  # left where it was
    assert [e.state for e in actions.history()] == [UNDONE, DONE]  # still undoable once the spot is free
    assert actions.history()[1].id == first.action_id
    a.unlink()
    assert actions.undo_last().ok
    assert a.read_bytes() == b"a.jpg"


def test_sidecars_travel_with_their_photo(cat, tmp_path):
    folder = tmp_path / "s"
    photo = write(folder / "IMG_1.jpg")
    stem_xmp = write(folder / "IMG_1.xmp", b"<xmp stem/>")
    full_xmp = write(folder / "IMG_1.jpg.XMP", b"<xmp full/>")
    other_xmp = write(folder / "IMG_2.xmp")
    rejected = folder / REJECT_DIR
    write(rejected / "IMG_1.xmp", b"occupied sidecar name")  # forces a rename of the whole group
    actions = FileActions(cat)
    result = actions.move_to_subfolder([photo])
    assert result.succeeded == [
        (photo, rejected / "IMG_1 (1).jpg"),
        (full_xmp, rejected / "IMG_1 (1).jpg.XMP"),
        (stem_xmp, rejected / "IMG_1 (1).xmp"),
    ]
    assert (rejected / "IMG_1 (1).xmp").read_bytes() == b"<xmp stem/>"
    assert other_xmp.exists()
    [entry] = actions.history()
    assert [i.sidecar for i in entry.items] == [False, True, True]
    assert entry.description == f"Move 1 photo to {REJECT_DIR}"
    assert actions.undo_last().ok
    assert stem_xmp.read_bytes() == b"<xmp stem/>" and full_xmp.exists() and photo.exists()
    assert (rejected / "IMG_1.xmp").read_bytes() == b"occupied sidecar name"


def test_shared_sidecar_stays_with_the_photo_that_stays(cat, tmp_path):
    folder = tmp_path / "s"
    jpg, png = write(folder / "IMG_7.JPG"), write(folder / "IMG_7.png")  # one stem, no RAW + JPEG pair
    shared = write(folder / "IMG_7.xmp")
    png_xmp = write(folder / "IMG_7.png.xmp")
    fileops_actions = FileActions(cat)
    result = fileops_actions.move_to_subfolder([png])
    assert [src for src, _ in result.succeeded] == [png, png_xmp]
    assert shared.exists() and jpg.exists()  # IMG_7.JPG stays, so IMG_7.xmp stays with it
    # Moving both moves the shared sidecar once.
    fileops_actions.undo_last()
    result = fileops_actions.move_to_subfolder([jpg, png])
    assert sorted(src.name for src, _ in result.succeeded) == ["IMG_7.JPG", "IMG_7.png", "IMG_7.png.xmp", "IMG_7.xmp"]


def test_failures_are_reported_per_file(cat, shoot):
    actions = FileActions(cat)
    missing = shoot / "gone.jpg"
    result = actions.move_to_subfolder([shoot / "a.jpg", missing, shoot])
    assert [s for s, _ in result.succeeded] == [shoot / "a.jpg"]
    assert dict(result.failed) == {missing: "file not found", shoot: "is a folder, not a photo"}
    again = actions.move_to_subfolder([shoot / REJECT_DIR / "a.jpg"])
    assert not again.ok and "already in" in again.failed[0][1] and again.action_id is None
    with pytest.raises(ValueError, match="single folder name"):
        actions.move_to_subfolder([shoot / "b.jpg"], subfolder="../elsewhere")
    with pytest.raises(TypeError):
        actions.move_to_subfolder(str(shoot / "b.jpg"))


def test_undo_refuses_when_moved_file_is_gone(cat, shoot):
    actions = FileActions(cat)
    actions.move_to_subfolder([shoot / "a.jpg", shoot / "b.jpg"])
    (shoot / REJECT_DIR / "a.jpg").unlink()
    result = actions.undo_last()
    assert result.succeeded == [(shoot / REJECT_DIR / "b.jpg", shoot / "b.jpg")]
    assert result.failed == [(shoot / REJECT_DIR / "a.jpg", f"the moved file {shoot / REJECT_DIR / 'a.jpg'} is gone")]
    assert actions.history()[0].state == UNDONE  # nothing left that could come back
    assert actions.undo_last().message == "Nothing to undo."


def test_partial_undo_can_be_retried_by_id(cat, shoot):
    actions = FileActions(cat)
    first = actions.move_to_subfolder([shoot / "c.jpg"])
    second = actions.move_to_subfolder([shoot / "a.jpg", shoot / "b.jpg"])
    write(shoot / "a.jpg", b"someone else's a")
    result = actions.undo_last()
    assert len(result.succeeded) == 1 and len(result.failed) == 1
    assert actions.history()[0].state == PARTIAL
    # undo_last moves on to the older action; the partial one stays retryable by id.
    assert actions.undo_last().action_id == first.action_id
    (shoot / "a.jpg").unlink()
    retry = actions.undo(second.action_id)
    assert retry.ok and (shoot / "a.jpg").read_bytes() == b"a.jpg"
    assert "cannot be undone" in actions.undo(second.action_id).message


def test_undo_after_reopening_the_catalog(db, shoot):
    with Catalog(db) as cat:
        cat.add_photos([shoot / "a.jpg"])
        cat.set_rating([shoot / "a.jpg"], 2)
        FileActions(cat).move_to_subfolder([shoot / "a.jpg"])
    with Catalog(db) as cat:
        actions = FileActions(cat)
        assert actions.recovered == []
        assert actions.history()[0].state == DONE
        assert actions.undo_last().ok
        assert cat.get(shoot / "a.jpg")[0].rating == 2
    assert (shoot / "a.jpg").exists()


CRASHING_CHILD = """
import os, sys
from loda_desktop import fileops
from loda_desktop.catalog import Catalog

real_move = fileops.move_no_clobber
moves = 0

def move_then_die(src, dst):
    global moves
    if moves == int(sys.argv[3]):
        os._exit(9)  # the process dies with no cleanup at all
    real_move(src, dst)
    moves += 1

fileops.move_no_clobber = move_then_die
cat = Catalog(sys.argv[1])
fileops.FileActions(cat).move_to_subfolder(sorted(os.path.join(sys.argv[2], n) for n in os.listdir(sys.argv[2])))
"""


def test_pending_entry_is_reconciled_after_a_crash(db, shoot):
    with Catalog(db) as cat:
        cat.add_photos(sorted(shoot.iterdir()))
        cat.set_rating([shoot / "a.jpg"], 5)
    proc = subprocess.run([sys.executable, "-c", CRASHING_CHILD, str(db), str(shoot), "2"], timeout=60)
    assert proc.returncode == 9
    rejected = shoot / REJECT_DIR
    assert sorted(p.name for p in rejected.iterdir()) == ["a.jpg", "b.jpg"]
    with Catalog(db) as cat:
        assert cat.actions()[0].state == PENDING
        assert cat.get(rejected / "b.jpg")[0].path == rejected / "b.jpg"  # each move updates the catalog
        actions = FileActions(cat)
        [recovered] = actions.recovered
        assert recovered.kind == "recover"
        assert [s.name for s, _ in recovered.succeeded] == ["a.jpg", "b.jpg"]
        assert recovered.failed == [(shoot / "c.jpg", "not moved: the action was interrupted")]
        [entry] = actions.history()
        assert entry.state == DONE
        assert [i.state for i in entry.items] == ["done", "done", "failed"]
        assert cat.get(rejected / "a.jpg")[0].rating == 5  # catalog follows the moved file
        undo = actions.undo_last()
        assert undo.ok and len(undo.succeeded) == 2
    assert sorted(p.name for p in shoot.iterdir()) == ["a.jpg", "b.jpg", "c.jpg"]


def test_crash_before_catalog_update_and_between_link_and_unlink(cat, shoot):
    a, b = shoot / "a.jpg", shoot / "b.jpg"
    cat.add_photos([a, b])
    cat.set_rating([a], 3)
    rejected = shoot / REJECT_DIR
    rejected.mkdir()
    items = [
        {"group": 0, "src": str(a), "dst": str(rejected / "a.jpg"), "sidecar": False, "state": "planned"},
        {"group": 1, "src": str(b), "dst": str(rejected / "b.jpg"), "sidecar": False, "state": "planned"},
    ]
    cat.add_action("move", {"subfolder": REJECT_DIR, "items": items, "created_dirs": []}, PENDING)
    os.rename(a, rejected / "a.jpg")  # moved, catalog not yet updated
    os.link(b, rejected / "b.jpg")  # hard link made, original not yet unlinked
    actions = FileActions(cat)
    assert len(actions.recovered) == 1
    assert cat.get(rejected / "a.jpg")[0].rating == 3
    assert b.exists() and not (rejected / "b.jpg").exists()
    assert [i.state for i in actions.history()[0].items] == ["done", "failed"]


def test_entry_with_nothing_moved_is_failed_and_not_undoable(cat, shoot, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", dst)

    monkeypatch.setattr(fileops, "move_no_clobber", refuse)
    actions = FileActions(cat)
    result = actions.move_to_subfolder([shoot / "a.jpg"])
    assert result.failed == [(shoot / "a.jpg", f"permission denied ({shoot / REJECT_DIR / 'a.jpg'})")]
    assert actions.history()[0].state == FAILED
    assert actions.undo_last().message == "Nothing to undo."


# -- the no-clobber primitives ------------------------------------------------------------------------------


def test_move_no_clobber_refuses_existing(tmp_path):
    src, dst = write(tmp_path / "a", b"a"), write(tmp_path / "b", b"b")
    with pytest.raises(FileExistsError):
        fileops.move_no_clobber(str(src), str(dst))
    assert src.read_bytes() == b"a" and dst.read_bytes() == b"b"


def test_move_without_hard_links(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(fileops.os, "link", no_links)
    src = write(tmp_path / "a", b"a")
    fileops.move_no_clobber(str(src), str(tmp_path / "c"))
    assert (tmp_path / "c").read_bytes() == b"a" and not src.exists()
    write(tmp_path / "d", b"d")
    with pytest.raises(FileExistsError):
        fileops.move_no_clobber(str(tmp_path / "c"), str(tmp_path / "d"))


def test_move_across_devices(tmp_path, monkeypatch):
    real_link = os.link

    def cross_device(src, dst, **kwargs):
        if not os.path.basename(src).endswith(".loda-partial"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(src, dst, **kwargs)

    monkeypatch.setattr(fileops.os, "link", cross_device)
    src = write(tmp_path / "a", b"content")
    os.utime(src, ns=(1_000_000_000, 1_234_567_890_123))
    (tmp_path / "other").mkdir()
    fileops.move_no_clobber(str(src), str(tmp_path / "other" / "a"))
    moved = tmp_path / "other" / "a"
    assert moved.read_bytes() == b"content" and not src.exists()
    assert moved.stat().st_mtime_ns == 1_234_567_890_123
    assert os.listdir(tmp_path / "other") == ["a"]


# -- trash --------------------------------------------------------------------------------------------------


@pytest.fixture
def home_trash(monkeypatch):
    """Make send2trash use $XDG_DATA_HOME/Trash of this test (it reads the variable once, at import)."""
    if not fileops.is_freedesktop():
        pytest.skip("freedesktop trash only")
    import send2trash

    plat_other = pytest.importorskip("send2trash.plat_other")
    if send2trash.send2trash is not plat_other.send2trash:
        pytest.skip("send2trash uses gio here; not redirectable to a temp trash")
    data_home = os.environ["XDG_DATA_HOME"]
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", os.fsencode(data_home))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.fsencode(os.path.join(data_home, "Trash")))
    monkeypatch.setattr(plat_other, "HOMETRASH", os.path.join(data_home, "Trash"))
    return Path(data_home) / "Trash"


@pytest.fixture
def same_device(monkeypatch, home_trash):
    """Pretend every file is on the home trash's device, so it always lands in home_trash."""
    import send2trash.plat_other as plat_other

    monkeypatch.setattr(plat_other, "get_dev", lambda path: 0)
    return home_trash


def test_trash_and_undo_restore(cat, shoot, same_device):
    a, b = shoot / "a.jpg", shoot / "b.jpg"
    write(shoot / "a.xmp", b"<xmp/>")
    cat.add_photos([a, b])
    cat.set_rating([a], 5)
    actions = FileActions(cat)
    result = actions.trash([a, b])
    assert result.ok and result.succeeded == [(a, None), (shoot / "a.xmp", None), (b, None)]
    assert not a.exists() and not (shoot / "a.xmp").exists()
    assert sorted(p.name for p in (same_device / "files").iterdir()) == ["a.jpg", "a.xmp", "b.jpg"]
    assert a in cat  # the record stays, so restoring brings the rating back
    entry = actions.history()[0]
    assert (entry.kind, entry.state, entry.description) == ("trash", DONE, "Move 2 photos to the trash")
    _, trashed = find_trashinfo(a)
    assert trashed == same_device / "files" / "a.jpg"

    with Catalog(cat.path) as reopened:
        undo = FileActions(reopened).undo_last()
    assert undo.ok, undo.failed
    assert a.read_bytes() == b"a.jpg" and (shoot / "a.xmp").read_bytes() == b"<xmp/>" and b.exists()
    assert list((same_device / "files").iterdir()) == [] and list((same_device / "info").iterdir()) == []
    assert cat.get(a)[0].rating == 5
    assert cat.needs_scoring([a], MODEL) == [a]


def test_trash_undo_picks_the_right_copy_and_refuses_occupied(cat, shoot, same_device):
    a = shoot / "a.jpg"
    actions = FileActions(cat)
    actions.trash([a])
    write(a, b"second a, a different photo")
    actions.trash([a])  # two entries in the trash with Path= a.jpg
    write(a, b"third")
    blocked = actions.undo_last()
    assert "is now occupied" in blocked.failed[0][1]
    a.unlink()
    assert actions.undo_last().ok
    assert a.read_bytes() == b"second a, a different photo"
    a.unlink()
    assert actions.undo_last().ok
    assert a.read_bytes() == b"a.jpg"


def test_trash_undo_when_trash_was_emptied(cat, shoot, same_device):
    import shutil

    actions = FileActions(cat)
    actions.trash([shoot / "a.jpg"])
    shutil.rmtree(same_device)
    result = actions.undo_last()
    assert result.failed == [(shoot / "a.jpg", "not found in the trash (was the trash emptied?)")]
    assert actions.history()[0].state == UNDONE


def test_trash_on_whatever_device_this_machine_uses(cat, shoot, home_trash):
    """No device patching: wherever send2trash puts the file (home trash or <mount>/.Trash-uid), undo finds it."""
    a = shoot / "a.jpg"
    actions = FileActions(cat)
    assert actions.trash([a]).ok
    assert find_trashinfo(a) is not None
    assert actions.undo_last().ok
    assert a.read_bytes() == b"a.jpg"


def test_restore_from_a_mount_point_trash(cat, tmp_path, monkeypatch):
    """A .trashinfo in <mount>/.Trash-<uid> with a relative Path= (as trashed on a USB disk) is found."""
    if not fileops.is_freedesktop():
        pytest.skip("freedesktop trash only")
    mount = tmp_path / "usb"
    original = mount / "DCIM" / "IMG 1.jpg"
    trash = mount / f".Trash-{os.getuid()}"
    write(trash / "files" / "IMG 1.jpg", b"raw bytes")
    write(
        trash / "info" / "IMG 1.jpg.trashinfo",
        b"[Trash Info]\nPath=DCIM/IMG%201.jpg\nDeletionDate=2024-01-01T00:00:00\n",
    )
    (mount / "DCIM").mkdir()
    monkeypatch.setattr(safe_moves, "_mount_point", lambda path: str(mount))
    cat.add_action(
        "trash",
        {"items": [{"group": 0, "src": str(original), "dst": None, "sidecar": False, "state": "done"}]},
        DONE,
    )
    result = FileActions(cat).undo_last()
    assert result.ok and result.succeeded == [(trash / "files" / "IMG 1.jpg", original)]
    assert original.read_bytes() == b"raw bytes"
    assert not (trash / "info" / "IMG 1.jpg.trashinfo").exists()


def test_trash_undo_on_other_platforms_asks_for_manual_restore(cat, shoot, same_device, monkeypatch):
    actions = FileActions(cat)
    actions.trash([shoot / "a.jpg"])
    monkeypatch.setattr(fileops, "is_freedesktop", lambda: False)
    result = actions.undo_last()
    assert not result.ok and "by hand" in result.failed[0][1]
    assert "system trash" in result.message
    assert actions.history()[0].state == PARTIAL


def test_interrupted_trash_is_reconciled(cat, shoot, same_device):
    a, b = shoot / "a.jpg", shoot / "b.jpg"
    items = [
        {"group": 0, "src": str(a), "dst": None, "sidecar": False, "state": "planned", "file_id": None},
        {"group": 1, "src": str(b), "dst": None, "sidecar": False, "state": "planned", "file_id": None},
    ]
    cat.add_action("trash", {"items": items}, PENDING)
    import send2trash

    send2trash.send2trash(str(a))  # the crash came after a was trashed
    actions = FileActions(cat)
    [recovered] = actions.recovered
    assert recovered.succeeded == [(a, None)]
    assert [i.state for i in actions.history()[0].items] == ["done", "failed"]
    assert actions.undo_last().ok and a.exists() and b.exists()


def test_interrupted_undo_is_reconciled(cat, shoot):
    a, b = shoot / "a.jpg", shoot / "b.jpg"
    rejected = shoot / REJECT_DIR
    cat.add_photos([a, b])
    cat.set_rating([a], 2)
    moved = FileActions(cat).move_to_subfolder([a, b])
    # An undo died after putting a.jpg back, before updating the catalog and the journal.
    cat.update_action(moved.action_id, state="undoing")
    os.rename(rejected / "a.jpg", a)
    actions = FileActions(cat)
    [recovered] = actions.recovered
    assert recovered.succeeded == [(rejected / "a.jpg", a)]
    assert actions.history()[0].state == DONE  # the undo the crash cut short is resumed by the next undo
    assert cat.get(a)[0].rating == 2
    retry = actions.undo_last()
    assert retry.action_id == moved.action_id
    assert retry.succeeded == [(rejected / "b.jpg", b)] and retry.ok
    assert actions.history()[0].state == UNDONE
