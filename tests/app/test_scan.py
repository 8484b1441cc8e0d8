"""Folder scanning: extensions, recursion, hidden and reject folders, symlink loops, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loda_desktop import scan
from loda_desktop.scan import REJECT_DIR, ScanError, is_supported, scan_folder, scan_many


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    root = tmp_path / "shoot"
    for rel in [
        "a.jpg",
        "B.JPG",
        "c.Jpeg",
        "d.png",
        "e.TIFF",
        "f.webp",
        "g.bmp",
        "h.gif",
        "notes.txt",
        "raw.xmp",
        "noext",
        ".hidden.jpg",
        "._B.JPG",
        "day1/x.jpg",
        "day1/deeper/y.tif",
        "day1/.thumbnails/t.jpg",
        ".git/objects/z.jpg",
        f"{REJECT_DIR}/r.jpg",
        f"day1/{REJECT_DIR}/r2.jpg",
    ]:
        touch(root / rel)
    return root


def names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_recursive_scan_finds_supported_files_only(shoot):
    found = scan_folder(shoot)
    assert sorted(names(found, shoot)) == [
        "B.JPG",
        "a.jpg",
        "c.Jpeg",
        "d.png",
        "day1/deeper/y.tif",
        "day1/x.jpg",
        "e.TIFF",
        "f.webp",
        "g.bmp",
        "h.gif",
    ]
    assert found == sorted(found)
    assert all(p.is_absolute() for p in found)


def test_non_recursive(shoot):
    found = scan_folder(shoot, recursive=False)
    assert "day1/x.jpg" not in names(found, shoot)
    assert len(found) == 8


def test_relative_root_gives_absolute_paths(shoot, monkeypatch):
    monkeypatch.chdir(shoot.parent)
    found = scan_folder("shoot")
    assert found and all(p.is_absolute() for p in found)
    assert found == scan_folder(shoot)


def test_extensions():
    exts = scan.IMAGE_EXTENSIONS
    assert {"jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp", "gif"} <= exts
    assert all(e == e.lower() and not e.startswith(".") for e in exts)
    assert is_supported("X.JPG") and is_supported(Path("/a/b.Tif")) and not is_supported("a.txt")
    with pytest.raises(AttributeError):
        _ = scan.NO_SUCH_THING


def test_heif_and_raw_are_always_found():
    exts = scan.image_extensions()
    assert {"heic", "heif", "cr2", "nef", "arw", "dng"} <= exts
    assert is_supported("IMG_0001.CR3") and is_supported("a.HEIC")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_loop_terminates_and_linked_dirs_are_followed(tmp_path):
    root = tmp_path / "root"
    touch(root / "sub" / "a.jpg")
    os.symlink(root, root / "sub" / "loop")  # points back up: a loop
    os.symlink(root / "sub", root / "alias")  # a second name for a folder already walked
    outside = tmp_path / "elsewhere"
    touch(outside / "o.jpg")
    os.symlink(outside, root / "linked")  # a folder outside the root, reached through a symlink
    os.symlink(root / "missing", root / "dangling.jpg")  # broken file link: ignored
    found = scan_folder(root)
    # listed under their real locations (the catalog's keys): the linked folder's photo as elsewhere/o.jpg
    assert found == sorted([root / "sub" / "a.jpg", outside / "o.jpg"])


def test_a_folder_opened_through_a_symlink_lists_real_paths(tmp_path):
    real = tmp_path / "real"
    touch(real / "a.jpg")
    touch(real / "inner" / "b.jpg")
    (tmp_path / "photos").mkdir()
    os.symlink(real, tmp_path / "photos" / "shoot")
    os.symlink(real / "a.jpg", real / "inner" / "link-to-a.jpg")  # a second name for a photo: listed once
    assert scan_folder(tmp_path / "photos" / "shoot") == [real / "a.jpg", real / "inner" / "b.jpg"]
    assert scan_folder(tmp_path / "photos" / "shoot" / "a.jpg") == [real / "a.jpg"]


def test_raw_and_jpeg_of_one_stem_are_one_photo_any_case(tmp_path):
    for name in [
        "IMG_1.CR2",
        "img_1.jpg",
        "IMG_2.NEF",
        "IMG_2.JPEG",
        "IMG_2.xmp",
        "IMG_3.dng",
        "IMG_4.jpg",
        "IMG_5.ARW",
        "IMG_5.DNG",
        "IMG_5.HEIC",
        "IMG_6.CR3",
        "IMG_6.jpg",
        "IMG_6.heic",
        "sub/IMG_1.cr2",
    ]:
        touch(tmp_path / name)
    found = names(scan_folder(tmp_path), tmp_path)
    # pairs: the rendered file stands for them; a RAW alone, and two rendered files of one stem, stay photos
    expected = ["IMG_2.JPEG", "IMG_3.dng", "IMG_4.jpg", "IMG_5.HEIC", "IMG_6.CR3", "IMG_6.heic", "IMG_6.jpg"]
    assert sorted(found) == sorted([*expected, "img_1.jpg", "sub/IMG_1.cr2"])
    assert len(scan_folder(tmp_path, pairs=False)) == 14 - 1  # every photo file (the .xmp is no photo)
    companions = scan.find_companions(scan_folder(tmp_path))
    assert {p.name: [c.name for c in cs] for p, cs in companions.items()} == {
        "img_1.jpg": ["IMG_1.CR2"],
        "IMG_2.JPEG": ["IMG_2.NEF"],
        "IMG_5.HEIC": ["IMG_5.ARW", "IMG_5.DNG"],
    }


def test_scan_many_pairs_across_roots_given_as_files(tmp_path):
    touch(tmp_path / "A.CR2")
    touch(tmp_path / "A.JPG")
    assert scan_many([tmp_path / "A.CR2", tmp_path / "A.JPG"]) == [tmp_path / "A.JPG"]
    assert scan_many([tmp_path / "A.CR2"]) == [tmp_path / "A.CR2"]  # the RAW dropped alone is a photo


def test_missing_root_raises():
    with pytest.raises(ScanError, match="No such folder"):
        scan_folder("/definitely/not/here")


def test_file_root(shoot):
    assert scan_folder(shoot / "a.jpg") == [shoot / "a.jpg"]
    with pytest.raises(ScanError, match="Not a folder or a supported photo"):
        scan_folder(shoot / "notes.txt")


def test_unreadable_subfolder_reported_via_callback(shoot, monkeypatch):
    blocked = str(shoot / "day1")
    real_scandir = os.scandir

    def fake_scandir(path):
        if os.fspath(path) == blocked:
            raise PermissionError(13, "Permission denied", blocked)
        return real_scandir(path)

    monkeypatch.setattr(scan.os, "scandir", fake_scandir)
    errors = []
    found = scan_folder(shoot, on_error=lambda path, msg: errors.append((path, msg)))
    assert "day1/x.jpg" not in names(found, shoot)
    assert len(found) == 8
    assert errors == [(Path(blocked), "cannot read folder: Permission denied")]
    # Without a callback the scan still completes.
    assert len(scan_folder(shoot)) == 8


def test_unreadable_root_raises(shoot, monkeypatch):
    def fake_scandir(path):
        raise PermissionError(13, "Permission denied", os.fspath(path))

    monkeypatch.setattr(scan.os, "scandir", fake_scandir)
    with pytest.raises(ScanError, match="Cannot read folder"):
        scan_folder(shoot)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_chmod_000_subfolder(shoot):
    locked = shoot / "day1"
    locked.chmod(0)
    try:
        errors = []
        found = scan_folder(shoot, on_error=lambda path, msg: errors.append(path))
        if os.geteuid() != 0:  # root reads through chmod 000
            assert errors == [locked]
            assert "day1/x.jpg" not in names(found, shoot)
        else:
            assert "day1/x.jpg" in names(found, shoot)
    finally:
        locked.chmod(0o755)


def test_scan_many_deduplicates(shoot):
    found = scan_many([shoot, shoot / "day1", shoot / "a.jpg", str(shoot)])
    assert found == scan_folder(shoot)
    with pytest.raises(ScanError):
        scan_many([shoot, shoot / "nope"])


def test_a_file_name_that_is_not_utf8_is_found(tmp_path):
    root = tmp_path / "odd"
    touch(root / "a.jpg")
    raw = os.path.join(os.fsencode(root), b"IMG_\xff.jpg")
    try:
        with open(raw, "wb") as f:
            f.write(b"x")
    except OSError as exc:
        pytest.skip(f"this filesystem refuses a file name that is not UTF-8: {exc}")
    found = scan_folder(root)
    assert len(found) == 2 and raw in {os.fsencode(p) for p in found}
