"""The item model and its proxy, without a window: roles, batched inserts, dataChanged, sorting, filters."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QAbstractItemModelTester

from loda_desktop.ui.models import Column, PhotoFilterProxy, PhotoItem, PhotoTableModel, Role, natural_key


def items():
    return [
        PhotoItem("/s/IMG_10.jpg", score=0.5, spread=0.01, status="ok", rating=3, capture_time="2024-05-01T10:00:02"),
        PhotoItem("/s/IMG_2.jpg", score=0.9, spread=0.02, status="ok", rating=1, flag="pick"),
        PhotoItem("/s/IMG_1.jpg", score=0.1, status="ok", flag="reject", capture_time="2024-05-01T10:00:01"),
        PhotoItem("/s/broken.jpg", status="error", error="the file is empty"),
        PhotoItem("/s/waiting.jpg", rating=5, label="red"),
    ]


@pytest.fixture
def model(qtbot):
    m = PhotoTableModel()
    QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal)
    m.add_items(items())
    return m


@pytest.fixture
def proxy(model):
    p = PhotoFilterProxy()
    p.setSourceModel(model)
    QAbstractItemModelTester(p, QAbstractItemModelTester.FailureReportingMode.Fatal)
    return p


def names(proxy):
    return [it.name for it in proxy.visible_items()]


def test_natural_order_of_names():
    assert sorted(["IMG_10", "img_2", "IMG_1", "a"], key=natural_key) == ["a", "IMG_1", "img_2", "IMG_10"]


def test_roles_and_display(model):
    row = model.row_of("/s/IMG_10.jpg")
    assert row == 0
    index = model.index(row, Column.SCORE)
    assert index.data() == "0.500"
    assert index.data(Role.Score) == 0.5 and index.data(Role.Status) == "ok"
    assert model.index(row, Column.SPREAD).data() == "±0.010"
    assert model.index(row, Column.RATING).data() == "★★★"
    assert model.index(row, Column.CAPTURED).data() == "2024-05-01 10:00:02"
    assert model.index(row, 0).data(Role.Item).name == "IMG_10.jpg"
    assert model.index(row, 0).data(Role.Path) == "/s/IMG_10.jpg"
    broken = model.row_of("/s/broken.jpg")
    assert model.index(broken, Column.SCORE).data() == "error"
    assert model.index(broken, Column.STATUS).data() == "the file is empty"
    assert "the file is empty" in model.index(broken, 0).data(Qt.ItemDataRole.ToolTipRole)
    waiting = model.row_of("/s/waiting.jpg")
    assert model.index(waiting, Column.SCORE).data() == "…"
    assert model.index(waiting, Column.STATUS).data() == "waiting"
    assert model.index(waiting, Column.LABEL).data() == "Red"
    assert model.index(waiting, 0).data(Qt.ItemDataRole.DecorationRole) == QColor("#e5484d")
    assert model.index(model.row_of("/s/IMG_2.jpg"), Column.FLAG).data() == "Pick"
    assert model.headerData(Column.SCORE, Qt.Orientation.Horizontal) == "Score"
    assert model.rowCount() == 5 and model.columnCount() == len(Column)
    assert model.rowCount(model.index(0, 0)) == 0  # a flat table


def test_inserts_are_batched_and_duplicates_update(model, qtbot):
    inserted = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    batch = [PhotoItem(f"/t/p{i}.jpg") for i in range(300)]
    assert model.add_items(batch) == 300
    assert inserted == [(5, 304)]  # one beginInsertRows for the whole batch
    again = PhotoItem("/t/p7.jpg", score=0.3, status="ok")
    assert model.add_items([again]) == 0
    assert model.item_for("/t/p7.jpg").score == 0.3 and model.rowCount() == 305


def test_results_emit_data_changed_per_run_of_rows_with_roles(model, qtbot):
    model.add_items([PhotoItem(f"/t/p{i}.jpg") for i in range(10)])
    changes = []
    model.dataChanged.connect(lambda tl, br, roles: changes.append((tl.row(), br.row(), list(roles))))
    results = [(f"/t/p{i}.jpg", 0.1 * i, 0.01, "ok", None) for i in (2, 3, 4, 8)]
    results.append(("/not/here.jpg", 1.0, 0.0, "ok", None))
    assert model.apply_results(results) == 4
    assert [(a, b) for a, b, _ in changes] == [(7, 9), (13, 13)]
    assert Role.Score in changes[0][2] and Qt.ItemDataRole.DisplayRole in changes[0][2]
    assert model.item_for("/t/p8.jpg").score == pytest.approx(0.8)
    columns = []
    model.dataChanged.connect(lambda tl, br, roles: columns.append((tl.column(), br.column())))
    changes.clear()
    assert model.set_field(["/t/p2.jpg", "/t/p3.jpg"], "rating", 4) == ["/t/p2.jpg", "/t/p3.jpg"]
    # the rating column with its roles, and column 0, which the grid paints from the item
    assert [(a, b) for a, b, _ in changes] == [(7, 8), (7, 8)]
    assert columns[-2:] == [(Column.NAME, Column.NAME), (Column.RATING, Column.RATING)]
    assert changes[0][2] == [Role.Item] and Role.Rating in changes[1][2]
    changes.clear()
    assert model.set_field(["/t/p2.jpg"], "rating", 4) == []  # no change, no signal
    assert changes == []
    with pytest.raises(ValueError):
        model.set_field(["/t/p2.jpg"], "score", 1.0)


def test_remove_paths_in_runs_and_reindex(model):
    removed = []
    model.rowsRemoved.connect(lambda parent, first, last: removed.append((first, last)))
    assert model.remove_paths(["/s/IMG_2.jpg", "/s/IMG_1.jpg", "/s/waiting.jpg", "/nope"]) == 3
    assert removed == [(4, 4), (1, 2)]
    assert [it.name for it in model.items] == ["IMG_10.jpg", "broken.jpg"]
    assert model.row_of("/s/broken.jpg") == 1 and model.row_of("/s/IMG_2.jpg") is None
    model.clear()
    assert model.rowCount() == 0 and model.row_of("/s/broken.jpg") is None


def test_sort_by_score_keeps_unscored_last_in_both_orders(proxy):
    proxy.sort_by("Score")
    assert names(proxy) == ["IMG_2.jpg", "IMG_10.jpg", "IMG_1.jpg", "broken.jpg", "waiting.jpg"]
    proxy.sort_by("Score", Qt.SortOrder.AscendingOrder)
    assert names(proxy) == ["IMG_1.jpg", "IMG_10.jpg", "IMG_2.jpg", "broken.jpg", "waiting.jpg"]


def test_sort_by_name_rating_and_capture_date(proxy):
    proxy.sort_by("Name")
    assert names(proxy) == ["broken.jpg", "IMG_1.jpg", "IMG_2.jpg", "IMG_10.jpg", "waiting.jpg"]
    proxy.sort_by("Rating")
    assert names(proxy)[:3] == ["waiting.jpg", "IMG_10.jpg", "IMG_2.jpg"]
    assert names(proxy)[3:] == ["broken.jpg", "IMG_1.jpg"]  # ties (0 stars) by name
    proxy.sort_by("Capture date")
    assert names(proxy)[:2] == ["IMG_1.jpg", "IMG_10.jpg"]  # photos without a date come last
    proxy.sort(Column.FLAG, Qt.SortOrder.DescendingOrder)
    assert names(proxy)[0] == "IMG_2.jpg" and names(proxy)[-1] == "IMG_1.jpg"


def test_sort_follows_new_scores(model, proxy):
    proxy.sort_by("Score")
    model.apply_results([("/s/waiting.jpg", 0.95, 0.0, "ok", None)])
    assert names(proxy)[0] == "waiting.jpg"
    model.apply_results([("/s/IMG_2.jpg", None, None, "error", "gone")])
    assert names(proxy)[-2:] == ["broken.jpg", "IMG_2.jpg"]


def test_filters(model, proxy):
    proxy.sort_by("Name")
    proxy.set_hide_rejected(True)
    assert "IMG_1.jpg" not in names(proxy) and proxy.filtering
    proxy.set_min_rating(3)
    assert names(proxy) == ["IMG_10.jpg", "waiting.jpg"]
    proxy.set_min_rating(0)
    proxy.set_min_score(0.4)  # unscored and failed photos have no score to compare
    assert names(proxy) == ["IMG_2.jpg", "IMG_10.jpg"]
    proxy.set_min_score(None)
    proxy.set_text("img_")
    assert names(proxy) == ["IMG_2.jpg", "IMG_10.jpg"]
    proxy.set_text("")
    proxy.set_hide_rejected(False)
    assert len(names(proxy)) == 5 and not proxy.filtering
    with pytest.raises(ValueError):
        proxy.set_min_rating(6)


def test_filter_follows_data_changes(model, proxy):
    proxy.set_hide_rejected(True)
    assert proxy.rowCount() == 4
    model.set_field(["/s/IMG_10.jpg"], "flag", "reject")
    assert proxy.rowCount() == 3 and "IMG_10.jpg" not in names(proxy)
    model.set_field(["/s/IMG_10.jpg", "/s/IMG_1.jpg"], "flag", None)
    assert proxy.rowCount() == 5


def test_thumbnails_come_from_the_source_and_changes_are_signalled(qtbot):
    class Source:
        def __init__(self):
            self.asked = []

        def get(self, item):
            self.asked.append(item.path)
            return None

        def error(self, item):
            return "no picture"

    source = Source()
    model = PhotoTableModel(thumbnails=source)
    model.add_items([PhotoItem("/a.jpg")])
    assert model.index(0, 0).data(Role.Thumbnail) is None and source.asked == ["/a.jpg"]
    assert model.index(0, 0).data(Role.ThumbnailError) == "no picture"
    with qtbot.waitSignal(model.dataChanged) as blocker:
        model.thumbnail_ready("/a.jpg")
    assert Role.Thumbnail in blocker.args[2]
    assert not model.index(0, 0, QModelIndex()).parent().isValid()
