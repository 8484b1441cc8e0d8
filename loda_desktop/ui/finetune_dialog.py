"""The Fine-tune dialog: train the adapter on the photographer's ratings in the background, then Accept or Discard.

    ratings of the open folders (catalog) ──minimums?──> Start ──FinetuneWorker (own QThread)──> progress, plot
        └─ unmet: the dialog says what is missing               Cancel ──> nothing written
                                                                 written ──> loaded back by name and one photo
                                                                 scored, as the window would (check_model)
                                                                   ├─ ok ──> before/after SRCC ──> Accept | Discard
                                                                   └─ fails ──> why ──> Discard

The dialog is not modal: "Run in Background" (or closing it) hides it while training goes on, the photographer
keeps culling, and :attr:`FinetuneDialog.status_changed` feeds the window's status bar (progress, ETA; a click
brings the dialog, its live plot and Cancel back). The worker runs :func:`trainer.finetune.finetune` (the same
code as ``loda finetune``) and emits plain data (:class:`~trainer.finetune.FinetuneProgress`,
:class:`~trainer.finetune.FinetuneResult`, error text). Accept is offered only once the written profile has been
loaded back from disk and has scored a photo through :func:`loda_desktop.engine.check_model`, the code path the
window's scoring thread uses; then Accept emits :attr:`FinetuneDialog.model_accepted` with its name (the window
makes it the active model and re-scores). Discard moves the profile to the trash.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QThread, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from loda_desktop.settings import Settings
from trainer.finetune import (
    FinetuneCancelled,
    FinetuneConfig,
    FinetuneProgress,
    FinetuneResult,
    Rated,
    RatingMap,
    minimums_message,
    rating_counts,
    samples_from_ratings,
)

from . import threads
from .workers import format_duration

__all__ = ["FinetuneDialog", "FinetuneWorker", "LivePlot"]

LOSS_COLOUR = QColor(52, 120, 200)
SRCC_COLOUR = QColor(220, 120, 30)


class LivePlot(QWidget):
    """Training loss per step (left axis, 0..max) and held-out SRCC per epoch (right axis, -1..1), painted with
    QPainter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(360, 160)
        self.loss: list[tuple[int, float]] = []
        self.srcc: list[tuple[int, float]] = []
        self.steps = 1

    def clear(self) -> None:
        self.loss.clear()
        self.srcc.clear()
        self.update()

    def add(self, p: FinetuneProgress) -> None:
        self.steps = max(1, p.steps)
        if p.phase == "training" and p.loss is not None and math.isfinite(p.loss):
            self.loss.append((p.step, p.loss))
        elif p.phase == "epoch" and p.srcc is not None and math.isfinite(p.srcc):
            self.srcc.append((p.step, p.srcc))
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(34, 8, -34, -18)
        painter.fillRect(self.rect(), self.palette().base())
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRect(area)
        zero = area.top() + area.height() / 2
        painter.drawLine(QPointF(area.left(), zero), QPointF(area.right(), zero))
        top_loss = max([v for _, v in self.loss] + [1e-6])
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        painter.setFont(font)
        painter.setPen(LOSS_COLOUR)
        painter.drawText(QRectF(0, area.top() - 6, 32, 14), Qt.AlignmentFlag.AlignRight, f"{top_loss:.2f}")
        painter.drawText(QRectF(0, area.bottom() - 8, 32, 14), Qt.AlignmentFlag.AlignRight, "0")
        painter.drawText(QRectF(area.left() + 4, area.bottom() + 2, 120, 14), Qt.AlignmentFlag.AlignLeft, "loss")
        painter.setPen(SRCC_COLOUR)
        painter.drawText(QRectF(area.right() + 2, area.top() - 6, 32, 14), Qt.AlignmentFlag.AlignLeft, "1")
        painter.drawText(QRectF(area.right() + 2, zero - 7, 32, 14), Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRectF(area.right() + 2, area.bottom() - 8, 32, 14), Qt.AlignmentFlag.AlignLeft, "-1")
        painter.drawText(
            QRectF(area.right() - 160, area.bottom() + 2, 156, 14), Qt.AlignmentFlag.AlignRight, "held-out SRCC"
        )

        def x_of(step: int) -> float:
            return area.left() + area.width() * step / self.steps

        if self.loss:
            path = QPainterPath()
            for i, (step, value) in enumerate(self.loss):
                point = QPointF(x_of(step), area.bottom() - area.height() * value / top_loss)
                if i == 0:
                    path.moveTo(point)
                else:
                    path.lineTo(point)
            painter.setPen(QPen(LOSS_COLOUR, 1.5))
            painter.drawPath(path)
        if self.srcc:
            painter.setPen(QPen(SRCC_COLOUR, 2))
            points = [QPointF(x_of(step), zero - area.height() / 2 * value) for step, value in self.srcc]
            for a, b in itertools.pairwise(points):
                painter.drawLine(a, b)
            painter.setBrush(SRCC_COLOUR)
            for point in points:
                painter.drawEllipse(point, 3, 3)
        painter.end()


class FinetuneWorker(QObject):
    """Runs one fine-tune in its thread, then loads the written profile back and scores a photo with it; emits
    plain data. :meth:`cancel` may be called from any thread."""

    progress = Signal(object)  # FinetuneProgress
    checking = Signal()  # training is over; the written profile is being loaded back and tried
    finished = Signal(object)  # FinetuneResult of a profile that loaded and scored
    unusable = Signal(object, str)  # FinetuneResult, why the written profile cannot be used
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self,
        base: str,
        samples: list,
        out: Path,
        name: str,
        cfg: FinetuneConfig,
        source: dict,
        settings: Settings,
        catalog_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.base, self.samples, self.out, self.name, self.cfg, self.source = base, samples, out, name, cfg, source
        self.settings, self.catalog_path = settings, catalog_path
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        from loda_desktop.errors import USER_ERRORS

        from ..engine import EngineError, check_model
        from ..model_store import model_search_dirs, resolve_model
        from ..ratings import capture_times

        threads.lower_thread_priority()
        try:
            from trainer.finetune import finetune

            times = capture_times([s.path for s in self.samples], catalog_path=self.catalog_path)
            result = finetune(
                resolve_model(self.base),
                self.samples,
                self.out,
                name=self.name,
                cfg=self.cfg,
                search_dirs=model_search_dirs(),
                on_progress=self.progress.emit,
                cancel=self._cancel.is_set,
                extra_trained_on=self.source,
                capture_times=times,
            )
        except FinetuneCancelled:
            self.cancelled.emit()
            return
        except USER_ERRORS as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # a bug: still end the dialog's wait, with the reason
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.checking.emit()
        try:
            check_model(dataclasses.replace(self.settings, model=result.name), self.samples[0].path)
        except EngineError as exc:
            self.unusable.emit(result, str(exc))
            return
        self.finished.emit(result)


class FinetuneDialog(QDialog):
    """See the module docstring. ``rated``: the ratings to train on (default: the catalog's, for the photos under
    ``roots``). ``settings``: the window's (backend, device, crops) for the check of the new profile.
    ``config`` overrides the small-data defaults (tests use tiny settings)."""

    model_accepted = Signal(str)  # the new profile's name, after Accept
    # one line for the window's status bar while the dialog lives; "" when there is nothing to show (a closed
    # dialog shows nothing: its QDialog.finished ends the status)
    status_changed = Signal(str)

    def __init__(
        self,
        roots: list[str],
        base: str,
        *,
        settings: Settings | None = None,
        catalog_path: Path | None = None,
        rated: list[Rated] | None = None,
        config: FinetuneConfig | None = None,
        mapping: RatingMap | None = None,
        base_name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("finetuneDialog")
        self.setWindowTitle("Fine-tune on My Ratings")
        self.setModal(False)
        self.roots = list(roots)
        self.base = base
        self.base_name = base_name  # the profile ``base`` stands for, when the caller knows it already
        if settings is None:
            from loda_desktop.settings import load_settings

            settings = load_settings()
        self.settings = settings
        self.catalog_path = catalog_path
        self.cfg = config or FinetuneConfig()
        self.mapping = mapping or RatingMap()
        self.result_info: FinetuneResult | None = None
        self.error: str | None = None
        self.thread: QThread | None = None
        self.worker: FinetuneWorker | None = None
        self._started = 0.0

        if rated is None:  # the window passes what its grid holds; otherwise read the catalog
            from ..ratings import ratings_from_catalog

            rated = ratings_from_catalog(self.roots, catalog_path=catalog_path) if self.roots else []
        self.samples = samples_from_ratings(rated, self.mapping)
        self.unmet = minimums_message(self.samples, self.cfg.min_rated, self.cfg.min_distinct, self.mapping)

        self._build()
        self.info.setText(self.unmet or self._introduction())
        self._set_state("unmet" if self.unmet else "ready")

    def _build(self) -> None:
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.name_edit = QLineEdit(time.strftime("my-taste-%Y%m%d-%H%M"), self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.eta = QLabel("", self)
        self.plot = LivePlot(self)
        self.outcome = QLabel("", self)
        self.outcome.setWordWrap(True)
        self.start_button = QPushButton("Start", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.hide_button = QPushButton("Run in Background", self)
        self.hide_button.setToolTip("Keep culling while it trains; the status bar shows the progress")
        self.accept_button = QPushButton("Accept", self)
        self.discard_button = QPushButton("Discard", self)
        self.close_button = QPushButton("Close", self)
        buttons = QDialogButtonBox(self)
        for b in (
            self.start_button,
            self.cancel_button,
            self.hide_button,
            self.accept_button,
            self.discard_button,
            self.close_button,
        ):
            b.setAutoDefault(False)
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.hide_button.clicked.connect(self.hide)
        self.accept_button.clicked.connect(self.accept_model)
        self.discard_button.clicked.connect(self.discard)
        self.close_button.clicked.connect(self.reject)

        form = QFormLayout()
        form.addRow("New profile name:", self.name_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.eta)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.outcome)
        layout.addWidget(buttons)

    def _introduction(self) -> str:
        counts = ", ".join(f"{k}★ {v}" for k, v in rating_counts(self.samples).items())
        base = self.base_name or _display_name(self.base)
        return (
            f"Fine-tune the model “{base}” to your taste, on {len(self.samples)} rated photos ({counts}). About a"
            " quarter is held out, whole scenes at a time (frames shot seconds apart or looking alike stay"
            " together), to measure how well the model ranks photos it did not train on, before and after."
            " Training runs in the background: you can keep culling."
        )

    # -- state --------------------------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        self.start_button.setVisible(state in ("ready", "unmet", "failed", "cancelled"))
        self.start_button.setEnabled(state in ("ready", "failed", "cancelled"))
        self.cancel_button.setVisible(state in ("running", "checking"))
        self.cancel_button.setEnabled(state == "running")
        self.hide_button.setVisible(state in ("running", "checking"))
        self.accept_button.setVisible(state == "done")
        self.discard_button.setVisible(state in ("done", "unusable"))
        self.close_button.setVisible(state not in ("running", "checking", "done", "unusable"))
        self.name_edit.setEnabled(state in ("ready", "failed", "cancelled"))

    @property
    def busy(self) -> bool:
        """Training or checking: closing the dialog only hides it."""
        return self.state in ("running", "checking")

    # -- actions ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.state not in ("ready", "failed", "cancelled"):
            return
        from trainer.finetune import FinetuneError, check_name

        from ..paths import models_dir

        try:
            name = check_name(self.name_edit.text())
        except FinetuneError as exc:
            self.outcome.setText(str(exc))
            return
        out = models_dir() / f"{name}.safetensors"
        if out.exists():
            self.outcome.setText(f"A profile named {name!r} already exists; choose another name.")
            return
        self.error = None
        self.outcome.setText("")
        self.plot.clear()
        self.thread = QThread()
        self.thread.setObjectName("loda-finetune")
        threads.track_thread(self.thread)
        source = {"source": "catalog", "folders": list(self.roots)}
        self.worker = FinetuneWorker(
            self.base, list(self.samples), out, name, self.cfg, source, self.settings, self.catalog_path
        )
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.progress.connect(self._on_progress)
        self.worker.checking.connect(self._on_checking)
        self.worker.finished.connect(self._on_finished)
        self.worker.unusable.connect(self._on_unusable)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        for signal in (self.worker.finished, self.worker.unusable, self.worker.failed, self.worker.cancelled):
            signal.connect(self.thread.quit)
        self._started = time.perf_counter()
        self.eta.setText("Loading the model…")
        self._set_state("running")
        self.status_changed.emit("Fine-tuning: loading the model…")
        self.thread.start()

    def cancel(self) -> None:
        if self.worker is not None and self.state == "running":
            self.worker.cancel()
            self.eta.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            self.status_changed.emit("Fine-tuning: cancelling…")

    def _stop_thread(self) -> None:
        if self.thread is not None:
            if self.worker is not None:
                self.worker.cancel()
            self.thread.quit()
            self.thread.wait()
            self.thread.deleteLater()
            if self.worker is not None:
                self.worker.deleteLater()
            self.thread = None
            self.worker = None

    def shutdown(self) -> None:
        """Stop training (nothing is written) and wait for the thread: the window is closing."""
        self._stop_thread()

    def _on_progress(self, p: FinetuneProgress) -> None:
        if self.state != "running":
            return
        self.progress_bar.setRange(0, max(1, p.steps))
        self.progress_bar.setValue(p.step)
        self.plot.add(p)
        text = {"evaluating": "Measuring on held-out ratings", "saving": "Saving"}.get(p.phase, "Training")
        text += f" · epoch {p.epoch} of {p.epochs}"
        if p.srcc is not None:
            text += f" · held-out SRCC {p.srcc:.3f}"
        if p.eta_s is not None:
            text += f" · about {format_duration(p.eta_s)} left"
        self.eta.setText(text)
        status = f"Fine-tuning {round(100 * p.step / max(1, p.steps))} %"
        if p.eta_s is not None:
            status += f" · {format_duration(p.eta_s)} left"
        self.status_changed.emit(status)

    def _on_checking(self) -> None:
        self._set_state("checking")
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.eta.setText("Loading the new model back and scoring a photo with it…")
        self.status_changed.emit("Fine-tuning: checking the new model…")

    def _fit(self) -> None:
        """Grow to show the outcome's lines below the plot (a label's new text does not resize a shown dialog).

        A word-wrapped label's height depends on its width, which the layout's minimum size does not count: the
        outcome reserves the height of its lines at the present width, so it is never drawn over the plot."""
        for label in (self.info, self.outcome):
            width = label.width() if label.width() > 0 else self.width()
            label.setMinimumHeight(label.heightForWidth(width) if label.text() else 0)
        self.layout().activate()
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))

    def _elapsed(self) -> str:
        return f"Done in {format_duration(time.perf_counter() - self._started)}."

    def _srcc_line(self, result: FinetuneResult) -> str:
        return (
            f"Held-out SRCC {result.srcc_before:.3f} → {result.srcc_after:.3f} on {result.n_test} photos the model"
            " did not train on."
        )

    def _on_finished(self, result: FinetuneResult) -> None:
        self.result_info = result
        self._stop_thread()
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.eta.setText(self._elapsed())
        verdict = (
            "It ranks your held-out photos better than the current model."
            if result.improved
            else "It does NOT rank your held-out photos better than the current model: consider discarding it."
        )
        self.outcome.setText(
            f"{self._srcc_line(result)} {verdict}\n"
            f"Accept to make '{result.name}' the active model and re-score; Discard to delete it."
        )
        self._set_state("done")
        self._fit()
        self.status_changed.emit("Fine-tuned model ready: review…")

    def _on_unusable(self, result: FinetuneResult, message: str) -> None:
        self.result_info = result
        self.error = message
        self._stop_thread()
        self.eta.setText(self._elapsed())
        self.outcome.setText(
            f"{self._srcc_line(result)}\nBut the saved model could not be loaded back and used, so it cannot be"
            f" accepted: {message}\nDiscard deletes it."
        )
        self._set_state("unusable")
        self._fit()
        self.status_changed.emit("Fine-tuned model cannot be used: review…")

    def _on_failed(self, message: str) -> None:
        self.error = message
        self._stop_thread()
        self.eta.setText("")
        self.outcome.setText(f"Fine-tuning failed: {message}")
        self._set_state("failed")
        self._fit()
        self.status_changed.emit("Fine-tuning failed: details…")

    def _on_cancelled(self) -> None:
        self._stop_thread()
        self.eta.setText("Cancelled; nothing was saved.")
        self._set_state("cancelled")
        self.status_changed.emit("")

    def accept_model(self) -> None:
        if self.result_info is None or self.state != "done":
            return
        self.model_accepted.emit(self.result_info.name)
        self.accept()

    def discard(self) -> None:
        if self.result_info is not None and self.result_info.path.exists():
            from ..model_store import trash_profile

            trash_profile(self.result_info.path)
        self.result_info = None
        self._set_state("discarded")
        self.reject()

    def done(self, code: int) -> None:  # every way of closing
        if self.busy:  # training goes on in the background; the status bar brings the dialog back
            self.hide()
            return
        if self.state in ("done", "unusable") and code != QDialog.DialogCode.Accepted and self.result_info is not None:
            self.discard()
            return
        self._stop_thread()
        super().done(code)


def _display_name(model: str) -> str:
    """The name of the profile a model setting stands for ("default" → "loda-default"), for the dialog's text."""
    from ..model_store import resolve_model

    try:
        return resolve_model(model).name
    except Exception:  # an unusable setting: training will say why; the text just shows the setting
        return model
