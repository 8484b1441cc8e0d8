"""Bursts (loda_desktop.bursts): grouping by capture time and the model's features, like-for-like ranking inside
a burst, the within-noise rule, the catalog fields, best-of-burst as one undoable edit, and ``loda score`` end to
end with a fake scorer (no trained weights)."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFilter

from loda_desktop import bursts
from loda_desktop import engine as engine_module
from loda_desktop.bursts import Frame, assign_bursts, best_of_burst, group_frames, keep_best_of_burst, rank_burst
from loda_desktop.catalog import Catalog
from loda_desktop.culling import Culling
from loda_desktop.engine import Engine
from loda_desktop.settings import Settings
from model.scorer import Region

MODEL = "m"


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def at_similarity(base: np.ndarray, cos: float, axis: int | None = None) -> np.ndarray:
    """A unit vector whose cosine similarity with the unit vector ``base`` is ``cos``, turned towards ``axis``
    (by default the axis ``base`` is least along)."""
    other = np.zeros_like(base)
    other[int(np.argmin(np.abs(base))) if axis is None else axis] = 1.0
    other -= base * float(other @ base)
    other /= np.linalg.norm(other)
    return (cos * base + np.sqrt(1 - cos**2) * other).astype(np.float32)


def frame(name: str, pid: int, score: float = 0.5, **kw) -> Frame:
    return Frame(path=Path("/shoot") / name, photo_id=pid, score=score, **kw)


def names(groups: list[list[Frame]]) -> list[list[str]]:
    return [[f.path.name for f in g] for g in groups]


# -- grouping ----------------------------------------------------------------------------------------------------


def test_frames_close_in_time_and_alike_are_one_burst():
    a = unit(1, 0, 0, 0)
    frames = [
        frame("IMG_1.jpg", 1, time=100.0, embedding=a),
        frame("IMG_2.jpg", 2, time=101.0, embedding=at_similarity(a, 0.97)),
        frame("IMG_3.jpg", 3, time=102.5, embedding=at_similarity(a, 0.95)),
        frame("IMG_4.jpg", 4, time=103.0, embedding=unit(0, 0, 0, 1)),  # in time, but another subject
        frame("IMG_5.jpg", 5, time=103.5, embedding=unit(0, 0, 0.1, 1)),
        frame("IMG_6.jpg", 6, time=200.0, embedding=unit(0, 0, 0.1, 1)),  # alike, but far later
    ]
    assert names(group_frames(frames, similarity=0.90)) == [
        ["IMG_1.jpg", "IMG_2.jpg", "IMG_3.jpg"],
        ["IMG_4.jpg", "IMG_5.jpg"],
    ]
    # the gap and the similarity are settings
    assert names(group_frames(frames, gap_s=0.9, similarity=0.90)) == [["IMG_4.jpg", "IMG_5.jpg"]]
    # (IMG_1 and IMG_2: 0.97; IMG_2 and IMG_3: 0.999; IMG_4, IMG_5 and IMG_6: 0.995)
    expected = [["IMG_2.jpg", "IMG_3.jpg"], ["IMG_4.jpg", "IMG_5.jpg", "IMG_6.jpg"]]
    assert names(group_frames(frames, gap_s=200.0, similarity=0.99)) == expected


def test_shooting_order_is_capture_time_then_name_and_a_single_frame_is_no_burst():
    a = unit(1, 1, 0, 0)
    frames = [  # listed out of order; two frames share a second (a camera without sub-seconds)
        frame("IMG_10.jpg", 3, time=51.0, embedding=a),
        frame("IMG_9.jpg", 2, time=51.0, embedding=a),
        frame("IMG_8.jpg", 1, time=50.0, embedding=a),
        frame("lone.jpg", 4, time=10.0, embedding=a),
    ]
    assert names(group_frames(frames, similarity=0.90)) == [["IMG_8.jpg", "IMG_9.jpg", "IMG_10.jpg"]]


def test_without_embeddings_frames_group_by_capture_time_alone():
    frames = [frame("a.jpg", 1, time=0.0), frame("b.jpg", 2, time=1.5), frame("c.jpg", 3, time=5.0)]
    assert names(group_frames(frames, similarity=0.90)) == [["a.jpg", "b.jpg"]]
    # one frame with an embedding and one without: the pair is decided by time too
    frames[1] = dataclasses.replace(frames[1], embedding=unit(1, 0))
    assert names(group_frames(frames, similarity=0.90)) == [["a.jpg", "b.jpg"]]


def test_copies_without_exif_group_by_name_and_a_stricter_similarity():
    a = unit(1, 0, 0, 0)
    frames = [
        frame("copy_1.png", 1, embedding=a),
        frame("copy_2.png", 2, embedding=at_similarity(a, 0.97, axis=1)),  # above the strict 0.95
        # 0.97 x 0.94 = 0.912 from copy_2: enough with capture times, not without
        frame("copy_3.png", 3, embedding=at_similarity(a, 0.94, axis=2)),
        frame("other_1.png", 4, embedding=unit(0, 1, 0, 0)),
        frame("other_2.png", 5),  # no embedding and no time: nothing links it
        frame("timed.jpg", 6, time=0.0, embedding=a),  # never joins an untimed frame
    ]
    assert bursts.strict_similarity(0.90) == pytest.approx(0.95)
    assert names(group_frames(frames, similarity=0.90)) == [["copy_1.png", "copy_2.png"]]
    timed = [dataclasses.replace(f, time=float(i)) for i, f in enumerate(frames[:3])]
    assert names(group_frames(timed, similarity=0.90)) == [["copy_1.png", "copy_2.png", "copy_3.png"]]


# -- ranking -------------------------------------------------------------------------------------------------------


def regions(*scores: float, size: int = 224, shift: int = 0) -> tuple[tuple[int, int, int, float], ...]:
    """Regions on a row of ``size`` squares (x = i * size + shift), with these scores."""
    return tuple((i * size + shift, 100 + shift, size, float(s)) for i, s in enumerate(scores))


def test_frames_rank_on_the_positions_common_to_all_of_them():
    # b has the best combined score and a high-scoring region the others lack (a different subject there):
    # only the three positions every frame has count, and on those a is sharper
    a = frame("a.jpg", 1, score=0.50, size=(1000, 800), regions=regions(0.70, 0.66, 0.71))
    b = frame(
        "b.jpg", 2, score=0.60, size=(1000, 800), regions=(*regions(0.60, 0.58, 0.62, shift=3), (0, 500, 224, 0.99))
    )
    c = frame("c.jpg", 3, score=0.55, size=(1000, 800), regions=regions(0.50, 0.52, 0.49, shift=-5))
    ranking = rank_burst([c, b, a])
    assert [f.path.name for f in ranking.frames] == ["a.jpg", "b.jpg", "c.jpg"]
    assert (ranking.method, ranking.positions, ranking.tie) == ("regions", 3, False)


def test_frames_without_common_positions_are_scored_again_at_the_reference_boxes():
    # the frame with the most regions is the reference; the others are scored again at its boxes
    ref = frame("a.jpg", 1, score=0.40, size=(2000, 1500), regions=regions(0.70, 0.72, 0.69))
    other = frame("b.jpg", 2, score=0.60, size=(2000, 1500), regions=((900, 900, 224, 0.9), (1200, 900, 224, 0.9)))
    calls = []

    def rescore(path, boxes):
        calls.append((path.name, list(boxes)))
        return [0.50, 0.51, 0.49]

    ranking = rank_burst([other, ref], rescore)
    assert calls == [("b.jpg", [(0, 100, 224), (224, 100, 224), (448, 100, 224)])]
    assert [f.path.name for f in ranking.frames] == ["a.jpg", "b.jpg"]
    assert (ranking.method, ranking.positions, ranking.tie) == ("rescored", 3, False)
    # without a way to score them again, the combined score decides
    assert [f.path.name for f in rank_burst([other, ref]).frames] == ["b.jpg", "a.jpg"]
    # nor is a rescore that answers the wrong number of scores trusted
    assert rank_burst([other, ref], lambda p, boxes: [0.1]).method == "score"


def test_small_photos_and_resized_copies_rank_by_their_combined_score():
    small = frame("small.jpg", 1, score=0.7, size=(300, 200))  # too small for detail crops: no regions
    big = frame("big.jpg", 2, score=0.6, size=(3000, 2000), regions=regions(0.9, 0.9))
    ranking = rank_burst([big, small])
    assert [f.path.name for f in ranking.frames] == ["small.jpg", "big.jpg"] and ranking.method == "score"
    half = frame("half.jpg", 3, score=0.65, size=(1500, 1000), regions=regions(0.1, 0.1))  # same boxes, other pixels
    assert rank_burst([big, half]).method == "score"


@pytest.mark.parametrize(
    ("best", "second", "tie"),
    [
        ((0.700, 0.700, 0.700, 0.700), (0.696, 0.696, 0.696, 0.696), True),  # 0.004 everywhere: below the floor
        ((0.710, 0.710, 0.710, 0.710), (0.700, 0.700, 0.700, 0.700), False),  # 0.010 everywhere: clear
        ((0.80, 0.62, 0.75, 0.63), (0.60, 0.70, 0.61, 0.71), True),  # +0.04 on average, but ±0.11 per position
        ((0.75, 0.72, 0.77, 0.74), (0.70, 0.68, 0.71, 0.70), False),  # +0.0475, every position agrees
        ((0.77, 0.69, 0.77, 0.69), (0.70, 0.70, 0.70, 0.70), True),  # +0.03: over one standard error, not two
    ],
)
def test_within_noise_is_the_mean_paired_difference_below_max_floor_and_two_standard_errors(best, second, tie):
    a = frame("a.jpg", 1, size=(1000, 800), regions=regions(*best))
    b = frame("b.jpg", 2, size=(1000, 800), regions=regions(*second))
    ranking = rank_burst([b, a])
    assert ranking.frames[0].path.name == "a.jpg" and ranking.tie is tie
    d = np.subtract(best, second)
    assert tie == (d.mean() < max(bursts.MIN_DIFFERENCE, 2 * d.std(ddof=1) / np.sqrt(len(d))))


def test_ranked_by_combined_score_a_tie_is_a_difference_below_the_floor():
    a, b = frame("a.jpg", 1, score=0.503), frame("b.jpg", 2, score=0.500)
    assert rank_burst([b, a]).tie is True
    assert rank_burst([b, dataclasses.replace(a, score=0.51)]).tie is False


# -- the catalog ---------------------------------------------------------------------------------------------------


def make_files(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(names):
        p = folder / name
        p.write_bytes(b"x" * (i + 1))
        out.append(p)
    return out


def emb(v: np.ndarray) -> bytes:
    return v.astype("<f2").tobytes()


@pytest.fixture
def shoot(tmp_path):
    """A cataloged shoot: a burst of three (timed, alike) with detail regions, and a lone photo."""
    files = make_files(tmp_path / "shoot", ["IMG_1.jpg", "IMG_2.jpg", "IMG_3.jpg", "IMG_4.jpg"])
    a = unit(1, 0, 0, 0)
    cat = Catalog(tmp_path / "c.sqlite3")
    cat.add_photos(files)
    details = [(0.70, 0.72, 0.69), (0.50, 0.52, 0.49), (0.60, 0.62, 0.59)]
    for i, (path, det) in enumerate(zip(files[:3], details, strict=True)):
        cat.set_capture_time(path, f"2024-05-01T10:00:0{i}+02:00")
        cat.put_score(
            path,
            MODEL,
            0.5,
            width=1000,
            height=800,
            detail=float(np.mean(det)),
            regions=regions(*det),
            embedding=emb(a),
        )
    cat.set_capture_time(files[3], "2024-05-01T10:00:03+02:00")
    cat.put_score(files[3], MODEL, 0.9, embedding=emb(unit(0, 1, 0, 0)))
    yield cat, files
    cat.close()


def test_assign_bursts_stores_burst_rank_and_tie_and_best_of_burst_reads_them(shoot):
    cat, files = shoot
    summary = assign_bursts(cat, MODEL, files)
    assert (summary.bursts, summary.frames, summary.ties) == (1, 3, 0)
    assert summary.describe() == "1 burst of 3 frames; none within noise"
    ids = cat.photo_ids(files)
    stored = [cat.get(p, MODEL)[1] for p in files]
    assert [(s.burst, s.burst_rank, s.burst_tie) for s in stored] == [
        (ids[str(files[0])], 1, False),
        (ids[str(files[0])], 3, False),
        (ids[str(files[0])], 2, False),
        (None, None, False),
    ]
    assert best_of_burst(cat, files[1], MODEL) == ([files[0]], [files[2], files[1]])
    assert best_of_burst(cat, files[3], MODEL) == ([], [])  # in no burst
    assert best_of_burst(cat, files[0], "other-model") == ([], [])


def test_best_of_burst_is_one_undoable_edit(shoot):
    cat, files = shoot
    assign_bursts(cat, MODEL, files)
    cat.set_flag([files[1]], "pick")
    culling = Culling(cat)
    edit = keep_best_of_burst(culling, files[2], MODEL)
    assert edit is not None and len(cat.edits()) == 1
    assert [cat.get(p)[0].flag for p in files] == ["pick", "reject", "reject", None]
    assert culling.undo().restored == {str(files[1]): "pick", str(files[2]): None, str(files[0]): None}
    assert [cat.get(p)[0].flag for p in files] == [None, "pick", None, None]
    assert keep_best_of_burst(culling, files[3], MODEL) is None  # no burst: nothing to do


def test_a_burst_that_has_not_changed_keeps_its_ranks_and_a_rescored_frame_is_ranked_again(shoot):
    cat, files = shoot
    # regions with no position in common: the other frames are scored again at the reference's boxes
    cat.put_score(
        files[1], MODEL, 0.5, width=1000, height=800, regions=[(700, 500, 224, 0.9)], embedding=emb(unit(1, 0, 0, 0))
    )
    cat.put_score(
        files[2], MODEL, 0.5, width=1000, height=800, regions=[(700, 0, 224, 0.9)], embedding=emb(unit(1, 0, 0, 0))
    )
    calls = []

    def rescore(path, boxes):
        calls.append(Path(path).name)
        return [0.80, 0.80, 0.80] if Path(path) == files[2] else [0.60, 0.60, 0.60]

    summary = assign_bursts(cat, MODEL, files, rescore=rescore)
    assert sorted(calls) == ["IMG_2.jpg", "IMG_3.jpg"] and summary.rescored == 2
    assert [cat.get(p, MODEL)[1].burst_rank for p in files[:3]] == [2, 3, 1]
    calls.clear()
    assert assign_bursts(cat, MODEL, files, rescore=rescore).bursts == 1
    assert calls == []  # nothing changed: nothing scored again
    cat.put_score(
        files[0], MODEL, 0.5, width=1000, height=800, regions=[(700, 500, 224, 0.9)], embedding=emb(unit(1, 0, 0, 0))
    )
    assert cat.get(files[0], MODEL)[1].burst is None  # a new score: its burst is decided again
    assign_bursts(cat, MODEL, files, rescore=rescore)
    assert calls  # ranked again


def put_apart(cat: Catalog, paths: list[Path], scores: list[float], embedding: np.ndarray) -> None:
    """Scores whose single regions share no position (the first frame's is elsewhere): ranking has to score the
    other frames again at the first one's box."""
    for i, (p, score) in enumerate(zip(paths, scores, strict=True)):
        box = (700, 500 if i == 0 else 0, 224, 0.9)
        cat.put_score(p, MODEL, score, width=1000, height=800, regions=[box], embedding=emb(embedding))


def test_a_frame_that_cannot_be_read_again_ranks_its_burst_by_the_combined_score(shoot):
    from model.preprocess import ImageDecodeError

    cat, files = shoot
    put_apart(cat, files[:3], [0.4, 0.6, 0.5], unit(1, 0, 0, 0))

    def unreadable(path, boxes):
        raise ImageDecodeError("the file is damaged")

    assert assign_bursts(cat, MODEL, files, rescore=unreadable).bursts == 1
    assert [cat.get(p, MODEL)[1].burst_rank for p in files[:3]] == [3, 1, 2]


def test_a_model_that_cannot_score_regions_is_not_tried_again_for_every_burst(shoot, tmp_path):
    cat, files = shoot
    second = make_files(tmp_path / "second", ["a.png", "b.png"])  # copies without EXIF: a second burst
    cat.add_photos(second)
    put_apart(cat, files[:3], [0.4, 0.6, 0.5], unit(1, 0, 0, 0))
    put_apart(cat, second, [0.3, 0.7], unit(0, 0, 1, 0))
    calls = []

    def broken(path, boxes):
        calls.append(path)
        raise RuntimeError("the model cannot be loaded")

    summary = assign_bursts(cat, MODEL, [*files, *second], rescore=broken)
    assert (summary.bursts, len(calls)) == (2, 1)  # the first failure stops rescoring for the run
    assert [cat.get(p, MODEL)[1].burst_rank for p in [*files[:3], *second]] == [3, 1, 2, 2, 1]


def test_embeddings_come_back_as_stored(shoot):
    cat, files = shoot
    got = cat.embeddings(files, MODEL)
    assert set(got) == {str(p) for p in files}
    assert np.frombuffer(got[str(files[3])], "<f2").tolist() == [0.0, 1.0, 0.0, 0.0]
    assert cat.embeddings(files, "other") == {}


# -- the engine and `loda score`, with a fake scorer ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FakeScore:
    """What ``model.scorer.ImageScore`` carries (the shared contract of issue 21)."""

    source: str
    score: float | None = None
    spread: float | None = None
    error: str | None = None
    error_kind: str = "decode"
    global_score: float | None = None
    detail: float | None = None
    regions: tuple[Region, ...] = ()
    width: int | None = None
    height: int | None = None
    embedding: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class FakeScorer:
    """Scores sharpness: a region's detail score is its mean gradient; the embedding is an 8x8 thumbnail (zero
    mean), so the frames of one scene are alike and two scenes are not. Photos under 400 px: no detail crops."""

    BOXES = ((0, 0, 128), (128, 0, 128), (0, 128, 128), (128, 128, 128))

    def __init__(self) -> None:
        self.rescored: list[str] = []

    def describe(self) -> str:
        return "fake"

    @staticmethod
    def _sharpness(img: np.ndarray, box) -> float:
        x, y, s = box
        patch = img[y : y + s, x : x + s]
        return float(np.abs(np.diff(patch, axis=1)).mean() / 64)

    def _score(self, path: Path) -> FakeScore:
        with Image.open(path) as im:
            gray = np.asarray(im.convert("L"), dtype=np.float32)
            thumb = np.asarray(im.convert("L").resize((8, 8), Image.Resampling.BOX), dtype=np.float32).ravel()
        thumb = (thumb - thumb.mean()) / (np.linalg.norm(thumb - thumb.mean()) or 1.0)
        height, width = gray.shape
        regions = ()
        if min(width, height) >= 400:
            regions = tuple(Region(*box, self._sharpness(gray, box)) for box in self.BOXES)
        detail = float(np.mean([r.score for r in regions])) if regions else None
        global_score = 0.5 + 0.01 * float(gray.std() / 64)
        score = global_score if detail is None else (global_score + detail) / 2
        return FakeScore(
            str(path),
            score=score,
            spread=0.01,
            global_score=global_score,
            detail=detail,
            regions=regions,
            width=width,
            height=height,
            embedding=thumb.astype("<f2").tobytes(),
        )

    def iter_scores(self, paths):
        for i, path in enumerate(paths):
            yield i, self._score(Path(path))

    def score_regions(self, path, boxes):
        self.rescored.append(Path(path).name)
        with Image.open(path) as im:
            gray = np.asarray(im.convert("L"), dtype=np.float32)
        return [self._sharpness(gray, box) for box in boxes]


def scene(seed: int, size=(640, 480)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    coarse = rng.integers(0, 256, size=(h // 40, w // 40, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    texture = rng.integers(-40, 41, size=(h, w, 1), dtype=np.int16)
    return Image.fromarray(np.clip(base + texture, 0, 255).astype(np.uint8))


def save(img: Image.Image, path: Path, when: str | None = None) -> Path:
    exif = Image.Exif()
    if when:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = when
    img.save(path, quality=95, exif=exif)
    return path


@pytest.fixture
def fake_scorer(monkeypatch):
    scorer = FakeScorer()
    monkeypatch.setattr(engine_module.Engine, "_create_scorer", lambda self: scorer)
    return scorer


def test_the_engine_saves_every_part_of_a_score_and_reports_them_from_the_catalog(tmp_path, fake_scorer):
    folder = tmp_path / "s"
    folder.mkdir()
    big = save(scene(1), folder / "big.jpg")
    small = save(scene(2, size=(320, 240)), folder / "small.jpg")
    engine = Engine(Settings(crops=2), catalog_path=tmp_path / "c.sqlite3")
    first = []
    engine.score_paths([big, small], on_result=first.append)
    again = []
    engine.score_paths([big, small], on_result=again.append)
    assert [r.cached for r in again] == [True, True]
    for fresh, cached in zip(first, again, strict=True):
        assert cached.score == pytest.approx(fresh.score) and cached.detail == fresh.detail
        assert (cached.global_score, cached.width, cached.height) == (fresh.global_score, fresh.width, fresh.height)
        assert [r[:3] for r in cached.regions] == [r[:3] for r in fresh.regions]
        assert [r[3] for r in cached.regions] == pytest.approx([r[3] for r in fresh.regions])
    assert (
        first[0].detail is not None and len(first[0].regions) == 4 and (first[0].width, first[0].height) == (640, 480)
    )
    assert first[1].detail is None and first[1].regions == () and first[1].score == first[1].global_score
    with Catalog(tmp_path / "c.sqlite3") as cat:
        assert set(cat.embeddings([big, small], engine.model_key)) == {str(big), str(small)}
    assert engine.score_regions(big, [(0, 0, 64)]) == [
        pytest.approx(FakeScorer._sharpness(np.asarray(Image.open(big).convert("L"), dtype=np.float32), (0, 0, 64)))
    ]


def test_the_model_key_names_the_detail_crops_unless_they_are_off():
    on = Engine(Settings(crops=3, detail_crops=4)).model_key
    off = Engine(Settings(crops=3, detail_crops=0)).model_key
    assert on.endswith("|crops=3|detail=4") and off.endswith("|crops=3")  # off: the key catalogs had before


def test_settings_for_detail_crops_and_bursts():
    s = Settings()
    assert (s.detail_crops, s.burst_gap_s, s.burst_similarity) == (4, 2.0, bursts.BURST_SIMILARITY)
    assert Settings(detail_crops=0).detail_crops == 0
    for bad in ({"detail_crops": -1}, {"burst_similarity": 1.5}, {"burst_gap_s": float("nan")}, {"burst_gap_s": "2"}):
        with pytest.raises(ValueError):
            Settings(**bad)
    loaded = Settings.from_dict({"burst_gap_s": 3, "burst_similarity": 0.8, "detail_crops": 2})
    assert (loaded.burst_gap_s, loaded.burst_similarity, loaded.detail_crops) == (3.0, 0.8, 2)
    assert isinstance(loaded.burst_gap_s, float)


def test_loda_score_writes_detail_burst_and_burst_rank(tmp_path, fake_scorer, capsys):
    """A timed burst of three (the sharp original and two blurred takes), untimed copies of another scene, a
    photo shot in the same seconds of a third scene, and a small photo: the original ranks first."""
    from loda_desktop.cli import main

    folder = tmp_path / "shoot"
    folder.mkdir()
    original = scene(1)
    burst = [
        save(original.filter(ImageFilter.GaussianBlur(1.5)), folder / "IMG_0001.jpg", "2024:05:01 10:00:00"),
        save(original, folder / "IMG_0002.jpg", "2024:05:01 10:00:01"),
        save(original.filter(ImageFilter.GaussianBlur(0.8)), folder / "IMG_0003.jpg", "2024:05:01 10:00:02"),
    ]
    other = save(scene(3), folder / "IMG_0004.jpg", "2024:05:01 10:00:03")  # in time, another subject
    copies = [
        save(scene(2), folder / "copy_a.jpg"),
        save(scene(2).filter(ImageFilter.GaussianBlur(1.0)), folder / "copy_b.jpg"),
    ]
    small = save(scene(4, size=(320, 240)), folder / "small.jpg")
    out = tmp_path / "ranking.csv"
    assert main(["score", str(folder), "--csv", str(out), "--crops", "2"]) == 0
    err = capsys.readouterr().err
    assert "2 bursts of 2–3 frames; none within noise" in err
    with out.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames[-3:] == ["detail", "burst", "burst_rank"]
        rows = {Path(r["path"]).name: r for r in reader}
    with Catalog() as cat:
        ids = cat.photo_ids([*burst, copies[0]])
    first = str(ids[str(burst[0])])
    assert [(rows[p.name]["burst"], rows[p.name]["burst_rank"]) for p in burst] == [
        (first, "3"),
        (first, "1"),
        (first, "2"),
    ]
    assert [rows[p.name]["burst_rank"] for p in copies] == ["1", "2"]
    assert rows[copies[0].name]["burst"] == str(ids[str(copies[0])])
    assert (rows[other.name]["burst"], rows[small.name]["burst"]) == ("", "")
    assert rows[small.name]["detail"] == "" and float(rows[other.name]["detail"]) > 0
    assert fake_scorer.rescored == []  # the frames share their regions: nothing scored again
    capsys.readouterr()
    assert main(["score", str(folder), "--csv", "-", "--crops", "2"]) == 0  # from the catalog: the same bursts
    again = {Path(r["path"]).name: r for r in csv.DictReader(capsys.readouterr().out.splitlines())}
    assert [again[p.name]["burst_rank"] for p in burst] == ["3", "1", "2"]
