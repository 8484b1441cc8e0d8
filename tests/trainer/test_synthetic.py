import csv
import io
import json

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from trainer.datasets import read_csv_table
from trainer.synthetic import (
    DISTORTIONS,
    LEVELS,
    SyntheticError,
    carve_webp,
    distort,
    fr_metrics,
    make_synthetic,
    prepare_pool,
    pseudo_mos,
)


def textured(h=192, w=256, seed=0):
    """A photo-like test image: smooth colour regions, edges and fine texture."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    arr = np.asarray(base).astype(np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    arr += 25 * np.sin(xx / 3.0)[..., None] * (yy > h / 2)[..., None]  # stripes on the lower half
    arr[h // 4 : h // 2, w // 4 : w // 2] = [240, 240, 230]  # a bright block with sharp edges
    return np.clip(arr, 0, 255).astype(np.uint8)


def test_at_least_twenty_types_of_five_levels_shape_kept_and_seeded():
    assert len(DISTORTIONS) >= 20 and LEVELS == 5
    families = {d.family for d in DISTORTIONS.values()}
    assert {"noise", "blur", "compression", "exposure", "colour", "resampling", "contrast"} <= families
    img = textured()
    for name in DISTORTIONS:
        a = distort(img, name, 3, seed=7)
        assert a.shape == img.shape and a.dtype == np.uint8, name
        assert np.array_equal(a, distort(img, name, 3, seed=7)), name
        assert not np.array_equal(a, img), name


def test_every_series_degrades_monotonically_by_the_pseudo_mos(one_torch_thread):
    img = textured(h=176, w=224)  # MS-SSIM needs a side above 160 px
    levels = (1, 3, 5)
    rows, names = [], []
    for name in sorted(DISTORTIONS):
        for level in levels:
            rows.append(fr_metrics(img, distort(img, name, level, seed=1)))
            names.append(name)
    mos = pseudo_mos(rows)
    assert mos.min() >= 0 and mos.max() <= 1
    series = {}
    for name in sorted(DISTORTIONS):
        idx = [i for i, n in enumerate(names) if n == name]
        series[name] = spearmanr(levels, mos[idx]).statistic
    assert np.mean(list(series.values())) <= -0.9, series
    assert all(v <= -0.5 for v in series.values()), series


def test_pseudo_mos_is_the_mean_direction_corrected_rank():
    rows = [
        {
            "ssim": 0.9,
            "gmsd": 0.1,
            "ms_gmsd": 0.1,
            "haarpsi": 0.9,
            "mdsi": 0.1,
            "vsi": 0.9,
        },
        {
            "ssim": 0.5,
            "gmsd": 0.5,
            "ms_gmsd": 0.5,
            "haarpsi": 0.5,
            "mdsi": 0.5,
            "vsi": 0.5,
        },
        {
            "ssim": 0.1,
            "gmsd": 0.9,
            "ms_gmsd": 0.9,
            "haarpsi": 0.1,
            "mdsi": 0.9,
            "vsi": 0.1,
        },
    ]
    assert pseudo_mos(rows).tolist() == [1.0, 0.5, 0.0]


def _webp_bytes(size, colour):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="WEBP")
    return buf.getvalue()


def test_carving_webps_out_of_a_resource_bundle(tmp_path):
    a, b = _webp_bytes((500, 420), (200, 10, 10)), _webp_bytes((40, 40), (0, 0, 0))
    blob = b"qres\x00\x00\x00\x03" + b"\x01" * 100 + a + b"RIFFjunk" + b + b"\x00" * 50
    assert carve_webp(blob) == [a, b]
    rcc = tmp_path / "src" / "photos.rcc"
    rcc.parent.mkdir()
    rcc.write_bytes(blob)
    Image.new("RGB", (900, 600), (10, 200, 10)).save(tmp_path / "src" / "wide.jpg")
    Image.new("RGBA", (900, 600)).save(tmp_path / "src" / "drawing.png")  # transparency: not a photo
    Image.new("RGB", (100, 80)).save(tmp_path / "src" / "tiny.png")  # too small
    pool = prepare_pool([tmp_path / "src"], tmp_path / "pool", min_side=400, short_side=200)
    names = sorted(p.name for p in pool)
    assert names == ["photos_000.png", "wide.png"]
    assert Image.open(tmp_path / "pool" / "wide.png").size == (300, 200)
    with pytest.raises(SyntheticError, match="no usable photos"):
        prepare_pool([tmp_path / "pool" / "wide.png"], tmp_path / "p2", min_side=1000)


def test_make_synthetic_writes_a_csv_the_trainer_reads(tmp_path, one_torch_thread):
    src = tmp_path / "refs"
    src.mkdir()
    for i in range(2):
        Image.fromarray(textured(seed=i)).save(src / f"ref{i}.png")
    out = make_synthetic(src, tmp_path / "out", types=["gaussian_blur", "webp"], levels=2, workers=1)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2
    assert {r["group"] for r in rows} == {"ref0", "ref1"}
    assert {r["distortion"] for r in rows} == {"gaussian_blur", "webp"}
    assert all(0 <= float(r["score"]) <= 1 for r in rows)
    samples = read_csv_table(out)
    assert len(samples) == 8 and all(s.path.is_file() for s in samples)
    assert {s.group for s in samples} == {"ref0", "ref1"}


def test_a_resumed_build_makes_only_what_is_missing_and_equals_a_full_build(tmp_path, one_torch_thread):
    src = tmp_path / "refs"
    src.mkdir()
    for i in range(2):
        Image.fromarray(textured(seed=i)).save(src / f"ref{i}.png")
    full = make_synthetic(src, tmp_path / "full", types=["gaussian_blur", "sensor_noise", "webp"], levels=2, workers=1)
    part = tmp_path / "part"
    make_synthetic(src, part, types=["gaussian_blur", "webp"], levels=2, workers=1)
    kept = part / "images" / "ref0" / "ref0__webp__2.png"
    stamp = kept.stat().st_mtime_ns
    lost = part / "images" / "ref1" / "ref1__gaussian_blur__1.png"
    lost.unlink()  # an image the CSV lists but that is gone is made again
    resumed = make_synthetic(
        src, part, types=["gaussian_blur", "sensor_noise", "webp"], levels=2, workers=1, resume=True
    )
    assert kept.stat().st_mtime_ns == stamp and lost.is_file()
    assert resumed.read_text() == full.read_text()  # same rows, same metrics, same pseudo-MOS ranks

    resumed.write_text("path,score\nimages/x.png,0.5\n")
    with pytest.raises(SyntheticError, match="cannot resume"):
        make_synthetic(src, part, types=["webp"], levels=1, workers=1, resume=True)


def test_with_references_each_photo_is_listed_undamaged_at_the_top_of_its_series(tmp_path, one_torch_thread):
    src = tmp_path / "refs"
    src.mkdir()
    for i in range(2):
        Image.fromarray(textured(seed=i)).save(src / f"ref{i}.png")
    out = make_synthetic(
        src, tmp_path / "out", types=["sensor_noise", "webp"], levels=2, workers=1, references=True, reference_weight=8
    )
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * (1 + 2 * 2)
    assert {r["path"]: r["weight"] for r in rows if r["distortion"] == "none"} == {
        "images/ref0/ref0__none__0.png": "8",
        "images/ref1/ref1__none__0.png": "8",
    }
    assert {r["weight"] for r in rows if r["distortion"] != "none"} == {"1"}
    assert [s.weight for s in read_csv_table(out)] == [int(r["weight"]) for r in rows]  # what loda train reads
    with pytest.raises(SyntheticError, match="needs the references"):
        make_synthetic(src, tmp_path / "x", types=["webp"], levels=1, workers=1, reference_weight=8)
    with pytest.raises(SyntheticError, match="at least 1"):
        make_synthetic(src, tmp_path / "x", types=["webp"], levels=1, workers=1, references=True, reference_weight=0)
    for group in ("ref0", "ref1"):
        own = [r for r in rows if r["group"] == group]
        (ref,) = [r for r in own if r["level"] == "0"]
        assert ref["distortion"] == "none" and float(ref["ssim"]) == 1.0
        with Image.open(out.parent / ref["path"]) as img, Image.open(src / f"{group}.png") as original:
            assert np.array_equal(np.asarray(img), np.asarray(original))
        assert all(float(ref["score"]) > float(r["score"]) for r in own if r is not ref)


def test_sensor_noise_is_milder_than_the_mildest_imagenet_c_noise(one_torch_thread):
    img = textured()
    ssim = [fr_metrics(img, distort(img, "sensor_noise", level))["ssim"] for level in range(1, LEVELS + 1)]
    assert ssim == sorted(ssim, reverse=True)
    assert ssim[0] > 0.9
    assert ssim[-1] >= fr_metrics(img, distort(img, "gaussian_noise", 1))["ssim"]


def test_low_light_is_underexposure_plus_noise_and_ranks_below_it(one_torch_thread):
    img = textured(h=176, w=224)
    for level in (1, 3, 5):
        dark = distort(img, "underexposure", level, seed=4)
        noisy_dark = distort(img, "low_light", level, seed=4)
        assert abs(noisy_dark.astype(float).mean() - dark.astype(float).mean()) < 4  # as dark on average
        assert noisy_dark.astype(float).std() > dark.astype(float).std()  # but grainy
        plain, grainy = fr_metrics(img, dark), fr_metrics(img, noisy_dark)
        assert grainy["ssim"] < plain["ssim"] and grainy["gmsd"] > plain["gmsd"]


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(SyntheticError, match="no such folder"):
        make_synthetic(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SyntheticError, match="no reference photos"):
        make_synthetic(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(SyntheticError, match="unknown distortion"):
        distort(textured(), "sepia", 1)
    with pytest.raises(SyntheticError, match="level"):
        distort(textured(), "webp", 6)


def test_evaluating_predictions_reports_the_series_srcc(tmp_path):
    from trainer.synthetic import evaluate_predictions

    table = tmp_path / "synthetic.csv"
    preds = tmp_path / "test_predictions.csv"
    rows, predictions = [], []
    for group, sign in (("a", 1), ("b", -1)):  # a: the score falls with the level; b: it rises
        for level in range(1, 6):
            path = f"images/{group}/{group}__blur__{level}.png"
            rows.append(f"{path},{1 - level / 10:.2f},{group},blur,{level}")
            predictions.append(f"{tmp_path / path},{group},0,{-sign * level}")
    table.write_text("path,score,group,distortion,level\n" + "\n".join(rows) + "\n")
    preds.write_text("path,group,target,prediction\n" + "\n".join(predictions) + "\n")
    report = evaluate_predictions(table, preds)
    assert report["images"] == 10 and report["references"] == 2 and report["series"] == 2
    assert report["series_srcc"] == pytest.approx(0.0)  # +1 and -1
    assert report["series_srcc_by_type"] == {"blur": 0.0}
    assert np.isfinite(report["srcc"])

    preds.write_text("path,group,target,prediction\n/elsewhere/x.png,a,0,1\n")
    with pytest.raises(SyntheticError, match="not in"):
        evaluate_predictions(table, preds)


def test_evaluating_predictions_separates_photo_offsets_from_ranking_within_photos(tmp_path):
    from trainer.synthetic import evaluate_predictions

    table = tmp_path / "synthetic.csv"
    preds = tmp_path / "test_predictions.csv"
    rows, predictions = [], []
    for group, shift in (("a", 0.0), ("b", 0.5)):  # both rank their own levels right; b's images all score high
        for kind in ("blur", "noise"):
            for level in range(1, 6):
                path = f"images/{group}/{group}__{kind}__{level}.png"
                score = 1 - level / 10 - (0.03 if kind == "noise" else 0) - (0.004 if group == "b" else 0)
                rows.append(f"{path},{score:.3f},{group},{kind},{level}")  # no ties between the photos
                predictions.append(f"{tmp_path / path},{group},0,{score + shift}")
    table.write_text("path,score,group,distortion,level\n" + "\n".join(rows) + "\n")
    preds.write_text("path,group,target,prediction\n" + "\n".join(predictions) + "\n")
    report = evaluate_predictions(table, preds)
    assert report["srcc"] < 0.9  # b's offset mixes the two photos' levels up
    assert report["srcc_without_photo_offsets"] == pytest.approx(1.0)
    assert list(report["by_photo"]) == ["b", "a"]  # most over-scored first
    assert report["by_photo"]["b"]["offset"] > 0 > report["by_photo"]["a"]["offset"]
    assert report["by_photo"]["a"] == {"images": 10, "srcc": 1.0, "offset": report["by_photo"]["a"]["offset"]}
    assert set(report["srcc_by_type"]) == {"blur", "noise"} and report["srcc_by_type"]["blur"] < 0.9
    json.dumps(report, allow_nan=False)  # the report is valid JSON
