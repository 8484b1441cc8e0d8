"""Ratings follow the photos: real-path keys (a folder opened through a symlink) and content keys (a folder
moved or renamed outside the app keeps its ratings, scores and edit history; nothing is scored again)."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from loda_desktop import catalog_schema
from loda_desktop.catalog import SCHEMA_VERSION, Catalog, path_key
from loda_desktop.culling import Culling
from loda_desktop.engine import Engine
from loda_desktop.identity import HASHED_BYTES, content_key
from loda_desktop.settings import Settings

from .badfiles import photo


@pytest.fixture
def shoot_a(tmp_path):
    folder = tmp_path / "shootA"
    folder.mkdir()
    for i in range(8):
        photo(folder / f"IMG_{i}.jpg", size=(320, 240), seed=i, quality=90)
    return folder


class CountingEngine(Engine):
    """The real engine (the tests' tiny network) that counts the photos its scorer is asked to score."""

    def __init__(self) -> None:
        super().__init__(Settings(crops=2, batch_size=8))
        self.scored_paths: list[str] = []

    def _create_scorer(self):
        scorer = super()._create_scorer()
        real = scorer.iter_scores

        def counting(paths, *args, **kwargs):
            self.scored_paths += [str(p) for p in paths]
            return real(paths, *args, **kwargs)

        scorer.iter_scores = counting
        return scorer


def open_folder(folder) -> tuple[CountingEngine, list]:
    """What the window and ``loda score`` do on open: scan, catalog (relinking moved photos), score."""
    engine = CountingEngine()
    paths = engine.scan([folder])
    summary = engine.score_paths(paths)
    return engine, summary


def cull(folder) -> dict[str, tuple[int, str | None, str | None]]:
    """Rate, flag and label every photo differently (through the edit history); returns name -> values."""
    wanted = {}
    with Catalog() as cat:
        culling = Culling(cat)
        for i, path in enumerate(sorted(folder.iterdir())):
            rating, flag, label = i % 6, ("pick", "reject", None)[i % 3], ("red", None)[i % 2]
            culling.set_rating([path], rating)
            culling.set_flag([path], flag)
            culling.set_label([path], label)
            wanted[path.name] = (rating, flag, label)
    return wanted


def state(folder) -> dict[str, tuple[int, str | None, str | None, float | None]]:
    with Catalog() as cat:
        rows = cat.rows(sorted(folder.iterdir()), None)
        scores = {r.path.name: cat.get(r.path)[1] for r, _ in rows}
    return {r.path.name: (r.rating, r.flag, r.label, scores[r.path.name].score) for r, _ in rows}


def test_moving_a_folder_keeps_every_rating_and_score_and_nothing_is_scored_again(shoot_a, tmp_path):
    engine, first = open_folder(shoot_a)
    assert first.scored == 8 and len(engine.scored_paths) == 8
    wanted = cull(shoot_a)
    before = state(shoot_a)
    shoot_b = tmp_path / "shootB"
    os.rename(shoot_a, shoot_b)  # mv shootA shootB, outside the app
    engine, again = open_folder(shoot_b)
    assert engine.scored_paths == [] and (again.scored, again.cached, again.failed) == (0, 8, 0)
    after = state(shoot_b)
    assert after == before  # ratings, flags, labels and the scores themselves
    assert {name: v[:3] for name, v in after.items()} == wanted
    with Catalog() as cat:
        assert len(cat) == 8 and not any(str(shoot_a) in str(r.path) for r, _ in cat.rows(None, None))
        # the edit history follows: the last change (IMG_7 flagged "reject") is undone on the moved photo
        last = shoot_b / "IMG_7.jpg"
        assert cat.get(last)[0].flag == "reject"
        assert str(last) in Culling(cat).undo().restored
        assert cat.get(last)[0].flag is None


def test_a_folder_opened_through_a_symlink_shows_the_real_folders_ratings(shoot_a, tmp_path):
    open_folder(shoot_a)
    wanted = cull(shoot_a)
    link = tmp_path / "link-to-shoot"
    os.symlink(shoot_a, link)
    engine, summary = open_folder(link)
    assert engine.scored_paths == [] and summary.cached == 8
    assert engine.scan([link]) == sorted(shoot_a.iterdir())  # listed under the real folder
    assert path_key(link / "IMG_0.jpg") == str(shoot_a / "IMG_0.jpg")
    with Catalog() as cat:
        assert len(cat) == 8
        rows = cat.rows([link / name for name in wanted], None)
        assert {r.path.name: (r.rating, r.flag, r.label) for r, _ in rows} == wanted


def test_a_copy_does_not_steal_the_originals_records(shoot_a, tmp_path):
    open_folder(shoot_a)
    wanted = cull(shoot_a)
    copy = tmp_path / "copy"
    shutil.copytree(shoot_a, copy)  # both exist: the copy is new photos
    engine, summary = open_folder(copy)
    assert summary.scored == 8 and len(engine.scored_paths) == 8
    assert {name: v[:3] for name, v in state(shoot_a).items()} == wanted
    assert all(v[:3] == (0, None, None) for v in state(copy).values())


def test_same_size_is_not_same_photo_and_ambiguous_matches_stay_new(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    a = folder / "a.tif"
    a.write_bytes(b"A" * (3 * HASHED_BYTES))
    twin1, twin2 = folder / "t1.jpg", folder / "t2.jpg"
    photo(twin1, seed=5)
    shutil.copy2(twin1, twin2)
    with Catalog() as cat:
        cat.add_photos([a, twin1, twin2])
        cat.set_rating([a, twin1, twin2], 5)
    moved = tmp_path / "moved"
    moved.mkdir()
    same_size = moved / "b.tif"
    same_size.write_bytes(b"B" * (3 * HASHED_BYTES))  # same size, other bytes: another photo
    os.rename(twin1, moved / "t1.jpg")
    os.rename(twin2, moved / "t2.jpg")
    a.unlink()
    with Catalog() as cat:
        cat.add_photos([same_size, moved / "t1.jpg", moved / "t2.jpg"])
        assert cat.get(same_size)[0].rating == 0  # same size, other content: not relinked
        # two gone records and two new files with one content key: which is which? neither is relinked
        assert cat.get(moved / "t1.jpg")[0].rating == 0 and cat.get(moved / "t2.jpg")[0].rating == 0
        assert twin1 in cat and twin2 in cat


def test_content_key_of_a_missing_file_is_none():
    assert content_key("/no/such/file") is None


def test_content_key_differs_at_either_end(tmp_path):
    body = bytearray(b"x" * (4 * HASHED_BYTES))
    first = tmp_path / "1"
    first.write_bytes(bytes(body))
    base = content_key(str(first))
    body[-1:] = b"y"
    first.write_bytes(bytes(body))
    assert content_key(str(first)) != base
    body[-1:] = b"x"
    body[0:1] = b"y"
    first.write_bytes(bytes(body))
    assert content_key(str(first)) != base
    assert base.startswith(f"{4 * HASHED_BYTES}:")


def test_a_version_2_catalog_upgrades_and_its_photos_then_follow_a_move(shoot_a, tmp_path):
    db = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)  # a catalog as the previous release left it
    catalog_schema._create_v1(conn)
    catalog_schema._create_v2(conn)
    conn.execute("PRAGMA user_version = 2")
    first = shoot_a / "IMG_0.jpg"
    st = first.stat()
    conn.execute(
        "INSERT INTO photos (path, size, mtime_ns, rating, flag) VALUES (?, ?, ?, 4, 'pick')",
        (str(first), st.st_size, st.st_mtime_ns),
    )
    link = tmp_path / "link"
    os.symlink(shoot_a, link)
    second = link / "IMG_1.jpg"  # rated through a symlinked folder: stored under the link, as v2 did
    conn.execute(
        "INSERT INTO photos (path, size, mtime_ns, rating) VALUES (?, ?, ?, 3)",
        (str(second), second.stat().st_size, second.stat().st_mtime_ns),
    )
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION >= 3
        stored = {row[0] for row in cat._conn.execute("SELECT path FROM photos")}
        assert stored == {str(first), str(shoot_a / "IMG_1.jpg")}  # the real path now
        assert cat.get(shoot_a / "IMG_1.jpg")[0].rating == 3
        columns = {row[1] for row in cat._conn.execute("PRAGMA table_info(photos)")}
        assert "content_key" in columns
        cat.add_photos(sorted(shoot_a.iterdir()))  # opening the folder gives the old records their content key
    shoot_b = tmp_path / "renamed"
    os.rename(shoot_a, shoot_b)
    with Catalog(db) as cat:
        cat.add_photos(sorted(shoot_b.iterdir()))
        record, _ = cat.get(shoot_b / "IMG_0.jpg")
        assert (record.rating, record.flag) == (4, "pick")
        assert cat.get(shoot_b / "IMG_1.jpg")[0].rating == 3
        assert len(cat) == 8


def test_a_photo_trashed_through_a_symlinked_folder_before_real_path_keys_is_still_found(tmp_path):
    """Journal entries of earlier releases name a trashed photo by the path it was opened under (symlinks kept):
    undo still finds its .trashinfo, whose Path= is that path."""
    from send2trash import send2trash

    from loda_desktop.safe_moves import find_trashinfo, is_freedesktop

    if not is_freedesktop():
        pytest.skip("the freedesktop trash is where undo looks on this system")
    real = tmp_path / "real"
    real.mkdir()
    photo(real / "a.jpg", seed=1)
    link = tmp_path / "link"
    os.symlink(real, link)
    send2trash(str(link / "a.jpg"))  # as an entry made through the link recorded it
    found = find_trashinfo(link / "a.jpg")
    assert found is not None and found[1].read_bytes()[:2] == b"\xff\xd8"
