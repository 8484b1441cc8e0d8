"""Bursts and the quality map through the real window: a folder scored by a scorer that reads its answers from
the file names (no network), grouped into bursts by :mod:`loda_desktop.bursts` in the scoring thread; stacks
collapse and expand (S), the best-of-burst key (B) is one Ctrl+Z, a tie is said, the map (M) paints the crops
where they are at fit and at 100 %, and a second window on the same catalog still shows the bursts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt, QThread

from loda_desktop.catalog import Catalog
from loda_desktop.engine import Engine
from loda_desktop.ui.items import NOISE_TEXT
from loda_desktop.ui.models import Column, Role
from model.scorer import ImageScore, Region

from .conftest import SCORE_TIMEOUT_MS, drop
from .test_window import by_name, key, open_window

SIZE = (1600, 1064)
BOXES = [(x, y, 224) for y in (180, 620) for x in (200, 688, 1176)]
# per-position detail scores: burst "a" has a clear best frame (a2), burst "b" two frames within noise
DETAIL = {
    "a1": [0.30, 0.42, 0.40, 0.38, 0.41, 0.45],
    "a2": [0.58, 0.66, 0.60, 0.70, 0.61, 0.59],
    "a3": [0.50, 0.52, 0.49, 0.51, 0.50, 0.48],
    "b1": [0.500, 0.510, 0.490, 0.500, 0.520, 0.480],
    "b2": [0.501, 0.511, 0.491, 0.501, 0.521, 0.481],
    "sky": [0.55, 0.56, 0.57, 0.58, 0.59, 0.60],
}
SCENE = {"a": 0, "b": 1, "sky": 2, "small": 3}  # one embedding direction per scene: a burst is one scene


def embedding(scene: int) -> bytes:
    vector = np.zeros(8, dtype="<f2")
    vector[scene] = 1.0
    return vector.tobytes()


class NamedScorer:
    """Answers from the file's name: the scores of :data:`DETAIL`, one embedding per scene; ``small`` is too
    small for detail crops."""

    def describe(self) -> str:
        return "named test scorer"

    def iter_scores(self, sources, *, prefetch=None):
        for index, source in enumerate(sources):
            yield index, self.one(str(source))

    @staticmethod
    def one(source: str) -> ImageScore:
        stem = source.rsplit("/", 1)[-1].split(".")[0]
        scene = SCENE["sky" if stem == "sky" else "small" if stem == "small" else stem[0]]
        if stem == "small":
            return ImageScore(source, 0.45, 0.01, global_score=0.45, width=200, height=150, embedding=embedding(scene))
        scores = DETAIL[stem]
        regions = tuple(Region(x, y, s, v) for (x, y, s), v in zip(BOXES, scores, strict=True))
        detail = float(np.mean(scores))
        return ImageScore(
            source,
            (0.5 + detail) / 2,
            0.01,
            global_score=0.5,
            detail=detail,
            regions=regions,
            width=SIZE[0],
            height=SIZE[1],
            embedding=embedding(scene),
        )

    def score_regions(self, source, boxes):
        by_box = {(r.x, r.y, r.size): r.score for r in self.one(str(source)).regions}
        return [by_box[tuple(b)] for b in boxes]


@pytest.fixture
def bursts(tmp_path, monkeypatch):
    """Two bursts (a1–a3; b1–b2, within noise) and two single photos, flat grey (the map's colours show)."""
    folder = tmp_path / "bursts"
    folder.mkdir()
    for i, name in enumerate(["a1", "a2", "a3", "b1", "b2", "sky"]):
        Image.new("RGB", SIZE, (120 + i, 120, 120)).save(folder / f"{name}.jpg", quality=90)
    Image.new("RGB", (200, 150), (90, 90, 90)).save(folder / "small.png")
    monkeypatch.setattr(Engine, "_create_scorer", lambda self: NamedScorer())
    return folder


def scored(qtbot, folder, *, size=(1280, 820)):
    window = open_window(qtbot)
    window.resize(*size)
    window.sort_by("Name")
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS):
        drop(window, [folder])
    return window


def shown(window) -> list[str]:
    return [it.name.split(".")[0] for it in window.proxy.visible_items()]


def test_bursts_are_grouped_in_the_scoring_thread_and_stack(qtbot, bursts, monkeypatch):
    threads = []
    real = Engine.assign_bursts

    def spy(self, paths):
        threads.append(QThread.currentThread().objectName())
        return real(self, paths)

    monkeypatch.setattr(Engine, "assign_bursts", spy)
    window = scored(qtbot, bursts)
    assert threads == ["loda-scoring"]  # never the UI thread
    items = {name.split(".")[0]: it for name, it in by_name(window).items()}
    a, b = items["a1"].burst, items["b1"].burst
    assert a is not None and b is not None and a != b
    assert [items[n].burst for n in ("a2", "a3", "b2")] == [a, a, b]
    assert items["sky"].burst is None and items["small"].burst is None
    assert {n: items[n].burst_rank for n in ("a1", "a2", "a3", "b1", "b2")} == {
        "a1": 3,
        "a2": 1,
        "a3": 2,
        "b1": 2,
        "b2": 1,
    }
    assert not items["a2"].burst_tie and items["b1"].burst_tie and items["b2"].burst_tie
    assert "2 bursts" in window.statusBar().currentMessage()  # what grouping found, after the scoring summary

    # the table: the Detail and Burst columns
    model = window.model
    row = model.row_of(items["a1"].path)
    assert model.index(row, Column.DETAIL).data() == f"{np.mean(DETAIL['a1']):.3f}"
    assert model.index(row, Column.BURST).data() == f"{a} · 3/3"
    assert model.index(model.row_of(items["b2"].path), Column.BURST).data() == f"{b} · 1/2 · {NOISE_TEXT}"
    assert model.index(model.row_of(items["sky"].path), Column.BURST).data() == ""
    assert model.headerData(Column.BURST, Qt.Orientation.Horizontal) == "Burst"

    # S stacks: each burst as its best frame, which stays current when a frame of it was
    assert shown(window) == ["a1", "a2", "a3", "b1", "b2", "sky", "small"]
    window.select_path(items["a3"].path)
    key(window, Qt.Key.Key_S)
    assert window.stacks_action.isChecked() and window.proxy.stacks
    assert shown(window) == ["a2", "b2", "sky", "small"]
    assert window.current_item() is items["a2"]
    info = window.proxy.index(0, 0).data(Role.Burst)
    assert (info.frames, info.lead, info.tie) == (3, True, False)
    assert window.proxy.index(1, 0).data(Role.Burst).tie
    assert "2 bursts of 5 frames" in window.statusBar().currentMessage()
    assert window.grid_delegate.stacked
    window.grid.grab()  # the stack pills paint
    # the loupe steps from stack to stack
    key(window, Qt.Key.Key_Return)
    window.loupe.step.emit(1)
    assert window.current_item() is items["b2"]
    key(window, Qt.Key.Key_Escape)

    # S again: every frame, and the loupe steps through the frames of a burst
    key(window, Qt.Key.Key_S)
    assert not window.proxy.stacks and shown(window) == ["a1", "a2", "a3", "b1", "b2", "sky", "small"]
    window.select_path(items["a1"].path)
    key(window, Qt.Key.Key_Return)
    window.loupe.step.emit(1)
    assert window.current_item() is items["a2"]
    assert "frame 1 of 3" in window.loupe.info.text()
    window.close()


def test_best_of_burst_is_one_undoable_edit_and_a_tie_is_said(qtbot, bursts):
    window = scored(qtbot, bursts)
    items = {name.split(".")[0]: it for name, it in by_name(window).items()}
    window.select_path(items["a3"].path)
    key(window, Qt.Key.Key_P)  # a flag set before, which undo must give back
    assert items["a3"].flag == "pick"

    window.select_path(items["a1"].path)
    key(window, Qt.Key.Key_B)
    flags = {n: items[n].flag for n in ("a1", "a2", "a3")}
    assert flags == {"a1": "reject", "a2": "pick", "a3": "reject"}
    assert window.current_item() is items["a2"]  # the frame kept
    assert "Kept a2.jpg" in window.statusBar().currentMessage()
    assert NOISE_TEXT not in window.statusBar().currentMessage()
    with Catalog() as catalog:
        assert {
            p.path.stem: p.flag for p, _ in catalog.rows([items[n].path for n in ("a1", "a2", "a3")], None)
        } == flags
    assert items["b1"].flag is None  # the other burst is untouched

    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # ONE undo gives every frame its flag back
    assert {n: items[n].flag for n in ("a1", "a2", "a3")} == {"a1": None, "a2": None, "a3": "pick"}
    with Catalog() as catalog:
        assert [p.flag for p, _ in catalog.rows([items[n].path for n in ("a1", "a2", "a3")], None)] == [
            None,
            None,
            "pick",
        ]

    # a burst within noise: reaching it says so, and B still works but says it is no clear winner
    window.select_path(items["sky"].path)
    window.select_path(items["b1"].path)
    assert NOISE_TEXT in window.statusBar().currentMessage()
    key(window, Qt.Key.Key_B)
    assert (items["b1"].flag, items["b2"].flag) == ("reject", "pick")
    message = window.statusBar().currentMessage()
    assert message.startswith("Frames within noise: kept b2.jpg"), message

    # without a model (it failed to load) the ranks the folder listed with decide, the same way
    window.engine_info = None
    window.select_path(items["a3"].path)
    key(window, Qt.Key.Key_B)
    assert {n: items[n].flag for n in ("a1", "a2", "a3")} == {"a1": "reject", "a2": "pick", "a3": "reject"}
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {n: items[n].flag for n in ("a1", "a2", "a3")} == {"a1": None, "a2": None, "a3": "pick"}

    # a photo in no burst: nothing changes
    window.select_path(items["sky"].path)
    key(window, Qt.Key.Key_B)
    assert items["sky"].flag is None and "not in a burst" in window.statusBar().currentMessage()
    window.close()


def _pixel(canvas, point: QPointF):
    image = canvas.grab().toImage()
    colour = image.pixelColor(round(point.x()), round(point.y()))
    return colour.red(), colour.green(), colour.blue()


def _region_rect(canvas, item, index):
    photo = canvas.photo_rect()
    x, y, side, _ = item.regions[index]
    sx, sy = photo.width() / item.width, photo.height() / item.height
    return photo.left() + x * sx, photo.top() + y * sy, side * sx, side * sy


def test_the_quality_map_paints_each_crop_where_it_is(qtbot, bursts):
    window = scored(qtbot, bursts)
    items = {name.split(".")[0]: it for name, it in by_name(window).items()}
    window.select_path(items["a1"].path)
    key(window, Qt.Key.Key_Return)
    canvas = window.loupe.canvas
    qtbot.waitUntil(lambda: window.loupe.exif is not None, timeout=10_000)  # the preview is in
    qmap = window.views.quality_map
    left, top, side, _ = _region_rect(canvas, items["a1"], 0)  # a1's first crop: the burst's softest, red
    inside = QPointF(left + side * 0.2, top + side * 0.2)
    before = _pixel(canvas, inside)
    assert abs(before[0] - before[1]) < 12 and qmap.painted_on(canvas) is None  # grey, no map

    key(window, Qt.Key.Key_M)
    assert window.quality_map_action.isChecked()
    red = _pixel(canvas, inside)
    assert red[0] > red[1] + 30, red
    assert qmap.painted_on(canvas).regions == 6
    # colours span the burst: a2's best crop is the burst's sharpest, green
    window.loupe.step.emit(1)
    assert window.current_item() is items["a2"]
    qtbot.waitUntil(lambda: window.loupe.exif is not None, timeout=10_000)
    left, top, side, _ = _region_rect(canvas, items["a2"], 3)
    green = _pixel(canvas, QPointF(left + side * 0.2, top + side * 0.2))
    assert green[1] > green[0] + 30, green
    assert qmap.painted_on(canvas).path == items["a2"].path

    # at 100 % the crops follow the photo: the one under the centre is still drawn where the photo shows it
    key(window, Qt.Key.Key_Z)
    assert canvas.zoom_percent() == pytest.approx(100)
    left, top, side, _ = _region_rect(canvas, items["a2"], 4)  # the centre crop (688, 620)
    assert side == pytest.approx(224)
    zoomed = _pixel(canvas, QPointF(left + 10, top + 10))
    assert zoomed[1] > zoomed[0] + 20, zoomed  # 0.61: green-yellow on the burst's scale, not the grey photo
    window.views.zoom(3)  # 195 %: the photo from x 537 to 1063, y 352 to 712 in view
    canvas.grab()
    assert qmap.painted_on(canvas).regions == 2  # only those in view: (688, 180) and (688, 620)
    key(window, Qt.Key.Key_Z)

    # a photo too small for detail crops says so
    window.select_path(items["small"].path)
    canvas.grab()
    painted = qmap.painted_on(canvas)
    assert painted.regions == 0 and "no detail crops (small photo" in painted.message

    # M again: gone
    key(window, Qt.Key.Key_M)
    window.select_path(items["a1"].path)
    assert abs(_pixel(canvas, inside)[0] - _pixel(canvas, inside)[1]) < 12 and qmap.painted_on(canvas) is None
    window.close()


def test_the_map_in_compare(qtbot, bursts):
    window = scored(qtbot, bursts)
    items = {name.split(".")[0]: it for name, it in by_name(window).items()}
    window.select_path(items["a1"].path)
    key(window, Qt.Key.Key_M)
    key(window, Qt.Key.Key_C)
    assert window.view_mode == "compare"
    panes = window.views.compare.panes
    qtbot.waitUntil(lambda: all(p.canvas.image is not None for p in panes), timeout=10_000)
    for pane in panes:
        pane.canvas.grab()
    assert [window.views.quality_map.painted_on(p.canvas).regions for p in panes] == [6, 6]
    assert "burst" in panes[0].caption.text()
    window.close()


def test_a_second_window_on_the_catalog_still_shows_the_bursts(qtbot, bursts, monkeypatch):
    first = scored(qtbot, bursts)
    expected = {it.name: (it.burst, it.burst_rank, it.burst_tie, it.detail, it.regions) for it in first.model.items}
    assert sum(1 for v in expected.values() if v[0] is not None) == 5
    key(first, Qt.Key.Key_S)  # stacks on: kept for the next launch
    first.close()

    calls = []
    monkeypatch.setattr(Engine, "assign_bursts", lambda self, paths: calls.append(paths) or _no_bursts())
    second = open_window(qtbot)
    assert second.stacks_action.isChecked()
    second.sort_by("Name")
    drop(second, [bursts])
    qtbot.waitUntil(lambda: second.model.rowCount() == 7, timeout=SCORE_TIMEOUT_MS)
    listed = {it.name: (it.burst, it.burst_rank, it.burst_tie, it.detail, it.regions) for it in second.model.items}
    assert listed == expected  # from the catalog, as the folder lists
    assert shown(second) == ["a2", "b2", "sky", "small"]
    qtbot.waitUntil(lambda: second.summary is not None, timeout=SCORE_TIMEOUT_MS)
    assert {it.name: it.burst for it in second.model.items} == {k: v[0] for k, v in expected.items()}
    second.close()


def _no_bursts():
    from loda_desktop.bursts import BurstSummary

    return BurstSummary()
