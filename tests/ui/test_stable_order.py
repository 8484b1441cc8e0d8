"""A stable order: scores arriving while the photographer steps through the photos do not move them; the Re-sort
action counts what would move and sorts on request, and by itself when scoring ends. A new folder sorts by
capture time. A folder lists (thumbnails, ratings) before the model is ready."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, QThread

from loda_desktop.ui import workers
from loda_desktop.ui.models import PhotoItem, PhotoTableModel
from loda_desktop.ui.order import StableProxy

from ..app.badfiles import photo
from .conftest import SCORE_TIMEOUT_MS, drop, fast_settings
from .test_window import key, open_window


def neighbours(window):
    """The photos before and after the current one, as the view shows them."""
    row = window.selection.currentIndex().row()
    around = [window.proxy.item_at(r).name if 0 <= r < window.proxy.rowCount() else None for r in (row - 1, row + 1)]
    return window.current_item().name, around


class Watcher(QObject):
    """Runs in the UI thread after the window has applied each batch of scores (connected after its slots)."""

    def __init__(self, window):
        super().__init__()
        self.window, self.batches, self.seen, self.pending = window, 0, [], []

    def on_results(self, *_):
        self.batches += 1
        if self.batches == 1:  # the photographer steps into the view while scores arrive
            key(self.window, Qt.Key.Key_Right)
            key(self.window, Qt.Key.Key_Right)
            key(self.window, Qt.Key.Key_Right)
        self.seen.append(neighbours(self.window))
        self.pending.append(self.window.proxy.pending())


def test_scores_arriving_during_navigation_do_not_move_the_neighbours(qtbot, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(14):
        photo(folder / f"p{i:02d}.jpg", size=(320, 240), seed=200 + i)
    window = open_window(qtbot, fast_settings(crops=1, batch_size=1))
    window.sort_by("Score")
    watcher = Watcher(window)
    window.scoring.worker.results.connect(watcher.on_results)
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as done:
        drop(window, [folder])
    assert done.args[0].scored == 14
    assert watcher.batches >= 2, "the scores came in one batch: nothing to check"
    first = watcher.seen[0]
    assert all(seen == first for seen in watcher.seen), watcher.seen  # the same neighbours all along
    assert max(watcher.pending) > 0  # the Re-sort action had something to do meanwhile
    # scoring ended: sorted by score at last, the current photo still current, nothing pending
    scores = [it.score for it in window.proxy.visible_items()]
    assert scores == sorted(scores, reverse=True)
    assert window.current_item().name == first[0]
    assert window.proxy.pending() == 0 and not window.resort_action.isEnabled()
    window.close()


def test_the_proxy_holds_background_changes_until_resorted(qapp):
    model = PhotoTableModel()
    model.add_items(
        [PhotoItem(f"/s/{n}.jpg", score=s, status="ok") for n, s in zip("abcd", (0.4, 0.3, 0.2, 0.1), strict=True)]
    )
    proxy = StableProxy()
    proxy.setSourceModel(model)
    proxy.sort_by("Score")
    order = lambda: [it.name for it in proxy.visible_items()]  # noqa: E731
    assert order() == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    proxy.hold(["/s/d.jpg"], [1, 2, 7])  # a re-score is about to reach d
    model.apply_results([("/s/d.jpg", 0.9, 0.0, "ok", None)])
    assert order() == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"] and proxy.pending() == 1
    model.set_fields("rating", {"/s/c.jpg": 5})  # the photographer's own change, by another column: no hold
    proxy.sort_by("Rating")
    assert order()[0] == "c.jpg"
    model.set_fields("rating", {"/s/a.jpg": 5, "/s/c.jpg": 0})  # rating with the sort on rating: moves at once
    assert order()[0] == "a.jpg"
    proxy.sort_by("Score")  # choosing a sort lets go of everything held
    assert order()[0] == "d.jpg" and proxy.pending() == 0
    proxy.hold(["/s/b.jpg"], [1])
    model.apply_results([("/s/b.jpg", 0.95, 0.0, "ok", None)])
    assert order()[0] == "d.jpg" and proxy.pending() == 1
    proxy.resort()
    assert order()[:2] == ["b.jpg", "d.jpg"] and proxy.pending() == 0


def test_resort_action_and_capture_date_default(qtbot, shoot):
    window = open_window(qtbot)
    assert window.sort_combo.currentText() == "Capture date"  # a new folder's default order
    assert not window.resort_action.isEnabled() and window.toolbar.resort_button.isVisible()
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS):
        drop(window, [shoot])
    window.sort_by("Score")
    items = window.proxy.visible_items()
    last = items[-2]  # the lowest score: a new score puts it first
    window.order._before_results(window.generation, [(last.path, 0.0, 0.0, "ok", None)])
    window.model.apply_results([(last.path, 9.0, 0.0, "ok", None)])
    assert window.proxy.visible_items() == items
    window.order.update_action()
    assert window.resort_action.isEnabled() and window.resort_action.text() == "&Re-sort (1)"
    key(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.proxy.visible_items()[0] is last and window.resort_action.text() == "&Re-sort"
    window.close()


def test_a_folder_lists_before_the_model_is_ready(qtbot, shoot, monkeypatch):
    release = threading.Event()

    class SlowEngine(workers.Engine):
        """The model takes its time in the scoring thread (a first run, a slow disk); the listing thread's own
        look at the profile's header is not held up."""

        def __init__(self, *args, **kwargs):
            if QThread.currentThread().objectName() == "loda-scoring":
                release.wait(30)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(workers, "Engine", SlowEngine)
    window = open_window(qtbot)
    try:
        drop(window, [shoot])
        qtbot.waitUntil(lambda: window.model.rowCount() == 7, timeout=20_000)
        assert window.engine_info is None and window.summary is None  # no model yet, the photos are there
        item = window.model.items[0]
        qtbot.waitUntil(lambda: window.thumbnails.get(item) is not None, timeout=10_000)
        window.select_path(item.path)
        key(window, Qt.Key.Key_4)  # and culling works
        assert item.rating == 4
    finally:
        release.set()
    qtbot.waitUntil(lambda: window.summary is not None, timeout=SCORE_TIMEOUT_MS)
    assert window.summary.scored == 6 and window.model.item_for(item.path).rating == 4
    window.close()
