"""Browsing and culling never depend on the model: with a model that cannot load, the folder lists, ratings,
flags and export work; the banner offers the default model; a model that failed is not tried again silently at
the next launch."""

from __future__ import annotations

import csv

import pytest

from loda_desktop.paths import models_dir
from loda_desktop.settings import load_settings, save_settings
from loda_desktop.ui.main_window import MainWindow
from model.profiles import read_profile, save_model
from tests.helpers.profiles import write_default_like

from .conftest import SCORE_TIMEOUT_MS, fast_settings


@pytest.fixture
def orphan():
    """An adapter fine-tuned from a default-like full profile that is gone since: it cannot load anywhere."""
    from model.profiles import load_model

    parent_path = write_default_like(models_dir() / "old-default.safetensors")
    net = load_model(parent_path)
    save_model(
        net,
        models_dir() / "orphan.safetensors",
        name="orphan",
        kind="adapter",
        parent=read_profile(parent_path).key,
        trained_on={"dataset": "ratings", "base_name": "old-default"},
    )
    parent_path.unlink()
    return "orphan"


def launch(qtbot) -> MainWindow:
    window = MainWindow()  # the saved settings, as at a real launch
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_a_model_that_cannot_load_leaves_browsing_culling_and_export_working(qtbot, shoot, tmp_path, orphan):
    save_settings(fast_settings(model=orphan))
    window = launch(qtbot)
    qtbot.waitUntil(lambda: window.engine_error is not None, timeout=SCORE_TIMEOUT_MS)
    assert "fine-tuned from 'old-default'" in window.banner.text()
    assert window.banner_button.isVisible() and window.banner_button.text() == "Use the Default Model"
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.open_folders([shoot])
    assert blocker.args[0].unscored_reason and window.model.rowCount() == 7
    photo = str(shoot / "IMG_1.jpg")
    window.auto_advance_action.setChecked(False)
    assert window.select_path(photo)
    window.rate(4)
    window.set_flag("pick")
    window.toggle_label("red")
    item = {it.path: it for it in window.model.items}[photo]
    assert (item.rating, item.flag, item.label) == (4, "pick", "red")
    out = window.export_csv(tmp_path / "ranking.csv")
    with open(out, newline="", encoding="utf-8") as f:
        rows = {r["path"]: r for r in csv.DictReader(f)}
    assert len(rows) == 7 and rows[photo]["rating"] == "4" and rows[photo]["flag"] == "pick"
    window.close()

    relaunched = launch(qtbot)  # not re-selected silently: the default model, and a notice that says why
    assert relaunched.settings.model == "default" and load_settings().model == "default"
    assert "'orphan' could not be loaded last time" in relaunched.banner.text()
    assert relaunched.banner_button.text() == "Dismiss"
    with qtbot.waitSignal(relaunched.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        relaunched.open_folders([shoot])
    assert blocker.args[0].scored + blocker.args[0].cached == 6 and not blocker.args[0].unscored_reason
    relaunched.banner_button.click()
    assert "last time" not in relaunched.banner.text() or not relaunched.banner.isVisible()
    relaunched.close()

    third = launch(qtbot)  # the notice is said once
    assert third.model_notice is None
    third.close()


def test_the_banner_button_switches_to_the_default_and_scores(qtbot, shoot, orphan):
    save_settings(fast_settings(model=orphan))
    window = launch(qtbot)
    qtbot.waitUntil(lambda: window.engine_error is not None, timeout=SCORE_TIMEOUT_MS)
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS):
        window.open_folders([shoot])
    with qtbot.waitSignal(window.scoring_finished, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.banner_button.click()
    assert window.engine_error is None and blocker.args[0].scored == 6
    assert load_settings().model == "default" and window.settings.model == "default"
    assert "cannot be used" not in window.banner.text() or not window.banner.isVisible()


def test_settings_list_only_models_that_run_here_unless_asked(qtbot, orphan):
    from loda_desktop.ui.settings_dialog import SettingsDialog

    write_default_like(models_dir() / "mine.safetensors", name="mine", created="2020-01-01T00:00:00+0000")
    dialog = SettingsDialog(fast_settings(), save=False)
    qtbot.addWidget(dialog)
    values = [dialog.model.itemData(i) for i in range(dialog.model.count())]
    assert values == ["default", "mine"]  # no orphan, no bare configs
    dialog.advanced.setChecked(True)
    values = [dialog.model.itemData(i) for i in range(dialog.model.count())]
    assert {"default", "mine", "orphan", "loda_tiny", "loda_vit_base_r50"} <= set(values)
    assert "weights missing" in dialog.model.itemText(values.index("orphan"))


def test_the_window_never_goes_online_for_weights(qapp, monkeypatch):
    """The window sets the hub offline before anything can import it: a model whose weights are missing fails at
    once with the file's name, not after download retries (``loda`` on the command line may still download)."""
    import os

    from loda_desktop.ui import app as app_module

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(app_module, "_run", lambda app, window: 0)
    palette = qapp.palette()
    try:
        assert app_module.main([]) == 0
    finally:
        qapp.setPalette(palette)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
