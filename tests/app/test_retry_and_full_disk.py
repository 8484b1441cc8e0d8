"""Errors are not final (a file back, a file readable again is scored again; a file that cannot be decoded is not
retried forever), and a catalog or CSV that cannot be written (disk full, read-only) is one line saying what was
saved, with the scoring going on (issue 26, faults 3 and 4)."""

from __future__ import annotations

import errno
import os
import sqlite3

import pytest

from loda_desktop import catalog as catalog_module
from loda_desktop import catalog_schema
from loda_desktop import engine as engine_module
from loda_desktop.catalog import SCHEMA_VERSION, Catalog
from loda_desktop.cli import main
from loda_desktop.engine import Engine
from loda_desktop.settings import Settings
from loda_desktop.storage_errors import storage_problem
from model import scorer as scorer_module
from tests.helpers.decodes import count_decodes
from tests.helpers.files import read_export_csv

from .badfiles import photo


def fast() -> Settings:
    return Settings(crops=2, batch_size=8)


@pytest.fixture
def shoot(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    return [photo(folder / f"p{i}.jpg", size=(320, 240), seed=i) for i in range(6)]


@pytest.fixture
def prepared(monkeypatch):
    """The names of the photos the scorer decodes, in order (a photo taken from the catalog is not decoded)."""
    return count_decodes(monkeypatch)


def _kind(path, key) -> tuple[str, str | None]:
    with Catalog() as cat:
        row = cat._conn.execute(
            "SELECT s.status, s.error_kind FROM scores s JOIN photos p ON p.id = s.photo_id "
            "WHERE p.path = ? AND s.model_key = ?",
            (str(path), key),
        ).fetchone()
    return row


# -- errors are not final -------------------------------------------------------------------------------------


def test_a_photo_that_vanished_mid_scan_is_scored_once_it_is_back(shoot, monkeypatch):
    prepared: list[str] = []
    gone = shoot[2]
    away = gone.with_name("elsewhere.bin")
    real = scorer_module.BaseScorer.prepare

    def vanish_then_prepare(self, source):
        if str(source) == str(gone) and "vanished" not in prepared:
            gone.rename(away)  # the folder went away between the scan and the decoding (once)
            prepared.append("vanished")
        prepared.append(os.path.basename(str(source)))
        return real(self, source)

    monkeypatch.setattr(scorer_module.BaseScorer, "prepare", vanish_then_prepare)
    engine = Engine(fast())
    first = engine.score_paths(shoot)
    assert (first.scored, first.failed) == (5, 1)
    assert _kind(gone, engine.model_key) == ("error", "missing")
    # still gone: nothing to try; back (same size and mtime): scored without any flag
    assert Engine(fast()).score_paths(shoot).scored == 0
    away.rename(gone)
    again = Engine(fast()).score_paths(shoot)
    assert (again.scored, again.cached, again.failed) == (1, 5, 0)
    assert prepared[-1] == gone.name


def test_an_unreadable_photo_is_retried_once_it_can_be_read(shoot, monkeypatch):
    locked = str(shoot[0])
    import model.preprocess as pre

    real_open = pre.Image.open
    refused = {"open": True, "access": True}

    def guarded_open(fp, *a, **k):  # tests run as root, where chmod 000 does not stop reading
        if refused["open"] and str(fp) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", locked)
        return real_open(fp, *a, **k)

    real_whole = pre._whole_jpeg

    def guarded_whole(source):  # the simplejpeg path reads the bytes itself; an unreadable file leaves it to Pillow
        return None if refused["open"] and str(source) == locked else real_whole(source)

    real_access = os.access
    monkeypatch.setattr(pre, "_whole_jpeg", guarded_whole)
    monkeypatch.setattr(pre.Image, "open", guarded_open)
    monkeypatch.setattr(
        catalog_module.os, "access", lambda p, m: not (refused["access"] and p == locked) and real_access(p, m)
    )
    engine = Engine(fast())
    assert engine.score_paths(shoot).failed == 1
    assert _kind(locked, engine.model_key) == ("error", "unreadable")
    assert Engine(fast()).score_paths(shoot).scored == 0  # still unreadable: not decoded again
    refused.update(open=False, access=False)  # chmod fixed
    again = Engine(fast()).score_paths(shoot)
    assert (again.scored, again.failed) == (1, 0)


def test_a_photo_that_cannot_be_decoded_is_not_retried_until_asked(shoot, prepared):
    broken = shoot[1]
    broken.write_bytes(b"not a jpeg at all")
    engine = Engine(fast())
    engine.score_paths(shoot)
    assert _kind(broken, engine.model_key) == ("error", "decode")
    prepared.clear()
    assert Engine(fast()).score_paths(shoot).failed == 1
    assert prepared == []  # unchanged file: the reason still holds, no second decode
    retried = Engine(fast()).score_paths(shoot, retry_errors=True)
    assert prepared == [broken.name] and retried.failed == 1
    prepared.clear()
    assert main(["score", str(broken.parent), "--retry-failed", "--crops", "2"]) == 0
    assert prepared == [broken.name]


def test_a_version_2_catalog_upgrades_and_its_old_error_rows_get_a_kind(tmp_path):
    db = tmp_path / "v2.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)  # a catalog as the second release left it
    catalog_schema._create_v1(conn)
    catalog_schema._create_v2(conn)
    conn.execute("PRAGMA user_version = 2")
    messages = {
        "/a.jpg": "the file disappeared during the scan",
        "/b.jpg": "permission denied: the file cannot be read",
        "/c.jpg": "not an image, or an image format this app cannot read",
    }
    for i, (path, message) in enumerate(messages.items(), start=1):
        conn.execute("INSERT INTO photos (id, path, size, mtime_ns) VALUES (?, ?, 1, 1)", (i, path))
        conn.execute(
            "INSERT INTO scores (photo_id, model_key, status, error, created) VALUES (?, 'm', 'error', ?, 0)",
            (i, message),
        )
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION >= 3
        kinds = dict(cat._conn.execute("SELECT p.path, s.error_kind FROM scores s JOIN photos p ON p.id = s.photo_id"))
    assert kinds == {"/a.jpg": "missing", "/b.jpg": "unreadable", "/c.jpg": "decode"}


# -- a catalog or a CSV that cannot be written ---------------------------------------------------------------


def _fail_after(monkeypatch, n: int, exc: Exception) -> dict:
    """Catalog.put_score fails with ``exc`` after ``n`` calls, until ``calls["fail"]`` is set False."""
    real = Catalog.put_score
    calls = {"n": 0, "fail": True}

    def put_score(self, *a, **k):
        calls["n"] += 1
        if calls["fail"] and calls["n"] > n:
            raise exc
        return real(self, *a, **k)

    monkeypatch.setattr(Catalog, "put_score", put_score)
    return calls


def test_disk_full_mid_run_keeps_scoring_and_says_what_was_saved(shoot, monkeypatch):
    calls = _fail_after(monkeypatch, 2, sqlite3.OperationalError("database or disk is full"))
    results = []
    engine = Engine(fast())
    summary = engine.score_paths(shoot, on_result=results.append)
    assert summary.scored == 6 and all(r.status == "ok" for r in results)  # scoring went on
    assert summary.save_problem.startswith("Disk full while saving scores: 2 of 6 photos saved; the other 4")
    assert "\n" not in summary.save_problem and "nothing is lost" in summary.save_problem
    rows = engine.export_rows(shoot)  # the unsaved scores are exported too
    assert all(r.status == "ok" and r.score is not None for r in rows)
    calls["fail"] = False
    rerun = Engine(fast()).score_paths(shoot)  # space freed: the rest is scored, nothing lost
    assert (rerun.scored, rerun.cached, rerun.save_problem) == (4, 2, "")


def test_a_really_full_catalog_from_the_start(shoot, monkeypatch):
    """SQLite's own SQLITE_FULL (max_page_count reached), not a simulated exception."""
    many = shoot + [photo(shoot[0].parent / f"x{i:04d}_{'long' * 20}.jpg", size=(40, 30)) for i in range(60)]

    class FullCatalog(Catalog):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
            self._conn.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(engine_module, "Catalog", FullCatalog)
    summary = Engine(fast()).score_paths(many)
    assert summary.scored == len(many)
    assert summary.save_problem.startswith(f"Disk full while saving scores: 0 of {len(many)} photos saved")
    assert "database or disk is full" in summary.save_problem


def test_cli_on_a_catalog_full_from_the_start_reads_no_xmp_scores_and_says_so(shoot, monkeypatch, capsys):
    """`loda score` reads XMP into the catalog before scoring: a full catalog there is a warning, not a traceback."""
    from loda_desktop import catalog as catalog_module

    class FullCatalog(Catalog):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self._conn.execute(f"PRAGMA max_page_count = {self._conn.execute('PRAGMA page_count').fetchone()[0]}")

    many = shoot + [photo(shoot[0].parent / f"y{i:04d}_{'long' * 20}.jpg", size=(40, 30)) for i in range(60)]
    monkeypatch.setattr(engine_module, "Catalog", FullCatalog)
    monkeypatch.setattr(catalog_module, "Catalog", FullCatalog)
    code = main(["score", str(shoot[0].parent), "--crops", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "warning: Disk full while reading XMP into the catalog: nothing was read." in err
    assert f"Disk full while saving scores: 0 of {len(many)} photos saved" in err


def test_cli_full_disk_is_one_line_and_a_nonzero_exit(shoot, monkeypatch, tmp_path, capsys):
    _fail_after(monkeypatch, 3, sqlite3.OperationalError("database or disk is full"))
    out = tmp_path / "r.csv"
    code = main(["score", str(shoot[0].parent), "--crops", "2", "--csv", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    [line] = [x for x in err.splitlines() if x.startswith("loda score: error:")]
    assert "Disk full while saving scores: 3 of 6 photos saved" in line
    assert len(read_export_csv(out)) == 6 and all(r["status"] == "ok" for r in read_export_csv(out))


def test_cli_read_only_catalog_mid_run(shoot, monkeypatch, capsys):
    exc = sqlite3.OperationalError("attempt to write a readonly database")
    _fail_after(monkeypatch, 0, exc)
    assert main(["score", str(shoot[0].parent), "--crops", "2"]) == 1
    err = capsys.readouterr().err
    assert "The catalog is read-only while saving scores: 0 of 6 photos saved" in err and "Traceback" not in err


def test_cli_csv_on_a_full_disk_or_a_folder_that_refuses_it(shoot, monkeypatch, capsys):
    from loda_desktop import paths as paths_module

    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(paths_module.os, "fsync", full)
    code = main(["score", str(shoot[0].parent), "--crops", "2", "--csv", str(shoot[0].parent / "r.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "loda score: error: Disk full while writing the CSV" in err and "the scores are in the catalog" in err
    assert not (shoot[0].parent / "r.csv").exists()
    monkeypatch.setattr(paths_module.os, "fsync", real_fsync)
    # a real refusal from the kernel (sysfs takes no new files, even from root)
    code = main(["score", str(shoot[0].parent), "--crops", "2", "--csv", "/sys/loda-ranking.csv"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "Permission denied while writing the CSV" in err


def _permissions_enforced(folder) -> bool:
    probe = folder / "probe"
    probe.write_text("x")
    probe.chmod(0o444)
    try:
        with open(probe, "a"):
            return False  # root (or a file system without permissions): chmod stops nothing
    except PermissionError:
        return True
    finally:
        probe.chmod(0o644)
        probe.unlink()


def test_a_read_only_catalog_file_for_real(shoot, tmp_path, capsys):
    if not _permissions_enforced(tmp_path):
        pytest.skip("file permissions are not enforced here (running as root): chmod cannot make a catalog read-only")
    main(["score", str(shoot[0].parent), "--crops", "2"])
    for p in shoot[3:]:
        p.write_bytes(photo(p, size=(330, 240), seed=9).read_bytes())  # changed: to be scored again
    from loda_desktop.paths import catalog_path

    db = catalog_path()
    db.chmod(0o444)
    try:
        code = main(["score", str(shoot[0].parent), "--crops", "2"])
    finally:
        db.chmod(0o644)
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "read-only" in err and "nothing is lost" in err


def test_storage_problem_words():
    assert storage_problem(OSError(errno.EROFS, "Read-only file system")).what == "Read-only file system"
    assert storage_problem(sqlite3.OperationalError("no such table: x")) is None  # a bug, not the disk
    assert storage_problem(ValueError("x")) is None
