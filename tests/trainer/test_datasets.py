"""Dataset readers, each on a tiny fixture written in that dataset's release layout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from trainer import datasets
from trainer.datasets import (
    DATASETS,
    LIVE_FOLDERS,
    SYNTHETIC,
    TRAIN_CROPS,
    DatasetError,
    Sample,
    load_dataset,
    read_csv_table,
    read_flive,
    read_kadid10k,
    read_koniq10k,
    read_live,
    read_livec,
    read_spaq,
    read_tid2013,
    train_crops_for_size,
)


def by_name(samples: list[Sample]) -> dict[str, Sample]:
    return {s.path.name: s for s in samples}


def cell_array(strings: list[str]) -> np.ndarray:
    """A MATLAB cell array of strings, as scipy.io.savemat writes one."""
    out = np.empty((1, len(strings)), dtype=object)
    for i, s in enumerate(strings):
        out[0, i] = s
    return out


# ---------------------------------------------------------------------------------------------- KonIQ


@pytest.fixture
def koniq_root(tmp_path, write_image) -> Path:
    root = tmp_path / "koniq10k"
    rows = [("10004473376.jpg", 3.0), ("10007357496.jpg", 5.0), ("10007903636.jpg", 1.0)]
    lines = ['"image_name","c1","c2","c3","c4","c5","c_total","MOS","SD","MOS_zscore"']
    for name, mos in rows:
        lines.append(f'"{name}",0,0,25,73,7,105,{mos},0.527278029,77.38356903')
        write_image(root / "1024x768" / name)
    (root / "koniq10k_scores_and_distributions.csv").write_text("\n".join(lines) + "\n")
    return root


def test_koniq10k_reads_mos_on_its_1_to_5_scale(koniq_root):
    samples = read_koniq10k(koniq_root)
    assert len(samples) == 3
    s = by_name(samples)
    assert s["10007357496.jpg"].score == pytest.approx(1.0)
    assert s["10007903636.jpg"].score == pytest.approx(0.0)
    assert s["10004473376.jpg"].score == pytest.approx(0.5)
    assert s["10004473376.jpg"].path == koniq_root / "1024x768" / "10004473376.jpg"
    assert all(x.group is None and x.split is None for x in samples)


# ---------------------------------------------------------------------------------------------- KADID


@pytest.fixture
def kadid_root(tmp_path, write_image) -> Path:
    root = tmp_path / "kadid10k"
    rows = [
        ("I01_01_01.png", "I01.png", 4.57, 0.496),
        ("I01_01_05.png", "I01.png", 1.0, 0.2),
        ("I02_01_01.png", "I02.png", 5.0, 0.1),
        ("I02_03_02.png", "I02.png", 3.0, 0.9),
    ]
    lines = ["dist_img,ref_img,dmos,var"]
    for dist, ref, mos, var in rows:
        lines.append(f"{dist},{ref},{mos},{var}")
        write_image(root / "images" / dist)
    write_image(root / "images" / "I01.png")  # the release ships the references in the same folder
    (root / "dmos.csv").write_text("\n".join(lines) + "\n")
    return root


def test_kadid10k_dmos_column_is_a_mos_and_is_not_flipped(kadid_root):
    samples = read_kadid10k(kadid_root)
    assert len(samples) == 4  # the reference images are not listed, so not read
    s = by_name(samples)
    assert s["I02_01_01.png"].score == pytest.approx(1.0)  # dmos 5 = best
    assert s["I01_01_05.png"].score == pytest.approx(0.0)
    assert s["I02_03_02.png"].score == pytest.approx(0.5)
    assert s["I01_01_01.png"].group == "I01.png"
    assert {x.group for x in samples} == {"I01.png", "I02.png"}


# ----------------------------------------------------------------------------------------------- LIVE


def _live_layout(root: Path, write_image, dmos: np.ndarray, orgs: np.ndarray, refs: list[str]) -> Path:
    for folder, count in LIVE_FOLDERS:
        for n in range(1, count + 1):
            write_image(root / folder / f"img{n}.bmp")
    scipy.io.savemat(root / "dmos.mat", {"dmos": dmos.reshape(1, -1), "orgs": orgs.reshape(1, -1)})
    scipy.io.savemat(root / "refnames_all.mat", {"refnames_all": cell_array(refs)})
    return root


@pytest.fixture
def live_arrays():
    n = sum(c for _, c in LIVE_FOLDERS)
    assert n == 982
    rng = np.random.default_rng(0)
    dmos = rng.uniform(5.0, 95.0, n)
    orgs = np.zeros(n)
    orgs[[0, 5, 227, 981]] = 1  # reference copies
    dmos[orgs == 1] = 0.0
    dmos[10] = 100.0  # worst
    dmos[300] = 0.0  # best distorted image (jpeg/img74.bmp), not a reference
    refs = [f"ref{i % 29}.bmp" for i in range(n)]
    return dmos, orgs, refs


def test_live_flips_dmos_drops_references_and_groups_by_refname(tmp_path, write_image, live_arrays):
    dmos, orgs, refs = live_arrays
    root = _live_layout(tmp_path / "live", write_image, dmos, orgs, refs)
    samples = read_live(root)
    assert len(samples) == 982 - 4
    paths = {s.path for s in samples}
    assert root / "jp2k" / "img1.bmp" not in paths  # orgs[0] == 1
    assert root / "jpeg" / "img1.bmp" not in paths  # orgs[227] == 1: first image of the second folder
    assert root / "fastfading" / "img174.bmp" not in paths  # orgs[981] == 1
    s = {x.path: x for x in samples}
    worst = s[root / "jp2k" / "img11.bmp"]
    best = s[root / "jpeg" / "img74.bmp"]  # entry 300 = 227 + 73, i.e. the 74th jpeg image
    assert worst.score == pytest.approx(0.0)
    assert best.score == pytest.approx(1.0)
    assert best.group == refs[300]
    entry_500 = s[root / "wn" / f"img{500 - 227 - 233 + 1}.bmp"]
    assert entry_500.score == pytest.approx(1.0 - dmos[500] / 100.0)
    assert entry_500.group == refs[500]
    assert all(0.0 <= x.score <= 1.0 for x in samples)


def test_live_dmos_above_100_widens_the_scale_and_keeps_the_order(tmp_path, write_image, live_arrays):
    dmos, orgs, refs = live_arrays
    dmos[20] = 112.0
    root = _live_layout(tmp_path / "live", write_image, dmos, orgs, refs)
    s = {x.path: x for x in read_live(root)}
    assert s[root / "jp2k" / "img21.bmp"].score == pytest.approx(0.0)
    assert s[root / "jp2k" / "img11.bmp"].score == pytest.approx(12.0 / 112.0)  # dmos 100 > 112 in quality
    assert all(0.0 <= x.score <= 1.0 for x in s.values())


def test_live_wrong_entry_count_names_the_mat_file(tmp_path, write_image, live_arrays):
    dmos, orgs, refs = live_arrays
    root = _live_layout(tmp_path / "live", write_image, dmos, orgs, refs)
    scipy.io.savemat(root / "dmos.mat", {"dmos": dmos[:-1].reshape(1, -1), "orgs": orgs[:-1].reshape(1, -1)})
    with pytest.raises(DatasetError, match=r"dmos\.mat.*981.*982"):
        read_live(root)


def test_live_missing_variable_names_file_and_variable(tmp_path, write_image, live_arrays):
    dmos, orgs, refs = live_arrays
    root = _live_layout(tmp_path / "live", write_image, dmos, orgs, refs)
    scipy.io.savemat(root / "dmos.mat", {"dmos": dmos.reshape(1, -1)})
    with pytest.raises(DatasetError, match=r"dmos\.mat has no variable 'orgs'"):
        read_live(root)


# -------------------------------------------------------------------------------------------- TID2013


@pytest.fixture
def tid_root(tmp_path, write_image) -> Path:
    root = tmp_path / "tid2013"
    listed = [("5.51429", "i01_01_1.bmp"), ("9.0", "i01_02_5.bmp"), ("0.0", "i25_24_5.bmp")]
    on_disk = ["i01_01_1.bmp", "I01_02_5.BMP", "I25_24_5.bmp"]  # the release mixes cases
    for name in on_disk:
        write_image(root / "distorted_images" / name)
    text = "\n".join(f"{mos} {name}" for mos, name in listed) + "\n\n"
    (root / "mos_with_names.txt").write_text(text)
    return root


def test_tid2013_matches_names_case_insensitively_and_groups_by_reference(tid_root):
    samples = read_tid2013(tid_root)
    assert len(samples) == 3
    s = by_name(samples)
    assert set(s) == {"i01_01_1.bmp", "I01_02_5.BMP", "I25_24_5.bmp"}  # the real on-disk names
    assert s["i01_01_1.bmp"].score == pytest.approx(5.51429 / 9.0)
    assert s["I01_02_5.BMP"].score == pytest.approx(1.0)
    assert s["I25_24_5.bmp"].score == pytest.approx(0.0)
    assert s["I01_02_5.BMP"].group == "i01"
    assert s["I25_24_5.bmp"].group == "i25"
    assert all(x.path.is_file() for x in samples)


def test_tid2013_malformed_line_names_file_and_line(tid_root):
    (tid_root / "mos_with_names.txt").write_text("5.1 i01_01_1.bmp\ni01_02_5.bmp\n")
    with pytest.raises(DatasetError, match=r"mos_with_names\.txt, line 2"):
        read_tid2013(tid_root)


# ---------------------------------------------------------------------------------------------- LIVEC


@pytest.fixture
def livec_root(tmp_path, write_image) -> Path:
    root = tmp_path / "ChallengeDB_release"
    names = [f"t{i}.bmp" for i in range(1, 8)] + ["10.JPG", "100.bmp", "1000.JPG"]
    mos = np.array([[50.0] * 7 + [80.0, 20.0, 63.5]])
    (root / "Data").mkdir(parents=True)
    scipy.io.savemat(root / "Data" / "AllImages_release.mat", {"AllImages_release": cell_array(names).T})
    scipy.io.savemat(root / "Data" / "AllMOS_release.mat", {"AllMOS_release": mos})
    for name in names[:7]:
        write_image(root / "Images" / "trainingImages" / name)  # where the release keeps them
    for name in names[7:]:
        write_image(root / "Images" / name)
    return root


def test_livec_drops_the_first_7_entries(livec_root):
    samples = read_livec(livec_root)
    assert [x.path.name for x in samples] == ["10.JPG", "100.bmp", "1000.JPG"]
    assert [x.score for x in samples] == pytest.approx([0.8, 0.2, 0.635])
    assert samples[0].path == livec_root / "Images" / "10.JPG"
    assert all(x.group is None for x in samples)


def test_livec_missing_mos_file_names_it(livec_root):
    (livec_root / "Data" / "AllMOS_release.mat").unlink()
    with pytest.raises(DatasetError, match=r"AllMOS_release\.mat"):
        read_livec(livec_root)


# ----------------------------------------------------------------------------------------------- SPAQ


def _spaq_xlsx(path: Path, rows: list[tuple]) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Image name", "MOS", "Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness"])
    for row in rows:
        sheet.append(list(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)


@pytest.fixture
def spaq_root(tmp_path, write_image) -> Path:
    root = tmp_path / "SPAQ"
    rows = [
        ("00001.jpg", 42.0, 45, 50, 41, 38, 40),
        ("00002.jpg", 90.5, 1, 2, 3, 4, 5),
        ("00003.jpg", 10, 1, 1, 1, 1, 1),
    ]
    _spaq_xlsx(root / "Annotations" / "MOS and Image attribute scores.xlsx", rows)
    for row in rows:
        write_image(root / "TestImage" / row[0])
    return root


def test_spaq_reads_the_xlsx(spaq_root):
    samples = read_spaq(spaq_root)
    assert [x.path.name for x in samples] == ["00001.jpg", "00002.jpg", "00003.jpg"]
    assert [x.score for x in samples] == pytest.approx([0.42, 0.905, 0.10])
    assert samples[1].path == spaq_root / "TestImage" / "00002.jpg"
    assert all(x.group is None for x in samples)


def test_spaq_bad_mos_names_file_and_row(spaq_root):
    _spaq_xlsx(spaq_root / "Annotations" / "MOS and Image attribute scores.xlsx", [("00001.jpg", "n/a")])
    with pytest.raises(DatasetError, match=r"MOS and Image attribute scores\.xlsx, row 2: MOS 'n/a'"):
        read_spaq(spaq_root)


def test_spaq_without_openpyxl_says_how_to_install_it(spaq_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # makes `import openpyxl` raise ImportError
    with pytest.raises(DatasetError, match=r"pip install openpyxl"):
        read_spaq(spaq_root)


# ---------------------------------------------------------------------------------------------- FLIVE


@pytest.fixture
def flive_root(tmp_path, write_image) -> Path:
    root = tmp_path / "FLIVE"
    names = ["AVA__149.jpg", "voc_emotic_ava/VOC2012__2008_000021.jpg", "blur_dataset/motion0112.jpg"]
    for name in names:
        write_image(root / "database" / name)
    lines = ["name,mos,width,height", f"{names[0]},72.5,640,480", f"{names[1]},30,500,375", f"{names[2]},55,1,1"]
    (root / "labels_image.csv").write_text("\n".join(lines) + "\n")
    return root


def test_flive_reads_labels_image_csv_under_database(flive_root):
    samples = read_flive(flive_root)
    assert len(samples) == 3
    assert samples[1].path == flive_root / "database" / "voc_emotic_ava" / "VOC2012__2008_000021.jpg"
    assert [x.score for x in samples] == pytest.approx([0.725, 0.30, 0.55])
    assert all(x.group is None for x in samples)


def test_flive_accepts_the_name_image_mos_image_variant(flive_root):
    (flive_root / "labels_image.csv").write_text("name_image,mos_image\nAVA__149.jpg,64\n")
    (s,) = read_flive(flive_root)
    assert s.score == pytest.approx(0.64)


def test_flive_accepts_names_that_include_the_database_folder(flive_root):
    (flive_root / "labels_image.csv").write_text("name,mos\ndatabase/AVA__149.jpg,64\n")
    (s,) = read_flive(flive_root)
    assert s.path == flive_root / "database" / "AVA__149.jpg"


def test_flive_missing_column_names_file_and_columns(flive_root):
    (flive_root / "labels_image.csv").write_text("file,quality\nAVA__149.jpg,64\n")
    with pytest.raises(DatasetError, match=r"labels_image\.csv has no 'name' or 'name_image' or 'image_name' column"):
        read_flive(flive_root)


# ------------------------------------------------------------------------------------------ generic CSV


@pytest.fixture
def photo_dir(tmp_path, write_image) -> Path:
    folder = tmp_path / "shoot"
    for name in ("a.jpg", "b.jpg", "c.png", "sub/d.jpg"):
        write_image(folder / name)
    return folder


def test_csv_minmax_normalises_and_resolves_paths_against_its_folder(photo_dir):
    table = photo_dir / "ratings.csv"
    table.write_text("path,score\na.jpg,1\nb.jpg,5\nsub/d.jpg,2\n")
    samples = read_csv_table(table)
    assert [x.path for x in samples] == [photo_dir / "a.jpg", photo_dir / "b.jpg", photo_dir / "sub" / "d.jpg"]
    assert [x.score for x in samples] == pytest.approx([0.0, 1.0, 0.25])
    assert all(x.group is None and x.split is None for x in samples)


def test_csv_aliases_group_split_root_and_lower_better(photo_dir, tmp_path):
    table = tmp_path / "elsewhere" / "t.csv"
    table.parent.mkdir()
    table.write_text(f"Image,MOS,Group,Split\na.jpg,10,g1,train\nb.jpg,30,g1,TEST\n{photo_dir / 'c.png'},20,,\n")
    samples = read_csv_table(table, root=photo_dir, lower_better=True)
    assert [x.path for x in samples] == [photo_dir / "a.jpg", photo_dir / "b.jpg", photo_dir / "c.png"]
    assert [x.score for x in samples] == pytest.approx([1.0, 0.0, 0.5])
    assert [x.group for x in samples] == ["g1", "g1", None]
    assert [x.split for x in samples] == ["train", "test", None]


def test_csv_weight_column_counts_training_draws(photo_dir):
    table = photo_dir / "w.csv"
    table.write_text("path,score,weight\na.jpg,1,24\nb.jpg,2,\nc.png,3,1\n")
    assert [x.weight for x in read_csv_table(table)] == [24, 1, 1]
    table.write_text("path,score\na.jpg,1\nb.jpg,2\n")
    assert [x.weight for x in read_csv_table(table)] == [1, 1]
    for bad in ("0", "1.5", "-2", "many"):
        table.write_text(f"path,score,weight\na.jpg,1,1\nb.jpg,2,{bad}\n")
        with pytest.raises(DatasetError, match=rf"w\.csv, line 3: weight '{bad}' must be a whole number of at least 1"):
            read_csv_table(table)


def test_csv_semicolon_delimiter_and_bom(photo_dir):
    table = photo_dir / "excel.csv"
    table.write_text("\ufeffpath;score\na.jpg;2\nb.jpg;4\n", encoding="utf-8")
    assert [x.score for x in read_csv_table(table)] == pytest.approx([0.0, 1.0])


def test_csv_normalise_false_keeps_unit_scores_and_checks_them(photo_dir):
    table = photo_dir / "unit.csv"
    table.write_text("path,score\na.jpg,0.25\nb.jpg,0.75\n")
    assert [x.score for x in read_csv_table(table, normalise=False)] == pytest.approx([0.25, 0.75])
    assert [x.score for x in read_csv_table(table, normalise=False, lower_better=True)] == pytest.approx([0.75, 0.25])
    table.write_text("path,score\na.jpg,0.25\nb.jpg,4\n")
    with pytest.raises(DatasetError, match=r"unit\.csv, line 3: score 4 is outside \[0, 1\]"):
        read_csv_table(table, normalise=False)


def test_csv_constant_scores_cannot_be_minmax_normalised(photo_dir):
    table = photo_dir / "flat.csv"
    table.write_text("path,score\na.jpg,3\nb.jpg,3\n")
    with pytest.raises(DatasetError, match=r"flat\.csv: all 2 scores equal 3"):
        read_csv_table(table)


def test_csv_bad_split_value(photo_dir):
    table = photo_dir / "s.csv"
    table.write_text("path,score,split\na.jpg,1,train\nb.jpg,2,validation\n")
    with pytest.raises(DatasetError, match=r"s\.csv, line 3: split 'validation'"):
        read_csv_table(table)


def test_csv_without_header_names_the_expected_columns(photo_dir):
    table = photo_dir / "noheader.csv"
    table.write_text("a.jpg,1\nb.jpg,2\n")
    with pytest.raises(DatasetError, match=r"noheader\.csv has no 'path' or 'image' column"):
        read_csv_table(table)


def test_csv_short_row_names_line(photo_dir):
    table = photo_dir / "short.csv"
    table.write_text("path,score\na.jpg,1\nb.jpg\n")
    with pytest.raises(DatasetError, match=r"short\.csv, line 3: the row has no 'score'"):
        read_csv_table(table)


def test_csv_header_only_is_an_empty_dataset(photo_dir):
    table = photo_dir / "empty.csv"
    table.write_text("path,score\n")
    with pytest.raises(DatasetError, match=r"no rows below the header of .*empty\.csv"):
        read_csv_table(table)


# ------------------------------------------------------------------------------- errors (all readers)


@pytest.mark.parametrize(
    ("reader", "fixture", "label"),
    [
        (read_koniq10k, "koniq_root", "koniq10k_scores_and_distributions.csv"),
        (read_kadid10k, "kadid_root", "dmos.csv"),
        (read_tid2013, "tid_root", "mos_with_names.txt"),
        (read_livec, "livec_root", "Data/AllImages_release.mat"),
        (read_spaq, "spaq_root", "Annotations/MOS and Image attribute scores.xlsx"),
        (read_flive, "flive_root", "labels_image.csv"),
    ],
)
def test_missing_label_file_names_it(reader, fixture, label, request):
    root = request.getfixturevalue(fixture)
    (root / label).unlink()
    with pytest.raises(DatasetError, match="label file not found") as info:
        reader(root)
    assert str(root / label) in str(info.value)


@pytest.mark.parametrize(
    ("reader", "fixture", "image", "label"),
    [
        (read_koniq10k, "koniq_root", "1024x768/10007357496.jpg", "koniq10k_scores_and_distributions.csv"),
        (read_kadid10k, "kadid_root", "images/I02_03_02.png", "dmos.csv"),
        (read_tid2013, "tid_root", "distorted_images/I25_24_5.bmp", "mos_with_names.txt"),
        (read_livec, "livec_root", "Images/100.bmp", "Data/AllImages_release.mat"),
        (read_spaq, "spaq_root", "TestImage/00003.jpg", "Annotations/MOS and Image attribute scores.xlsx"),
        (read_flive, "flive_root", "database/blur_dataset/motion0112.jpg", "labels_image.csv"),
    ],
)
def test_missing_image_names_image_and_label_file(reader, fixture, image, label, request):
    root = request.getfixturevalue(fixture)
    (root / image).unlink()
    with pytest.raises(DatasetError, match="missing on disk") as info:
        reader(root)
    message = str(info.value)
    assert str(root / label) in message
    assert Path(image).name.lower() in message.lower()  # TID2013 lists names in another case


def test_live_missing_image_and_missing_label_file(tmp_path, write_image, live_arrays):
    dmos, orgs, refs = live_arrays
    root = _live_layout(tmp_path / "live", write_image, dmos, orgs, refs)
    (root / "gblur" / "img3.bmp").unlink()
    with pytest.raises(DatasetError, match=r"1 image\(s\) listed in .*dmos\.mat.*gblur/img3\.bmp"):
        read_live(root)
    (root / "refnames_all.mat").unlink()
    with pytest.raises(DatasetError, match=r"label file not found: .*refnames_all\.mat"):
        read_live(root)


def test_missing_images_are_listed_with_a_count(koniq_root):
    for p in (koniq_root / "1024x768").iterdir():
        p.unlink()
    with pytest.raises(DatasetError, match=r"3 image\(s\) listed"):
        read_koniq10k(koniq_root)


@pytest.mark.parametrize(
    ("reader", "fixture", "label", "text", "expected"),
    [
        (
            read_koniq10k,
            "koniq_root",
            "koniq10k_scores_and_distributions.csv",
            '"image_name","MOS"\n"10004473376.jpg",3.1\n"10007357496.jpg",abc\n',
            r"koniq10k_scores_and_distributions\.csv, line 3: MOS 'abc' is not a finite number",
        ),
        (
            read_kadid10k,
            "kadid_root",
            "dmos.csv",
            "dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,,0.1\n",
            r"dmos\.csv, line 2: dmos '' is not a finite number",
        ),
        (
            read_tid2013,
            "tid_root",
            "mos_with_names.txt",
            "5,1 i01_01_1.bmp\n",
            r"mos_with_names\.txt, line 1: MOS '5,1'",
        ),
        (
            read_flive,
            "flive_root",
            "labels_image.csv",
            "name,mos\nAVA__149.jpg,nan\n",
            r"labels_image\.csv, line 2: mos 'nan' is not a finite number",
        ),
    ],
)
def test_bad_number_names_file_and_line(reader, fixture, label, text, expected, request):
    root = request.getfixturevalue(fixture)
    (root / label).write_text(text)
    with pytest.raises(DatasetError, match=expected):
        reader(root)


def test_empty_label_file_is_an_error(kadid_root, tid_root):
    (kadid_root / "dmos.csv").write_text("dist_img,ref_img,dmos,var\n")
    with pytest.raises(DatasetError, match=r"kadid10k: no images listed in .*dmos\.csv"):
        read_kadid10k(kadid_root)
    (tid_root / "mos_with_names.txt").write_text("\n")
    with pytest.raises(DatasetError, match=r"tid2013: no images listed in .*mos_with_names\.txt"):
        read_tid2013(tid_root)


def test_missing_dataset_folder_and_image_folder(tmp_path, koniq_root):
    with pytest.raises(DatasetError, match=r"live: dataset folder not found: .*nowhere"):
        read_live(tmp_path / "nowhere")
    for p in (koniq_root / "1024x768").iterdir():
        p.unlink()
    (koniq_root / "1024x768").rmdir()
    with pytest.raises(DatasetError, match=r"image folder not found: .*1024x768"):
        read_koniq10k(koniq_root)


def test_missing_column_names_file_column_and_header(kadid_root):
    (kadid_root / "dmos.csv").write_text("dist_img,reference,dmos\nI01_01_01.png,I01.png,4\n")
    with pytest.raises(DatasetError, match=r"dmos\.csv has no 'ref_img' column \(its header has .*'reference'"):
        read_kadid10k(kadid_root)


# ------------------------------------------------------------------------------------ registry, constants


def test_registry_keys_and_dispatch(koniq_root, photo_dir):
    assert list(DATASETS) == ["csv", "koniq10k", "kadid10k", "live", "tid2013", "livec", "spaq", "flive"]
    assert load_dataset("koniq10k", koniq_root) == read_koniq10k(koniq_root)
    assert load_dataset("KonIQ-10k", str(koniq_root)) == read_koniq10k(koniq_root)
    table = photo_dir / "r.csv"
    table.write_text("path,score\na.jpg,1\nb.jpg,2\n")
    assert [s.score for s in load_dataset("csv", None, csv=table)] == [0.0, 1.0]
    assert load_dataset("csv", photo_dir, csv=str(table))[0].path == photo_dir / "a.jpg"


def test_load_dataset_errors(koniq_root, photo_dir):
    with pytest.raises(DatasetError, match=r"unknown dataset 'imagenet'; choose one of: csv, koniq10k, .*flive"):
        load_dataset("imagenet", koniq_root)
    with pytest.raises(DatasetError, match=r"needs the path of the ratings table"):
        load_dataset("csv", photo_dir)
    with pytest.raises(DatasetError, match=r"use dataset 'csv'"):
        load_dataset("koniq10k", koniq_root, csv=photo_dir / "r.csv")
    with pytest.raises(DatasetError, match=r"ratings table not found: .*missing\.csv"):
        load_dataset("csv", None, csv=photo_dir / "missing.csv")


def test_constants():
    assert set(TRAIN_CROPS) == set(DATASETS)
    assert (TRAIN_CROPS["koniq10k"], TRAIN_CROPS["flive"], TRAIN_CROPS["livec"]) == (3, 1, 5)  # the paper's
    assert {"live", "tid2013", "kadid10k"} == SYNTHETIC
    assert set(datasets.SCALES) == set(DATASETS) - {"csv"}
    sizes = {"flive": 39_810, "koniq10k": 10_073, "livec": 1_162, "kadid10k": 10_125, "spaq": 11_125}
    sizes |= {"live": 779, "tid2013": 3_000}
    assert {k: train_crops_for_size(n) for k, n in sizes.items()} == {k: TRAIN_CROPS[k] for k in sizes}


def test_modules_import_neither_torch_nor_qt():
    code = (
        "import sys, trainer.datasets, trainer.splits, trainer.metrics\n"
        "bad = [m for m in ('torch', 'PySide6', 'openpyxl') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_csv_empty_file_or_blank_header(photo_dir):
    table = photo_dir / "blank.csv"
    table.write_text("\n\n")
    with pytest.raises(DatasetError, match=r"blank\.csv is empty \(a header row is required\)"):
        read_csv_table(table)
    table.write_text(" , \na.jpg,1\n")
    with pytest.raises(DatasetError, match=r"blank\.csv has no 'path' or 'image' column"):
        read_csv_table(table)
