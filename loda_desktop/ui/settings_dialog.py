"""Settings…: model profile, backend, device, crops per photo, detail crops, batch size, threads, XMP sidecars.

The dialog edits a copy of :class:`~loda_desktop.settings.Settings`; OK validates it with the schema's own
rules and saves it (``settings.json`` in the per-user config folder, or under ``$LODA_HOME``). The window then
rebuilds the engine in the scoring thread and scores the open folder with the new model (photos already
scored by that model and crop count come from the catalog).
"""

from __future__ import annotations

import dataclasses
import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from loda_desktop.settings import FIELD_RULES, Settings, save_settings, validate_field

log = logging.getLogger(__name__)

__all__ = ["XMP_CHOICES", "SettingsDialog", "model_choices"]

XMP_CHOICES = (
    ("off", "Off (ratings stay in the catalog)"),
    ("lightroom", "Lightroom, Bridge, Capture One: NAME.xmp"),
    ("darktable", "darktable, digiKam: NAME.EXT.xmp"),
)


def model_choices(*, advanced: bool = False) -> list[tuple[str, str]]:
    """(value, description) of the models to offer: ``default`` and every profile that can run on this machine
    offline (:func:`~loda_desktop.model_store.runnable`: backbones inside it, in its parent or as files here).

    ``advanced`` adds the developer items: bare configs (an untrained adapter) and profiles whose weights are
    missing, marked so. Nothing here downloads anything.
    """
    from loda_desktop.model_store import DEFAULT_MODEL, model_search_dirs, runnable
    from model.configs import get_config, list_configs
    from model.profiles import find_profiles

    dirs = model_search_dirs()
    choices = [(DEFAULT_MODEL, "default — the installed trained model, else the untrained tiny network")]
    seen = {DEFAULT_MODEL}
    for profile in find_profiles(dirs):
        if profile.name in seen:
            continue
        ready = runnable(profile, dirs)
        if not ready and not advanced:
            continue
        seen.add(profile.name)
        trained = "trained" if profile.trained else "untrained"
        missing = "" if ready else ", weights missing on this machine"
        choices.append((profile.name, f"{profile.name} — profile ({profile.config.name}, {trained}{missing})"))
    if advanced:
        for name in list_configs():
            if name not in seen:
                seen.add(name)
                pretrained = (
                    "pretrained backbones, untrained adapter" if get_config(name).pretrained else "random weights"
                )
                choices.append((name, f"{name} — config ({pretrained}; for developers)"))
    return choices


def _add_broken_models(form: QFormLayout) -> None:
    """A row naming the model files that cannot be used (damaged, forged), each with why, and how to remove one."""
    from loda_desktop.model_store import list_broken
    from loda_desktop.text import printable

    broken = list_broken()
    if not broken:
        return
    lines = [f"Broken, not used: {printable(p.name)} ({printable(reason)})" for p, reason in broken[:5]]
    lines.append(f"Remove one with `loda profiles delete {printable(broken[0][0].name)}`.")
    label = QLabel("\n".join(lines))
    label.setObjectName("brokenModels")
    label.setWordWrap(True)
    form.addRow("", label)


DETAIL_TIP = (
    "Crops scored at the photo's own resolution (100 %), where focus, shake and grain show, besides the downscaled"
    " view; the score averages both. Off: the paper's protocol only (faster)."
)


def _xmp_choice(current: str) -> QComboBox:
    box = QComboBox()
    box.setObjectName("xmpSidecars")
    for value, text in XMP_CHOICES:
        box.addItem(text, value)
    box.setCurrentIndex(max(0, box.findData(current)))
    box.setToolTip(
        "Write every rating, flag and label change (and its undo) to an XMP sidecar beside the photo, merged "
        "into an existing one. Photos themselves are never changed."
    )
    return box


def _spin(name: str, value: int, special: str | None = None) -> QSpinBox:
    rule = FIELD_RULES[name]
    box = QSpinBox()
    box.setRange(rule.minimum or 0, rule.maximum or 1_000_000)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


def _buddy_label(text: str, buddy: QWidget) -> QLabel:
    """The label of a form row whose field is a layout: QFormLayout gives such a label no buddy, and without one
    its "&" is shown as is ("&Model:") instead of underlining the mnemonic."""
    label = QLabel(text)
    label.setBuddy(buddy)
    return label


class SettingsDialog(QDialog):
    """Edits the scoring settings; :attr:`result_settings` holds what was saved after OK."""

    def __init__(self, settings: Settings, parent: QWidget | None = None, *, save: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self._initial = settings
        self._save = save
        self.result_settings: Settings | None = None

        self.model = QComboBox()
        self.model.setObjectName("modelCombo")
        self.model.setEditable(True)  # a profile file path can be typed in
        self.advanced = QCheckBox("Show developer models (configs, models whose weights are missing)")
        self.advanced.setObjectName("advancedModels")
        self._fill_models(settings.model)
        self.advanced.toggled.connect(lambda _on: self._fill_models(self._model_value()))

        self.backend = QComboBox()
        for value, text in (
            ("auto", "Automatic (ONNX Runtime on a CPU, else PyTorch)"),
            ("torch", "PyTorch"),
            ("onnx", "ONNX Runtime (.onnx model files)"),
        ):
            self.backend.addItem(text, value)
        self.backend.setCurrentIndex(max(0, self.backend.findData(settings.backend)))
        self.device = QComboBox()
        for value, text in (("auto", "Automatic (CUDA when available)"), ("cpu", "CPU"), ("cuda", "CUDA GPU")):
            self.device.addItem(text, value)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.crops = _spin("crops", settings.crops)
        self.crops.setToolTip("Crops averaged per photo. The paper uses 15; fewer is faster and a little noisier.")
        self.detail_crops = _spin("detail_crops", settings.detail_crops, special="off")
        self.detail_crops.setToolTip(DETAIL_TIP)
        self.batch_size = _spin("batch_size", settings.batch_size)
        self.batch_size.setToolTip("Crops per inference batch (crops from several photos are batched together).")
        self.threads = _spin("threads", settings.threads, special="automatic")
        self.threads.setToolTip("CPU threads for inference.")
        self.xmp_sidecars = _xmp_choice(settings.xmp_sidecars)

        browse = QToolButton()
        browse.setObjectName("browseModel")
        browse.setText("…")
        browse.setToolTip("Choose a model file (.safetensors profile, or .onnx for the ONNX Runtime backend)")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)

        form = QFormLayout()
        form.addRow(_buddy_label("&Model:", self.model), model_row)
        form.addRow("", self.advanced)
        _add_broken_models(form)
        form.addRow("&Backend:", self.backend)
        form.addRow("&Device:", self.device)
        form.addRow("&Crops per photo:", self.crops)
        form.addRow("Detail crops at &100 %:", self.detail_crops)
        form.addRow("Batch &size:", self.batch_size)
        form.addRow("&Threads:", self.threads)
        form.addRow("&XMP sidecars:", self.xmp_sidecars)
        note = QLabel("Scores depend on the model and the crop count; each combination is kept in the catalog.")
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(placeholder-text);")
        self.error = QLabel()
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e5484d;")
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(buttons, alignment=Qt.AlignmentFlag.AlignRight)
        self.resize(520, self.sizeHint().height())

    def _fill_models(self, current: str) -> None:
        """List the models (developer items only with the toggle) and select ``current``; a saved model that is
        not in the list (a file path, a developer item) shows as typed text."""
        try:
            choices = model_choices(advanced=self.advanced.isChecked())
        except (OSError, ValueError) as exc:  # an unreadable models folder must not stop the dialog opening
            log.warning("cannot list models: %s", exc)
            choices = [("default", "default")]
        self.model.blockSignals(True)
        self.model.clear()
        for value, text in choices:
            self.model.addItem(text, value)
        index = self.model.findData(current)
        if index >= 0:
            self.model.setCurrentIndex(index)
        else:
            self.model.setEditText(current)
        self.model.blockSignals(False)

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a model", "", "Models (*.safetensors *.onnx);;All files (*)"
        )
        if path:
            self.model.setEditText(path)
            if path.lower().endswith(".onnx"):
                self.backend.setCurrentIndex(self.backend.findData("onnx"))

    def _model_value(self) -> str:
        index = self.model.currentIndex()
        text = self.model.currentText().strip()
        if index >= 0 and text == self.model.itemText(index):
            return str(self.model.itemData(index))
        return text

    def settings(self) -> Settings:
        """The settings as edited; raises ValueError with the reasons when a value is not acceptable."""
        values = {
            "model": self._model_value(),
            "backend": self.backend.currentData(),
            "device": self.device.currentData(),
            "crops": self.crops.value(),
            "detail_crops": self.detail_crops.value(),
            "batch_size": self.batch_size.value(),
            "threads": self.threads.value(),
            "xmp_sidecars": self.xmp_sidecars.currentData(),
        }
        problems = [p for name, value in values.items() if (p := validate_field(name, value))]
        if problems:
            raise ValueError("; ".join(problems))
        return dataclasses.replace(self._initial, **values)

    def accept(self) -> None:
        try:
            settings = self.settings()
            if self._save:
                save_settings(settings)
        except (ValueError, OSError) as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.result_settings = settings
        super().accept()
