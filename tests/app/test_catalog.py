"""The SQLite catalog: photos, scores per model, user data, durability."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from loda_desktop import catalog_schema, paths
from loda_desktop.catalog import SCHEMA_VERSION, Catalog, CatalogError, PhotoRecord, ScoreRecord

MODEL = "loda-vit-b"


def make_photos(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"img_{i:03d}.jpg"
        p.write_bytes(b"jpeg" * (i + 1))
        out.append(p)
    return out


def bump(path: Path, content: bytes | None = None) -> None:
    """Change a file's content and mtime."""
    st = path.stat()
    if content is not None:
        path.write_bytes(content)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def cat(tmp_path):
    with Catalog(tmp_path / "cat.sqlite3") as c:
        yield c


def test_default_location_and_pragmas(_isolated_user_dirs):
    with Catalog() as c:
        assert c.path == _isolated_user_dirs / "data" / "catalog.sqlite3" == paths.catalog_path()
        assert c.schema_version == SCHEMA_VERSION
        assert c._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert c._conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        tables = {r[0] for r in c._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"photos", "scores", "actions"} <= tables


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "c.sqlite3"
    Catalog(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CatalogError, match="newer"):
        Catalog(db)


def test_not_a_database(tmp_path):
    db = tmp_path / "c.sqlite3"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError):
        Catalog(db)


def test_add_and_get(cat, tmp_path):
    photos = make_photos(tmp_path / "p", 3)
    cat.add_photos([*photos, tmp_path / "p" / "vanished.jpg", tmp_path / "p"])
    assert len(cat) == 3
    record, score = cat.get(photos[1])
    assert isinstance(record, PhotoRecord)
    assert record == PhotoRecord(photos[1], 8, photos[1].stat().st_mtime_ns, 0, None, None, None)
    assert score is None
    assert photos[0] in cat and tmp_path / "p" / "vanished.jpg" not in cat
    with pytest.raises(KeyError):
        cat.get(tmp_path / "p" / "vanished.jpg")
    with pytest.raises(TypeError):
        cat.add_photos(str(photos[0]))  # a single path, not a list


def test_relative_paths_are_made_absolute(cat, tmp_path, monkeypatch):
    photos = make_photos(tmp_path / "p", 1)
    monkeypatch.chdir(tmp_path)
    cat.add_photos(["p/img_000.jpg"])
    assert cat.get(photos[0])[0].path == photos[0]


def test_needs_scoring_and_put_score(cat, tmp_path):
    photos = make_photos(tmp_path / "p", 4)
    uncataloged = make_photos(tmp_path / "q", 1)[0]
    cat.add_photos(photos)
    assert cat.needs_scoring([*photos, uncataloged, photos[0]], MODEL) == [*photos, uncataloged]
    cat.put_score(photos[0], MODEL, 0.75, 0.05)
    cat.put_error(photos[1], MODEL, "cannot identify image file")
    assert cat.needs_scoring(photos, MODEL) == photos[2:]
    assert cat.needs_scoring(photos, MODEL, retry_errors=True) == photos[1:]
    assert cat.needs_scoring(photos, "other-model") == photos

    _, score = cat.get(photos[0], MODEL)
    assert score == ScoreRecord(0.75, 0.05, "ok", None, MODEL, score.created)
    assert score.created == pytest.approx(time.time(), abs=60)
    _, err = cat.get(photos[1], MODEL)
    assert (err.status, err.score, err.error) == ("error", None, "cannot identify image file")
    assert cat.get(photos[0], "other-model")[1] is None

    # put_score on an existing file not yet cataloged catalogs it
    cat.put_score(uncataloged, MODEL, 0.1)
    assert cat.needs_scoring([uncataloged], MODEL) == []
    with pytest.raises(KeyError):
        cat.put_score(tmp_path / "nope.jpg", MODEL, 0.1)
    for bad in (float("nan"), float("inf"), "high", None):
        with pytest.raises(ValueError, match="score"):
            cat.put_score(photos[2], MODEL, bad)
    with pytest.raises(ValueError, match="model_key"):
        cat.put_score(photos[2], "", 0.5)


def test_get_without_model_key_returns_latest(cat, tmp_path):
    (photo,) = make_photos(tmp_path / "p", 1)
    cat.put_score(photo, "a", 0.1)
    time.sleep(0.01)
    cat.put_score(photo, "b", 0.2)
    assert cat.get(photo)[1].model_key == "b"
    cat.put_score(photo, "a", 0.3)  # replaces a's row
    _, latest = cat.get(photo)
    assert (latest.model_key, latest.score) == ("a", 0.3)


def test_changed_file_keeps_user_data_and_drops_scores(cat, tmp_path):
    photos = make_photos(tmp_path / "p", 2)
    cat.add_photos(photos)
    cat.put_score(photos[0], MODEL, 0.9)
    cat.put_score(photos[0], "other", 0.8)
    cat.put_score(photos[1], MODEL, 0.5)
    cat.set_rating([photos[0]], 4)
    cat.set_flag([photos[0]], "pick")
    cat.set_label([photos[0]], "red")

    bump(photos[0], b"edited content")
    assert cat.needs_scoring(photos, MODEL) == [photos[0]]  # noticed before any rescan
    cat.add_photos(photos)
    record, score = cat.get(photos[0], MODEL)
    assert (record.rating, record.flag, record.label) == (4, "pick", "red")
    assert record.size == len(b"edited content")
    assert score is None and cat.get(photos[0], "other")[1] is None
    assert cat.get(photos[1], MODEL)[1].score == 0.5  # untouched photo keeps its score
    assert cat.needs_scoring(photos, MODEL) == [photos[0]]


def test_vanished_files_are_not_scored(cat, tmp_path):
    photos = make_photos(tmp_path / "p", 2)
    cat.add_photos(photos)
    photos[0].unlink()
    assert cat.needs_scoring(photos, MODEL) == [photos[1]]
    cat.add_photos(photos)  # no crash
    assert photos[0] in cat  # its user data is kept; it may come back


def test_user_data_validation_and_counts(cat, tmp_path):
    photos = make_photos(tmp_path / "p", 3)
    cat.add_photos(photos[:2])
    assert cat.set_rating(photos, 5) == 2  # the uncataloged one is ignored
    assert cat.set_flag(photos[:1], "reject") == 1
    assert cat.set_flag(photos[:1], None) == 1
    assert cat.set_label(photos[:1], "  ") == 1
    assert cat.get(photos[0])[0].label is None
    for bad in (-1, 6, 2.5, True, "3"):
        with pytest.raises(ValueError, match="rating"):
            cat.set_rating(photos, bad)
    with pytest.raises(ValueError, match="flag"):
        cat.set_flag(photos, "maybe")
    with pytest.raises(ValueError, match="label"):
        cat.set_label(photos, 3)
    with pytest.raises(ValueError, match="label"):
        cat.set_label(photos, "x" * 1000)
    assert cat.set_capture_time(photos[0], "2024-05-01T10:20:30")
    assert cat.get(photos[0])[0].capture_time == "2024-05-01T10:20:30"
    assert not cat.set_capture_time(photos[2], "2024-05-01T10:20:30")
    with pytest.raises(ValueError, match="ISO"):
        cat.set_capture_time(photos[0], "yesterday")


def test_rows_keep_order_and_skip_unknown(cat, tmp_path):
    photos = make_photos(tmp_path / "p", 1200)  # more than one IN (...) chunk
    cat.add_photos(photos)
    for p in photos[::2]:
        cat.put_score(p, MODEL, 0.5)
    order = [*reversed(photos), tmp_path / "unknown.jpg"]
    rows = cat.rows(order, MODEL)
    assert [r[0].path for r in rows] == list(reversed(photos))
    assert rows[-1][1].score == 0.5 and rows[-2][1] is None
    assert all(score is None for _, score in cat.rows(photos[:5], None))
    everything = cat.rows(None, MODEL)
    assert [r[0].path for r in everything] == sorted(photos, key=str)


def test_rename_path_keeps_everything(cat, tmp_path):
    photos = make_photos(tmp_path / "p", 2)
    cat.add_photos(photos)
    cat.set_rating([photos[0]], 3)
    cat.put_score(photos[0], MODEL, 0.6)
    new = tmp_path / "p" / "_rejected" / photos[0].name
    assert cat.rename_path(photos[0], new)
    assert photos[0] not in cat
    record, score = cat.get(new, MODEL)
    assert (record.path, record.rating, score.score) == (new, 3, 0.6)
    assert not cat.rename_path(tmp_path / "nope.jpg", new)
    # A stale record at the destination is replaced.
    assert cat.rename_path(photos[1], new)
    assert cat.get(new)[0].rating == 0 and len(cat) == 1


def test_journal_records(cat):
    first = cat.add_action("move", {"items": [1]})
    second = cat.add_action("trash", {"items": [2]}, state="done")
    assert [a.id for a in cat.actions()] == [second, first]
    assert [a.id for a in cat.actions(states=["pending"])] == [first]
    cat.update_action(first, state="done", payload={"items": [3]})
    rec = cat.get_action(first)
    assert (rec.kind, rec.state, rec.payload) == ("move", "done", {"items": [3]})
    assert cat.actions(limit=1)[0].id == second
    with pytest.raises(KeyError):
        cat.update_action(999, state="x")


def test_connection_is_per_thread(cat, tmp_path):
    """A Catalog belongs to the thread that opened it; another thread opens its own and can write."""
    photos = make_photos(tmp_path / "p", 2)
    cat.add_photos(photos)
    errors = []

    def worker():
        try:
            cat.get(photos[0])
        except sqlite3.ProgrammingError as exc:
            errors.append(exc)
        with Catalog(cat.path) as mine:
            mine.put_score(photos[1], MODEL, 0.4)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(errors) == 1
    assert cat.get(photos[1], MODEL)[1].score == 0.4


CHILD = """
import sys, time
from loda_desktop.catalog import Catalog
cat = Catalog(sys.argv[1])
photos = sys.argv[2:]
cat.add_photos(photos)
cat.set_rating(photos[:1], 5)
for i, p in enumerate(photos):
    cat.put_score(p, "m", i / 10, 0.01)
    print(i, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_minus_nine_loses_nothing_stored(tmp_path):
    db = tmp_path / "c.sqlite3"
    photos = make_photos(tmp_path / "p", 5)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), *map(str, photos)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for expected in range(len(photos)):
            line = proc.stdout.readline()
            assert line.strip() == str(expected), "child stopped early"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert Path(str(db) + "-wal").exists()  # the data was only in the WAL when the process died
    with Catalog(db) as cat:
        assert cat.needs_scoring(photos, "m") == []
        assert [cat.get(p, "m")[1].score for p in photos] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
        assert cat.get(photos[0])[0].rating == 5


def test_migration_hook_runs_in_one_transaction(tmp_path, monkeypatch):
    from loda_desktop import catalog as catalog_module

    db = tmp_path / "c.sqlite3"
    Catalog(db).close()

    def broken(conn):
        conn.execute("ALTER TABLE photos ADD COLUMN stars2 INTEGER")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(catalog_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(catalog_schema.MIGRATIONS, SCHEMA_VERSION, broken)
    with pytest.raises(RuntimeError, match="migration bug"):
        Catalog(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # rolled back, column not added
    assert "stars2" not in [r[1] for r in conn.execute("PRAGMA table_info(photos)")]
    conn.close()

    monkeypatch.setitem(
        catalog_schema.MIGRATIONS,
        SCHEMA_VERSION,
        lambda conn: conn.execute("ALTER TABLE photos ADD COLUMN hash TEXT"),
    )
    with Catalog(db) as c:
        assert c.schema_version == SCHEMA_VERSION + 1
        assert "hash" in [r[1] for r in c._conn.execute("PRAGMA table_info(photos)")]


def test_a_version_1_catalog_gains_the_edit_history_and_keeps_its_data(tmp_path):
    photos = make_photos(tmp_path / "p", 2)
    db = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)  # a catalog as the first release left it
    catalog_schema._create_v1(conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO photos (path, size, mtime_ns, rating, flag) VALUES (?, ?, ?, 4, 'pick')",
        (str(photos[0]), photos[0].stat().st_size, photos[0].stat().st_mtime_ns),
    )
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION >= 2
        assert (cat.get(photos[0])[0].rating, cat.get(photos[0])[0].flag) == (4, "pick")
        assert cat.edits() == []
        cat.add_photos(photos)
        edit = cat.record_edit("rating", photos, 2, "rating ★★")
        assert edit.changes == {str(photos[0]): (4, 2), str(photos[1]): (0, 2)}
        assert edit.after_action == 0 and cat.get_edit(edit.id) == edit
    with Catalog(db) as cat:
        assert cat.revert_edit(edit.id) == ({str(photos[0]): 4, str(photos[1]): 0}, {})
        assert cat.get_edit(edit.id).state == "undone"
        with pytest.raises(ValueError, match="undone"):
            cat.revert_edit(edit.id)
        with pytest.raises(KeyError):
            cat.revert_edit(edit.id + 1)
        with pytest.raises(ValueError, match="field"):
            cat.record_edit("capture_time", photos, None, "x")


def test_an_edit_follows_a_renamed_photo_and_goes_with_a_dropped_one(cat, tmp_path):
    photos = make_photos(tmp_path / "p", 2)
    cat.add_photos(photos)
    edit = cat.record_edit("flag", photos, "reject", "reject")
    moved = tmp_path / "p" / "_rejected" / photos[0].name
    cat.rename_path(photos[0], moved)
    assert list(cat.get_edit(edit.id).changes) == [str(moved), str(photos[1])]  # by path
    cat.rename_path(photos[1], moved)  # the record at ``moved`` is stale and dropped
    assert list(cat.get_edit(edit.id).changes) == [str(moved)]
    restored, kept = cat.revert_edit(edit.id)
    assert restored == {str(moved): None} and kept == {}


def odd_name(folder: Path, name: bytes = b"IMG_\xff.jpg", content: bytes = b"jpeg") -> Path:
    """A file whose name is not UTF-8 (Linux allows any bytes but / and NUL); Python spells it with surrogate
    escapes. Skips the test on a filesystem that refuses such a name."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = os.path.join(os.fsencode(folder), name)
    try:
        with open(raw, "wb") as f:
            f.write(content)
    except (OSError, UnicodeError) as exc:
        pytest.skip(f"this filesystem refuses the file name {name!r}: {exc}")
    path = Path(os.fsdecode(raw))
    if not path.is_file():
        pytest.skip(f"this filesystem changed the file name {name!r}")
    return path


def test_a_file_name_that_is_not_utf8_is_stored_losslessly(cat, tmp_path):
    odd = odd_name(tmp_path / "p")
    plain = make_photos(tmp_path / "p", 1)[0]
    cat.add_photos([odd, plain])
    assert len(cat) == 2 and odd in cat
    record, _ = cat.get(odd)
    assert record.path == odd and os.fsencode(record.path) == os.path.join(os.fsencode(tmp_path / "p"), b"IMG_\xff.jpg")
    assert cat.needs_scoring([odd, plain], MODEL) == [odd, plain]
    cat.put_score(odd, MODEL, 0.5)
    assert cat.needs_scoring([odd, plain], MODEL) == [plain]
    assert [r.path for r, _ in cat.rows([plain, odd], MODEL)] == [plain, odd]
    assert {r.path for r, _ in cat.rows(None, MODEL)} == {odd, plain}
    assert cat.set_rating([odd], 4) == 1
    edit = cat.record_edit("flag", [odd], "pick", "pick")
    assert list(edit.changes) == [str(odd)] and list(cat.get_edit(edit.id).changes) == [str(odd)]
    assert cat.revert_edit(edit.id) == ({str(odd): None}, {})
    moved = odd.with_name(os.fsdecode(b"moved_\xfe.jpg"))
    assert cat.rename_path(odd, moved) and moved in cat and odd not in cat
    record, score = cat.get(moved, MODEL)
    assert record.path == moved and record.rating == 4 and score.score == 0.5
    # reopened: the name comes back exactly, and an ordinary name is still plain TEXT (older catalogs unchanged)
    cat.close()
    with Catalog(cat.path) as again:
        assert again.get(moved)[0].path == moved
        types = dict(again._conn.execute("SELECT typeof(path), COUNT(*) FROM photos GROUP BY 1"))
        assert types == {"text": 1, "blob": 1}


def test_one_bad_entry_never_stops_the_others(cat, tmp_path):
    good = make_photos(tmp_path / "p", 3)
    # names no file can have: os.stat raises ValueError / UnicodeEncodeError for them, not OSError
    impossible = [str(tmp_path / "p" / "nul\0.jpg"), str(tmp_path / "p" / "lone\ud800.jpg")]
    assert cat.add_photos([good[0], *impossible, good[1]]) == {}  # not files: skipped like a vanished one
    assert len(cat) == 2
    assert cat.needs_scoring([*impossible, good[0]], MODEL) == [good[0]]
    # the database refuses one photo: that one is reported, the others are cataloged
    cat._conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON photos WHEN NEW.path LIKE '%img_001%' "
        "BEGIN SELECT RAISE(ABORT, 'refused by a test'); END"
    )
    cat._conn.execute("DELETE FROM photos")
    problems = cat.add_photos(good)
    assert list(problems) == [str(good[1])] and "refused by a test" in problems[str(good[1])]
    assert [r.path for r, _ in cat.rows(None, None)] == [good[0], good[2]]


# -- version 4: the parts of a multi-scale score and the bursts (issue 21) ---------------------------------------


def test_a_version_3_catalog_upgrades_to_version_4_and_keeps_its_scores(tmp_path):
    photos = make_photos(tmp_path / "p", 3)
    db = tmp_path / "v3.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)  # a catalog as the third release left it
    for version in range(3):
        catalog_schema.MIGRATIONS[version](conn)
    conn.execute("PRAGMA user_version = 3")
    for i, p in enumerate(photos, start=1):
        conn.execute(
            "INSERT INTO photos (id, path, size, mtime_ns, rating) VALUES (?, ?, ?, ?, ?)",
            (i, str(p), p.stat().st_size, p.stat().st_mtime_ns, i),
        )
    insert = "INSERT INTO scores (photo_id, model_key, score, spread, status, error, error_kind, created) VALUES"
    conn.execute(f"{insert} (1, ?, 0.4, 0.1, 'ok', NULL, NULL, 5)", (MODEL,))
    conn.execute(f"{insert} (2, ?, NULL, NULL, 'error', 'bad', 'decode', 5)", (MODEL,))
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION == 4
        photo, score = cat.get(photos[0], MODEL)
        assert photo.rating == 1
        # the old score was the global view's alone: that is its global score; nothing else is known
        assert (score.score, score.spread, score.global_score, score.created) == (0.4, 0.1, 0.4, 5)
        assert (score.detail, score.regions, score.width, score.height) == (None, (), None, None)
        assert (score.burst, score.burst_rank, score.burst_tie) == (None, None, False)
        error = cat.get(photos[1], MODEL)[1]
        assert (error.status, error.global_score) == ("error", None)
        assert cat.needs_scoring(photos, MODEL) == [photos[2]]  # the upgrade scores nothing again
        parts = {"global_score": 0.5, "detail": 0.7, "regions": [(224, 0, 224, 0.7)], "width": 900, "height": 600}
        cat.put_score(photos[2], MODEL, 0.6, **parts)
        assert cat.get(photos[2], MODEL)[1].regions == ((224, 0, 224, 0.7),)
    conn = sqlite3.connect(db)
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(scores)")}
    conn.close()
    assert "scores_burst" in indexes


def test_a_score_keeps_its_parts_and_a_new_score_clears_the_burst(cat, tmp_path):
    from model.scorer import ImageScore, Region

    photos = make_photos(tmp_path / "p", 2)
    embedding = np.array([0.6, 0.8], dtype="<f2").tobytes()
    regions = (Region(0, 0, 224, 0.25), Region(224, 112, 224, 0.75))  # the scorer's own type is accepted
    parts = {"global_score": 0.6, "detail": 0.5, "regions": regions, "width": 900, "height": 600}
    cat.put_score(photos[0], MODEL, 0.55, 0.01, embedding=embedding, **parts)
    score = cat.get(photos[0], MODEL)[1]
    assert (score.score, score.global_score, score.detail, score.width, score.height) == (0.55, 0.6, 0.5, 900, 600)
    assert score.regions == ((0, 0, 224, 0.25), (224, 112, 224, 0.75))
    assert cat.embeddings(photos, MODEL) == {str(photos[0]): embedding}
    assert ImageScore("x").detail is None  # the contract's defaults
    cat.put_score(photos[1], MODEL, 0.4)
    burst = cat.photo_ids(photos)[str(photos[0])]
    assert cat.set_bursts(MODEL, {photos[0]: (burst, 1, True), photos[1]: (burst, 2, True)}) == 2
    assert [(p.name, rank, tie) for p, rank, tie in cat.burst_members(burst, MODEL)] == [
        (photos[0].name, 1, True),
        (photos[1].name, 2, True),
    ]
    assert cat.rows(photos, MODEL)[1][1].burst_tie is True
    cat.put_score(photos[1], MODEL, 0.45)  # scored again: its burst is decided again
    assert [p.name for p, _, _ in cat.burst_members(burst, MODEL)] == [photos[0].name]
    assert cat.set_bursts(MODEL, {photos[0]: (None, None, False)}) == 1
    assert cat.get(photos[0], MODEL)[1].burst is None and cat.burst_members(burst, MODEL) == []


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"detail": float("nan")}, "detail"),
        ({"global_score": "high"}, "global_score"),
        ({"regions": [(0, 0, 224)]}, "region"),
        ({"regions": [(-1, 0, 224, 0.5)]}, "region"),
        ({"regions": [(0.5, 0, 224, 0.5)]}, "region x"),
        ({"regions": [(0, 0, 224, float("inf"))]}, "region score"),
        ({"regions": "0,0,224,0.5"}, "regions"),
        ({"width": 0}, "width"),
        ({"height": 1.5}, "height"),
        ({"embedding": b"\x00"}, "embedding"),
        ({"embedding": [0.5, 0.5]}, "embedding"),
    ],
)
def test_bad_score_parts_are_refused_before_anything_is_written(cat, tmp_path, parts, message):
    photo = make_photos(tmp_path / "p", 1)[0]
    with pytest.raises(ValueError, match=message):
        cat.put_score(photo, MODEL, 0.5, **parts)
    assert photo not in cat or cat.get(photo, MODEL)[1] is None
