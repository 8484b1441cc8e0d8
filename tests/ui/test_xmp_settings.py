"""The xmp_sidecars setting: validated, saved, offered in the Settings dialog and applied to the window's
culling at once."""

import json

from loda_desktop.settings import Settings, load_settings, save_settings
from loda_desktop.ui.settings_dialog import SettingsDialog

from .conftest import fast_settings
from .test_window import open_window


def test_the_setting_is_validated_and_saved(tmp_path):
    path = tmp_path / "settings.json"
    assert Settings().xmp_sidecars == "off"
    save_settings(Settings(xmp_sidecars="darktable"), path)
    assert load_settings(path).xmp_sidecars == "darktable"
    path.write_text(json.dumps({"version": 2, "xmp_sidecars": "capture-one"}))
    assert load_settings(path).xmp_sidecars == "off"  # an unknown layout falls back to the default


def test_the_dialog_offers_the_layouts_and_the_window_applies_the_choice(qtbot):
    window = open_window(qtbot, fast_settings())
    assert window.culling.xmp_layout == "off"
    dialog = SettingsDialog(window.settings, window, save=False)
    qtbot.addWidget(dialog)
    combo = dialog.xmp_sidecars
    assert [combo.itemData(i) for i in range(combo.count())] == ["off", "lightroom", "darktable"]
    combo.setCurrentIndex(combo.findData("darktable"))
    dialog.accept()
    assert dialog.result_settings.xmp_sidecars == "darktable"
    window.apply_settings(dialog.result_settings)
    assert window.culling.xmp_layout == "darktable"
