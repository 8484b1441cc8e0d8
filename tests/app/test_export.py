"""CSV / JSON export: ranking, formatting, atomic writes."""

from __future__ import annotations

import csv
import dataclasses
import json
import os

import pytest

from loda_desktop import export
from loda_desktop.catalog import Catalog
from loda_desktop.export import CSV_COLUMNS, ExportRow, rank_rows, rows_from_records, write_csv, write_json


def sample_rows() -> list[ExportRow]:
    return [
        ExportRow("/s/b.jpg", 0.5, 0.01, rating=2, model="m", status="ok"),
        ExportRow("/s/a.jpg", 0.5, 0.02, rating=0, model="m", status="ok"),  # tie with b: path decides
        ExportRow("/s/c.jpg", 0.9, None, rating=5, flag="pick", label="red", model="m", status="ok"),
        ExportRow("/s/broken.jpg", None, None, rating=0, model="m", status="error", error="truncated file"),
        ExportRow("/s/d.jpg", None, None, rating=1, model="m", status=None),  # not scored yet
        ExportRow("/s/e.jpg", float("nan"), None, model="m", status="ok"),  # not a usable score
        ExportRow("/s/f.jpg", -0.25, 0.1, model="m", status="ok"),
    ]


def test_columns_match_dataclass():
    assert [f.name for f in dataclasses.fields(ExportRow)] == CSV_COLUMNS
    # the first release's columns, in their order, then the appended ones (scripts read columns by position)
    first = ["path", "score", "spread", "rank", "rating", "flag", "label", "model", "status", "error"]
    assert CSV_COLUMNS[:12] == [*first, "capture_time", "companions"]
    assert CSV_COLUMNS[12:] == ["detail", "burst", "burst_rank"]  # issue 21: detail crops and bursts


def test_rank_rows():
    ranked = rank_rows(sample_rows())
    assert [(r.path, r.rank) for r in ranked] == [
        ("/s/c.jpg", 1),
        ("/s/a.jpg", 2),
        ("/s/b.jpg", 3),
        ("/s/f.jpg", 4),
        ("/s/broken.jpg", None),
        ("/s/d.jpg", None),
        ("/s/e.jpg", None),
    ]
    assert rank_rows([]) == []
    # ranks already present are recomputed, input rows are not mutated
    again = rank_rows(reversed(ranked))
    assert [r.rank for r in again] == [r.rank for r in ranked]


def test_write_csv_format(tmp_path):
    rows = rank_rows(
        [
            *sample_rows(),
            ExportRow('/s/we,ird "name".jpg', 1 / 3, None, model="m", status="ok", label="café ✓"),
        ]
    )
    out = write_csv(rows, tmp_path / "ranking.csv")
    raw = out.read_bytes()
    assert raw.startswith(b"path,score,spread,rank,rating,flag,label,model,status,error,capture_time,companions")
    with out.open(newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == CSV_COLUMNS
    by_path = {r[0]: dict(zip(CSV_COLUMNS, r, strict=True)) for r in table[1:]}
    weird = by_path['/s/we,ird "name".jpg']
    assert weird["score"] == "0.333333" and weird["label"] == "café ✓" and weird["spread"] == ""
    assert by_path["/s/c.jpg"] == {
        "path": "/s/c.jpg",
        "score": "0.900000",
        "spread": "",
        "rank": "1",
        "rating": "5",
        "flag": "pick",
        "label": "red",
        "model": "m",
        "status": "ok",
        "error": "",
        "capture_time": "",
        "companions": "",
        "detail": "",
        "burst": "",
        "burst_rank": "",
    }
    broken = by_path["/s/broken.jpg"]
    assert (broken["rank"], broken["score"], broken["status"], broken["error"]) == ("", "", "error", "truncated file")
    assert by_path["/s/e.jpg"]["score"] == ""  # NaN written as empty
    assert by_path["/s/f.jpg"]["score"] == "-0.250000"
    assert len(table) == 1 + len(rows)


def test_write_json(tmp_path):
    rows = rank_rows(sample_rows())
    out = write_json(rows, tmp_path / "ranking.json")
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [list(d) for d in data] == [CSV_COLUMNS] * len(rows)
    assert data[0]["path"] == "/s/c.jpg" and data[0]["rank"] == 1 and data[0]["score"] == 0.9
    assert data[-1]["score"] is None  # NaN -> null
    assert data[-3]["error"] == "truncated file"


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("writer", [write_csv, write_json])
def test_failure_mid_write_keeps_old_file(tmp_path, monkeypatch, writer):
    out = tmp_path / "ranking.out"
    writer([ExportRow("/old.jpg", 0.1, None, rank=1, status="ok")], out)
    before = out.read_bytes()

    calls = {"n": 0}

    def exploding_rows():
        for row in sample_rows():
            calls["n"] += 1
            if calls["n"] == 4:
                raise Boom("disk pulled out")
            yield row

    with pytest.raises(Boom):
        writer(exploding_rows(), out)
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == ["ranking.out"]  # temp file removed


def test_failure_at_rename_keeps_old_file(tmp_path, monkeypatch):
    out = tmp_path / "ranking.csv"
    write_csv([ExportRow("/old.jpg")], out)
    before = out.read_bytes()

    def failing_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr("loda_desktop.paths.os.replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_csv(rank_rows(sample_rows()), out)
    assert out.read_bytes() == before
    assert os.listdir(tmp_path) == ["ranking.csv"]


def test_new_output_in_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_csv(sample_rows(), tmp_path / "no" / "such" / "dir.csv")


def _three_files(folder):
    photos = [folder / f"{i}.jpg" for i in range(3)]
    for i, p in enumerate(photos):
        p.write_bytes(b"x" * (i + 1))
    return photos


def test_rows_from_catalog(tmp_path):
    photos = _three_files(tmp_path)
    with Catalog(tmp_path / "c.sqlite3") as cat:
        cat.add_photos(photos)
        cat.put_score(photos[0], "m", 0.2, 0.01)
        cat.put_score(photos[1], "m", 0.8)
        cat.put_error(photos[2], "m", "bad file")
        cat.set_rating([photos[0]], 4)
        cat.set_flag([photos[1]], "reject")
        rows = rank_rows(rows_from_records(cat.rows(photos, "m"), "m"))
    assert [(r.path, r.rank, r.rating, r.flag, r.status) for r in rows] == [
        (str(photos[1]), 1, 0, "reject", "ok"),
        (str(photos[0]), 2, 4, None, "ok"),
        (str(photos[2]), None, 0, None, "error"),
    ]
    assert rows[2].error == "bad file" and rows[1].spread == 0.01
    assert export.rows_from_records([], "m") == []


def test_detail_and_burst_columns_come_from_the_catalog(tmp_path):
    """``detail`` is the score's detail part (empty for a photo without detail crops); ``burst`` and
    ``burst_rank`` the photo's burst and its rank in it (empty outside a burst), in CSV and JSON."""
    photos = _three_files(tmp_path)
    with Catalog(tmp_path / "c.sqlite3") as cat:
        cat.add_photos(photos)
        cat.put_score(photos[0], "m", 0.6, detail=0.625, regions=[(0, 0, 224, 0.625)])
        cat.put_score(photos[1], "m", 0.5, detail=0.25, regions=[(0, 0, 224, 0.25)])
        cat.put_score(photos[2], "m", 0.4)  # too small for detail crops
        burst = cat.photo_ids(photos[:1])[str(photos[0])]
        cat.set_bursts("m", {photos[0]: (burst, 1, False), photos[1]: (burst, 2, False)})
        rows = rank_rows(rows_from_records(cat.rows(photos, "m"), "m"))
    out = write_csv(rows, tmp_path / "r.csv")
    with out.open(newline="", encoding="utf-8") as f:
        table = {r["path"]: r for r in csv.DictReader(f)}
    assert [table[str(p)]["detail"] for p in photos] == ["0.625000", "0.250000", ""]
    assert [table[str(p)]["burst"] for p in photos] == [str(burst), str(burst), ""]
    assert [table[str(p)]["burst_rank"] for p in photos] == ["1", "2", ""]
    data = {r["path"]: r for r in json.loads(write_json(rows, tmp_path / "r.json").read_text(encoding="utf-8"))}
    assert (data[str(photos[1])]["detail"], data[str(photos[1])]["burst_rank"]) == (0.25, 2)
    assert (data[str(photos[2])]["detail"], data[str(photos[2])]["burst"]) == (None, None)


def test_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas(tmp_path):
    """OWASP CSV injection: a text cell starting with = + - @ TAB or CR gets a leading apostrophe."""
    hostile = ExportRow(
        '=HYPERLINK("x").jpg',
        -0.25,
        0.5,
        rating=3,
        flag="@pick",
        label="+red",
        model="=cmd|' /C calc'!A0@1|crops=5",
        status="\tok",
        error="-2+3",
    )
    cr = ExportRow("\r/s/cr.jpg", None, None, model="m", status="error", error="=1+1")
    plain = ExportRow("/s/plain.jpg", 0.5, None, model="m", status="ok", error="a = b")
    out = write_csv(rank_rows([hostile, cr, plain]), tmp_path / "ranking.csv")
    with out.open(newline="", encoding="utf-8") as f:
        table = [dict(zip(CSV_COLUMNS, r, strict=True)) for r in list(csv.reader(f))[1:]]
    by_path = {r["path"]: r for r in table}
    row = by_path['\'=HYPERLINK("x").jpg']
    assert row["model"] == "'=cmd|' /C calc'!A0@1|crops=5"
    assert (row["flag"], row["label"], row["status"], row["error"]) == ("'@pick", "'+red", "'\tok", "'-2+3")
    # numbers are written as numbers, a negative score included: no apostrophe, read back as floats
    assert float(row["score"]) == -0.25 and float(row["spread"]) == 0.5
    assert int(row["rating"]) == 3 and row["rank"] == ""  # status is not "ok": no rank
    assert by_path["'\r/s/cr.jpg"]["error"] == "'=1+1"
    # cells that do not start with a trigger character are untouched
    assert by_path["/s/plain.jpg"] == {
        "path": "/s/plain.jpg",
        "score": "0.500000",
        "spread": "",
        "rank": "1",
        "rating": "",
        "flag": "",
        "label": "",
        "model": "m",
        "status": "ok",
        "error": "a = b",
        "capture_time": "",
        "companions": "",
        "detail": "",
        "burst": "",
        "burst_rank": "",
    }


def test_a_file_name_that_is_not_utf8_survives_both_exports(tmp_path):
    name = os.fsdecode(b"/shoot/IMG_\xff\xfe.jpg")  # Linux allows any bytes; Python holds them as surrogates
    rows = [ExportRow(name, 0.5, 0.1, model="m", status="ok"), ExportRow("/shoot/é.jpg", 0.4, 0.1, status="ok")]
    with open(write_csv(rows, tmp_path / "r.csv"), newline="", encoding="utf-8", errors="surrogateescape") as f:
        assert [r["path"] for r in csv.DictReader(f)] == [name, "/shoot/é.jpg"]
    raw = (tmp_path / "r.csv").read_bytes()
    assert b"IMG_\xff\xfe.jpg" in raw and "é".encode() in raw  # the name's own bytes; UTF-8 elsewhere
    out = write_json(rows, tmp_path / "r.json")
    data = json.loads(out.read_text(encoding="utf-8"))  # valid UTF-8 throughout
    assert [r["path"] for r in data] == [name, "/shoot/é.jpg"]
    assert os.fsencode(data[0]["path"]) == b"/shoot/IMG_\xff\xfe.jpg"


def _dated_jpeg(path, when: str):
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = when
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    Image.new("RGB", (320, 240), (90, 120, 150)).save(path, exif=exif, quality=90)
    return path


def test_capture_time_and_companions_columns_from_loda_score(tmp_path, capsys):
    """A RAW + JPEG pair is one row naming its RAW; the capture time comes from EXIF (and is kept in the
    catalog); JSON has the same values, the companions as a list."""
    from loda_desktop.cli import main
    from tests.helpers.files import read_export_csv
    from tests.helpers.raw_files import write_dng

    shoot = tmp_path / "shoot"
    shoot.mkdir()
    jpg = _dated_jpeg(shoot / "IMG_0001.JPG", "2024:05:01 10:00:00")
    write_dng(shoot / "IMG_0001.dng")
    plain = shoot / "plain.jpg"
    _dated_jpeg(plain, "")  # an EXIF block without a capture time
    out = tmp_path / "ranking.csv"
    assert main(["score", str(shoot), "--csv", str(out), "--crops", "2"]) == 0
    rows = {r["path"]: r for r in read_export_csv(out)}
    assert set(rows) == {str(jpg), str(plain)}  # one row for the pair
    assert rows[str(jpg)]["capture_time"] == "2024-05-01T10:00:00+02:00"
    assert rows[str(jpg)]["companions"] == "IMG_0001.dng"
    assert (rows[str(plain)]["capture_time"], rows[str(plain)]["companions"]) == ("", "")
    with Catalog() as cat:  # read once, then kept
        assert cat.get(jpg)[0].capture_time == "2024-05-01T10:00:00+02:00"
    capsys.readouterr()
    assert main(["score", str(shoot), "--json", "--crops", "2"]) == 0
    data = {r["path"]: r for r in json.loads(capsys.readouterr().out)}
    assert data[str(jpg)]["companions"] == ["IMG_0001.dng"]
    assert data[str(jpg)]["capture_time"] == "2024-05-01T10:00:00+02:00"
    two = [ExportRow(str(jpg), companions=("A.CR2", "A.DNG"))]
    written = json.loads(write_json(two, tmp_path / "r.json").read_text())
    assert written[0]["companions"] == ["A.CR2", "A.DNG"] and written[0]["capture_time"] is None
    csv_lines = write_csv(two, tmp_path / "r.csv").read_text().splitlines()
    assert csv_lines[1].endswith(",A.CR2;A.DNG,,,")  # then the empty detail, burst and burst_rank
