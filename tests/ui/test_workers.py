"""The background workers on their own: plain data out, every thread stopped, the PySide6 guard."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from loda_desktop.catalog import Catalog
from loda_desktop.engine import ScoreSummary
from loda_desktop.exif import ExifInfo
from loda_desktop.thumbnails import ThumbnailCache
from loda_desktop.ui import workers
from loda_desktop.ui._compat import none_refcount_leak
from loda_desktop.ui.models import PhotoItem
from loda_desktop.ui.workers import MetadataLoader, Progress, ScoringController, ThumbnailLoader, format_duration

from .conftest import SCORE_TIMEOUT_MS, fast_settings


class Recorder(QObject):
    """Records a worker's signals in the UI thread (slots of a QObject living here run here)."""

    def __init__(self, worker):
        super().__init__()
        self.seen: dict[str, list] = {}
        for name in ("engine_ready", "engine_failed", "model_loaded", "photos_found", "results", "progress"):
            getattr(worker, name).connect(getattr(self, "on_" + name))
        worker.finished.connect(self.on_finished)

    def _add(self, name, value):
        self.seen.setdefault(name, []).append(value)

    def on_engine_ready(self, info):
        self._add("engine_ready", info)

    def on_engine_failed(self, message):
        self._add("engine_failed", message)

    def on_model_loaded(self, description):
        self._add("model_loaded", description)

    def on_photos_found(self, generation, items):
        self.seen.setdefault("items", []).extend(items)

    def on_results(self, generation, batch):
        self.seen.setdefault("results", []).extend(batch)

    def on_progress(self, progress):
        self._add("progress", progress)

    def on_finished(self, generation, summary):
        self._add("finished", (generation, summary))


def test_the_scoring_thread_emits_plain_data_and_stops(qtbot, shoot):
    controller = ScoringController()
    recorder = Recorder(controller.worker)
    seen = recorder.seen
    try:
        controller.configure(fast_settings())
        qtbot.waitUntil(lambda: "model_loaded" in seen, timeout=SCORE_TIMEOUT_MS)
        info = seen["engine_ready"][0]
        assert info.model_name == "loda_tiny" and "UNTRAINED" in info.notice and "crops=2" in info.model_key
        assert seen["model_loaded"] == ["torch cpu"]
        generation = controller.open([shoot])
        qtbot.waitUntil(lambda: "finished" in seen, timeout=SCORE_TIMEOUT_MS)
        done_generation, summary = seen["finished"][0]
        assert done_generation == generation and isinstance(summary, ScoreSummary)
        assert summary.scored == 6 and summary.failed == 1
    finally:
        assert controller.shutdown()
    assert not controller.thread.isRunning()
    assert all(type(it) is PhotoItem for it in seen["items"]) and len(seen["items"]) == 7
    assert len(seen["results"]) == 7
    for path, score, spread, status, error in seen["results"]:
        assert isinstance(path, str) and status in ("ok", "error")
        assert (isinstance(score, float) and isinstance(spread, float)) if status == "ok" else isinstance(error, str)
    phases = [p.phase for p in seen["progress"]]
    assert phases[0] == "scanning" and phases[-1] == "done"
    assert all(isinstance(p, Progress) for p in seen["progress"])
    last = seen["progress"][-1]
    assert (last.done, last.total, last.scored, last.failed) == (7, 7, 6, 1)


def test_a_request_cancelled_before_it_starts_still_ends(qtbot, shoot):
    controller = ScoringController()
    recorder = Recorder(controller.worker)
    try:
        controller.configure(fast_settings())
        first = controller.open([shoot])
        controller.cancel()
        qtbot.waitUntil(lambda: "finished" in recorder.seen, timeout=SCORE_TIMEOUT_MS)
        generation, summary = recorder.seen["finished"][0]
        assert generation == first and summary.cancelled
        qtbot.waitUntil(lambda: not controller.busy)
    finally:
        controller.shutdown()


def test_a_model_that_cannot_load_is_reported_and_the_folder_still_listed(qtbot, shoot):
    controller = ScoringController()
    recorder = Recorder(controller.worker)
    try:
        controller.configure(fast_settings(model="no-such-model"))
        qtbot.waitUntil(lambda: "engine_failed" in recorder.seen, timeout=SCORE_TIMEOUT_MS)
        assert "no-such-model" in recorder.seen["engine_failed"][0]
        generation = controller.open([shoot])
        qtbot.waitUntil(lambda: "finished" in recorder.seen, timeout=SCORE_TIMEOUT_MS)
        done_generation, summary = recorder.seen["finished"][0]
        assert done_generation == generation and summary.total == 7 and summary.scored == 0
        assert "no-such-model" in summary.unscored_reason and "not scored" in summary.describe()
        assert len(recorder.seen["items"]) == 7 and "results" not in recorder.seen
        qtbot.waitUntil(lambda: not controller.busy)
    finally:
        assert controller.shutdown()


def test_the_folder_is_listed_while_the_model_is_still_loading(qtbot, shoot, monkeypatch):
    """Listing does not queue behind the model: a model that takes long to load still lets the grid fill."""
    import threading

    from loda_desktop.engine import Engine

    release = threading.Event()
    real = Engine._create_scorer

    def slow_create(self):
        release.wait(30)
        return real(self)

    monkeypatch.setattr(Engine, "_create_scorer", slow_create)
    controller = ScoringController()
    recorder = Recorder(controller.worker)
    try:
        controller.configure(fast_settings())
        controller.open([shoot])
        qtbot.waitUntil(lambda: len(recorder.seen.get("items", [])) == 7, timeout=SCORE_TIMEOUT_MS)
        assert "model_loaded" not in recorder.seen and "finished" not in recorder.seen
        release.set()
        qtbot.waitUntil(lambda: "finished" in recorder.seen, timeout=SCORE_TIMEOUT_MS)
        assert recorder.seen["finished"][0][1].scored == 6
    finally:
        release.set()
        assert controller.shutdown()


def test_progress_text():
    progress = Progress(1, "scoring", done=123, total=2000, scored=100, rate=8.06, eta=190)
    assert progress.describe() == "123 / 2,000 · 8.1 photos/s · ETA 3 min"
    assert Progress(1, "scoring", done=5, total=9).describe() == "5 / 9"
    assert format_duration(42) == "42 s" and format_duration(7200 + 600) == "2 h 10 min"


def test_thumbnails_previews_and_errors_come_back_by_signal(qtbot, shoot, tmp_path):
    loader = ThumbnailLoader(disk_cache=ThumbnailCache(tmp_path / "thumbs"))
    try:
        good = PhotoItem(str(shoot / "beach.png"), size=1, mtime_ns=1)
        bad = PhotoItem(str(shoot / "broken.jpg"), size=1, mtime_ns=1)
        with qtbot.waitSignals([loader.ready, loader.ready], timeout=10_000):
            assert loader.get(good) is None and loader.get(bad) is None
        image = loader.get(good)
        assert isinstance(image, QImage) and max(image.width(), image.height()) == 256
        assert loader.get(bad) is None and loader.error(bad)
        with qtbot.waitSignal(loader.preview_ready, timeout=10_000) as preview:
            loader.request_preview(good.path, 400)
        path, picture, error, exif = preview.args
        assert path == good.path and error is None and picture.width() == 400
        assert isinstance(exif, ExifInfo) and (exif.width, exif.height) == (480, 320)
    finally:
        loader.shutdown()


def test_capture_times_are_read_stored_and_posted(qtbot, tmp_path):
    from PIL import ExifTags, Image

    path = tmp_path / "dated.jpg"
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = "2021:07:08 09:10:11"
    Image.new("RGB", (64, 48)).save(path, exif=exif)
    with Catalog() as cat:
        cat.add_photos([path])
    loader = MetadataLoader()
    try:
        with qtbot.waitSignal(loader.capture_times, timeout=10_000) as blocker:
            loader.request(3, [str(path)])
        assert blocker.args == [3, {str(path): "2021-07-08T09:10:11"}]
        with Catalog() as cat:
            assert cat.get(path)[0].capture_time == "2021-07-08T09:10:11"
    finally:
        loader.shutdown()
    assert not workers.live_threads()


def test_the_installed_pyside6_keeps_none_alive():
    """PySide6 6.12.0 loses a reference to None per void call and aborts CPython < 3.12 (pyproject excludes it)."""
    if sys.version_info < (3, 12):
        assert none_refcount_leak() == 0
    from PySide6.QtCore import QSize

    size = QSize(1, 1)
    for _ in range(200_000):  # would abort the interpreter ("none_dealloc") with the defective binding
        size.setWidth(2)
    assert size.width() == 2
