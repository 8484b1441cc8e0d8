import csv
import os

import pytest

from loda_desktop import engine as engine_module
from loda_desktop.cli import main
from loda_desktop.export import CSV_COLUMNS
from tests.app.badfiles import make_shoot, photo
from tests.helpers.files import read_export_csv as read_csv
from tests.helpers.raw_files import hide_module


@pytest.fixture
def shoot(tmp_path, monkeypatch):
    files = make_shoot(tmp_path / "shoot")
    hide_module(monkeypatch, "pillow_heif")  # phone.heic stands for a HEIC without its optional decoder
    # tests run as root, where chmod 000 does not stop reading: refuse that one file at open() instead
    import model.preprocess as pre

    real_open = pre.Image.open
    locked = str(files["unreadable"])

    def guarded_open(fp, *a, **k):
        if str(fp) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_open(fp, *a, **k)

    real_whole = pre._whole_jpeg  # the simplejpeg path reads the bytes itself; unreadable, it leaves them to Pillow
    monkeypatch.setattr(pre, "_whole_jpeg", lambda source: None if str(source) == locked else real_whole(source))
    monkeypatch.setattr(pre.Image, "open", guarded_open)
    os.chmod(files["unreadable"], 0)
    yield files
    os.chmod(files["unreadable"], 0o644)


def test_every_good_photo_scored_every_bad_one_explained(shoot, tmp_path, capsys):
    out = tmp_path / "ranking.csv"
    code = main(["score", str(tmp_path / "shoot"), "--csv", str(out), "--crops", "3", "--batch", "16"])
    assert code == 0
    rows = {r["path"]: r for r in read_csv(out)}
    assert len(rows) == len(shoot)  # one row per image file found; the loop and the .txt add none
    for name, path in shoot.items():
        row = rows[str(path)]
        if name.startswith("good"):
            assert row["status"] == "ok" and float(row["score"]) == float(row["score"]), name
            assert row["rank"] and row["error"] == ""
        else:
            assert row["status"] == "error" and row["error"] and row["rank"] == "", name
    reasons = {name: rows[str(p)]["error"] for name, p in shoot.items()}
    assert "empty" in reasons["empty"]
    assert "truncated" in reasons["truncated"] or "damaged" in reasons["truncated"]
    assert "not an image" in reasons["non_image"]
    assert "too many pixels" in reasons["bomb"]
    assert "pillow-heif" in reasons["unsupported"]
    assert "permission denied" in reasons["unreadable"]
    ranks = sorted(int(r["rank"]) for r in rows.values() if r["rank"])
    assert ranks == list(range(1, 7))
    err = capsys.readouterr().err
    assert ("6 scored now" in err and "5 failed" in err.replace("6 failed", "")) or "6 failed" in err
    assert "photos/s" in err and "UNTRAINED" in err


def test_a_photo_that_vanishes_mid_scan_gets_a_row(tmp_path, monkeypatch):
    folder = tmp_path / "s"
    folder.mkdir()
    keep = photo(folder / "keep.jpg")
    gone_early = photo(folder / "gone_early.jpg", seed=2)
    gone_late = photo(folder / "gone_late.jpg", seed=3)
    real_scan = engine_module.scan_many

    def scan_then_delete(*a, **k):
        found = real_scan(*a, **k)
        gone_early.unlink()  # disappears between the scan and the catalog
        return found

    monkeypatch.setattr(engine_module, "scan_many", scan_then_delete)
    real_add = engine_module.Catalog.add_photos

    def add_then_delete(self, paths):
        real_add(self, paths)
        if gone_late.exists():
            gone_late.unlink()  # disappears after cataloguing, before decoding

    monkeypatch.setattr(engine_module.Catalog, "add_photos", add_then_delete)
    out = tmp_path / "r.csv"
    assert main(["score", str(folder), "--csv", str(out), "--crops", "2"]) == 0
    rows = {r["path"]: r for r in read_csv(out)}
    assert rows[str(keep)]["status"] == "ok"
    assert "disappeared" in rows[str(gone_early)]["error"]
    assert "disappeared" in rows[str(gone_late)]["error"]


def test_json_and_stdout_csv(tmp_path, capsys):
    import json

    folder = tmp_path / "s"
    folder.mkdir()
    photo(folder / "x.jpg")
    assert main(["score", str(folder), "--json", "--crops", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["path"] == str(folder / "x.jpg") and data[0]["rank"] == 1 and data[0]["status"] == "ok"
    assert main(["score", str(folder), "--csv", "-", "--crops", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS) and len(lines) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["score", "/no/such/folder"], "No such folder"),
        (["score", ".", "--crops", "0"], "crops"),
        (["score", ".", "--model", "nope"], "unknown model 'nope'"),
    ],
)
def test_bad_arguments_are_one_line_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_stdout_csv_is_the_file_csv(tmp_path, capsys):
    folder = tmp_path / "s"
    folder.mkdir()
    photo(folder / "x.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    out = tmp_path / "r.csv"
    assert main(["score", str(folder), "--csv", str(out), "--crops", "2"]) == 0
    capsys.readouterr()
    assert main(["score", str(folder), "--csv", "-", "--crops", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines() == out.read_text(encoding="utf-8").splitlines()
    rows = {r["path"]: r for r in csv.DictReader(printed.splitlines())}
    assert len(rows[str(folder / "x.jpg")]["score"].split(".")[1]) == 6  # six decimals, as in files
    assert rows[str(folder / "empty.jpg")]["score"] == ""  # no score: an empty cell, never "nan" or "None"


def _garbage(path):
    path.write_bytes(bytes(range(256)) * 40)


def _future_version(path):
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()


def _damaged_pages(path):
    """A catalog whose header reads fine but whose tables are overwritten: SQLite finds out mid-query."""
    from loda_desktop.catalog import Catalog

    Catalog(path).close()
    data = bytearray(path.read_bytes())
    assert len(data) > 4096
    data[4096:] = b"\xab" * (len(data) - 4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garbage, _future_version, _damaged_pages])
def test_a_damaged_catalog_is_a_one_line_error(damage, tmp_path, capsys):
    from loda_desktop.paths import catalog_path

    folder = tmp_path / "s"
    folder.mkdir()
    photo(folder / "x.jpg")
    catalog_path().parent.mkdir(parents=True, exist_ok=True)
    damage(catalog_path())
    assert main(["score", str(folder), "--crops", "2"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("loda score:")]
    assert len(lines) == 1 and lines[0].startswith("loda score: error: ") and str(catalog_path()) in lines[0]
    assert "Traceback" not in err


def test_a_formula_in_the_model_name_or_file_name_is_neutralised_in_the_csv(tmp_path, monkeypatch):
    import torch

    from loda_desktop.paths import models_dir
    from model import create_model
    from model.profiles import save_model

    torch.manual_seed(0)
    models_dir().mkdir(parents=True, exist_ok=True)
    save_model(create_model("loda_tiny"), models_dir() / "evil.safetensors", name="=HYPERLINK(1)")
    folder = tmp_path / "s"
    folder.mkdir()
    photo(folder / '=HYPERLINK("x").jpg')
    monkeypatch.chdir(folder)  # a relative folder: the path cell is still absolute, the model cell is the risk
    out = tmp_path / "r.csv"
    assert main(["score", ".", "--csv", str(out), "--crops", "2", "--model", "=HYPERLINK(1)"]) == 0
    (row,) = read_csv(out)
    assert row["model"].startswith("'=HYPERLINK(1)@")
    assert row["path"] == str(folder / '=HYPERLINK("x").jpg')  # absolute: starts with "/", nothing to neutralise
    assert row["status"] == "ok" and float(row["score"]) == float(row["score"]) and row["rank"] == "1"


def test_the_table_escapes_control_characters_in_file_names(tmp_path, capsys):
    folder = tmp_path / "s"
    folder.mkdir()
    good = photo(folder / "a\x1b]0;pwned\x07\nb.jpg")
    bad = folder / "c\rd\x9b\x7f\t.jpg"
    bad.write_bytes(b"")
    assert main(["score", str(folder), "--crops", "2"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines(keepends=True)
    assert len(lines) == 2  # one line per photo: no name adds a line
    ok_line = next(line for line in lines if "pwned" in line)
    assert ok_line.rstrip("\n").endswith(str(folder) + "/a\\x1b]0;pwned\\x07\\nb.jpg")
    err_line = next(line for line in lines if "error" in line)
    assert str(folder) + "/c\\rd\\x9b\\x7f\\t.jpg: " in err_line
    for line in lines:
        body = line[:-1]
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in body), repr(line)
    assert str(good) not in captured.out and str(bad) not in captured.out
    assert "\x1b" not in captured.err and "\x07" not in captured.err


def test_model_and_profile_listings_escape_control_characters(capsys):
    import torch

    from loda_desktop.paths import models_dir
    from model import create_model
    from model.profiles import save_model

    torch.manual_seed(0)
    models_dir().mkdir(parents=True, exist_ok=True)
    save_model(create_model("loda_tiny"), models_dir() / "t.safetensors", name="x\x1b]0;pwned\x07", trained_on="a\nb")
    assert main(["profiles", "list"]) == 0
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "a\nb" not in out
    assert out.count("x\\x1b]0;pwned\\x07") == 2 and "trained on: a\\nb" in out
