"""The main toolbar: open and export, the view mode, then the sort order, the filters and the thumbnail size.

The sort and filter widgets act on the proxy directly; :class:`ViewToolBar` keeps the table header's sort
indicator and the sort box in step both ways, and fits the "Score ≥" box to the scores seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSlider,
    QToolBar,
    QToolButton,
    QWidget,
)

from .models import SORT_KEYS, PhotoFilterProxy, stars
from .views import CELL_SIZES

__all__ = ["ViewToolBar"]


def _arrow(order: Qt.SortOrder) -> str:
    return "↑" if order == Qt.SortOrder.AscendingOrder else "↓"


class OwnReturn(QObject):
    """Return and Enter in the toolbar's fields are theirs (commit the value): the loupe's shortcut (Return),
    whose action is on this toolbar too, would otherwise take them, the toolbar being one of its widgets."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return True
        return False


class ScoreBox(QDoubleSpinBox):
    """The "Score ≥" box: clearing it (or typing "any") means no threshold, as stepping down to "any" does;
    Return commits it and stays in it (it does not open the loupe too)."""

    def validate(self, text: str, pos: int) -> object:
        if self._means_any(text):
            return QValidator.State.Acceptable, text, pos
        return super().validate(text, pos)

    def valueFromText(self, text: str) -> float:
        return self.minimum() if self._means_any(text) else super().valueFromText(text)

    def _means_any(self, text: str) -> bool:
        cleaned = text.strip().casefold()
        return cleaned == "" or cleaned == self.specialValueText().casefold()


class ViewToolBar(QToolBar):
    """``sorted`` follows every re-sort (from the sort box or the table header): keep the current photo in sight."""

    sorted = Signal()

    def __init__(
        self,
        actions: Mapping[str, QAction],
        proxy: PhotoFilterProxy,
        header: QHeaderView,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Main", parent)
        self.setObjectName("mainToolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.proxy = proxy
        self.header = header
        self.score_range: tuple[float, float] | None = None
        self.addAction(actions["open"])
        self.addAction(actions["export"])
        self.addSeparator()
        for name in ("grid", "table", "loupe", "compare", "survey"):
            self.addAction(actions[name])
        self.addSeparator()
        self._add_sort()
        self.addAction(actions["resort"])
        self.resort_button = self.widgetForAction(actions["resort"])
        self.resort_button.setObjectName("resortButton")
        self.addSeparator()
        self.addAction(actions["hide_rejected"])
        self._add_filters()
        self.addSeparator()
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self.zoom_slider.setObjectName("zoom")
        self.zoom_slider.setRange(0, len(CELL_SIZES) - 1)
        self.zoom_slider.setValue(CELL_SIZES.index(176))
        self.zoom_slider.setMaximumWidth(100)
        self.zoom_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.zoom_slider.setToolTip("Thumbnail size (Ctrl++ / Ctrl+-)")
        self.addWidget(self.zoom_slider)

        self.sort_combo.currentTextChanged.connect(lambda _text: self.apply_sort())
        self.order_button.toggled.connect(lambda _on: self.apply_sort())
        header.sortIndicatorChanged.connect(self.follow_header)
        self.min_score.valueChanged.connect(self._on_min_score)
        self.min_rating.currentIndexChanged.connect(proxy.set_min_rating)
        self.search.textChanged.connect(proxy.set_text)
        self._own_return = OwnReturn(self)
        for field in (self.min_score, self.min_rating, self.search):
            field.installEventFilter(self._own_return)

    def _add_sort(self) -> None:
        self.addWidget(QLabel(" Sort "))
        self.sort_combo = QComboBox()
        self.sort_combo.setObjectName("sortCombo")
        self.sort_combo.addItems(list(SORT_KEYS))
        self.sort_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.addWidget(self.sort_combo)
        self.order_button = QToolButton()
        self.order_button.setObjectName("orderButton")
        self.order_button.setCheckable(True)
        self.order_button.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.order_button.setToolTip("Reverse the order")
        self.addWidget(self.order_button)

    def _add_filters(self) -> None:
        self.addWidget(QLabel(" Score ≥ "))
        self.min_score = ScoreBox()
        self.min_score.setObjectName("minScore")
        self.min_score.setDecimals(3)
        self.min_score.setRange(-1.0, 1.0)
        self.min_score.setSingleStep(0.01)
        self.min_score.setSpecialValueText("any")
        self.min_score.setValue(self.min_score.minimum())
        self.min_score.setKeyboardTracking(False)
        self.min_score.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.addWidget(self.min_score)
        self.addWidget(QLabel(" Rating ≥ "))
        self.min_rating = QComboBox()
        self.min_rating.setObjectName("minRating")
        self.min_rating.addItems(["any", *(stars(n) for n in range(1, 6))])
        self.min_rating.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.addWidget(self.min_rating)
        self.addSeparator()
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Filter by name")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(180)
        self.addWidget(self.search)

    # -- sorting --------------------------------------------------------------------------------------------------
    def apply_sort(self) -> None:
        name = self.sort_combo.currentText()
        if name not in SORT_KEYS:
            return
        column, natural = SORT_KEYS[name]
        order = natural
        if self.order_button.isChecked():
            descending = natural == Qt.SortOrder.DescendingOrder
            order = Qt.SortOrder.AscendingOrder if descending else Qt.SortOrder.DescendingOrder
        self.order_button.setText(_arrow(order))
        self.proxy.sort(column, order)
        self.header.blockSignals(True)
        self.header.setSortIndicator(column, order)
        self.header.blockSignals(False)
        self.sorted.emit()

    def sort_by(self, name: str, reverse: bool = False) -> None:
        """Sort as the toolbar does: one of "Score", "Name", "Capture date", "Rating"."""
        if name not in SORT_KEYS:
            raise ValueError(f"unknown sort key {name!r}; use one of {', '.join(SORT_KEYS)}")
        self.order_button.blockSignals(True)
        self.order_button.setChecked(reverse)
        self.order_button.blockSignals(False)
        if self.sort_combo.currentText() == name:
            self.apply_sort()
        else:
            self.sort_combo.setCurrentText(name)

    def restore_sort(self, name: str, reverse: bool) -> None:
        """Set the saved order without sorting twice (``apply_sort`` follows)."""
        self.sort_combo.blockSignals(True)
        self.sort_combo.setCurrentText(name if name in SORT_KEYS else "Score")
        self.sort_combo.blockSignals(False)
        self.order_button.blockSignals(True)
        self.order_button.setChecked(reverse)
        self.order_button.blockSignals(False)
        self.apply_sort()

    def follow_header(self, column: int, order: Qt.SortOrder) -> None:
        """A click on the table header sorted the proxy: show that order in the sort box."""
        for name, (key_column, natural) in SORT_KEYS.items():
            if key_column == column:
                self.sort_combo.blockSignals(True)
                self.sort_combo.setCurrentText(name)
                self.sort_combo.blockSignals(False)
                self.order_button.blockSignals(True)
                self.order_button.setChecked(order != natural)
                self.order_button.setText(_arrow(order))
                self.order_button.blockSignals(False)
                break
        self.sorted.emit()

    # -- filters and size -------------------------------------------------------------------------------------------
    def set_score_range(self, lo: float, hi: float) -> None:
        """Fit the "Score ≥" box to the scores seen: a step of about 1/100 of the range, "any" below it."""
        span = max(hi - lo, 1e-6)
        step = 10 ** math.floor(math.log10(span / 10))
        low, high = math.floor(lo / step) * step, math.ceil(hi / step) * step
        if self.score_range == (low, high):
            return
        self.score_range = (low, high)
        box = self.min_score
        was_any = box.value() <= box.minimum()
        current = box.value()
        box.blockSignals(True)
        decimals = max(0, min(6, -math.floor(math.log10(step))))
        box.setDecimals(decimals)
        box.setSingleStep(step)
        box.setRange(low - step, high)
        box.setValue(box.minimum() if was_any else min(max(current, low), high))
        box.blockSignals(False)

    def _on_min_score(self, value: float) -> None:
        self.proxy.set_min_score(None if value <= self.min_score.minimum() else value)

    def zoom(self, step: int) -> None:
        self.zoom_slider.setValue(self.zoom_slider.value() + step)

    def set_cell(self, cell: int) -> None:
        """Move the size slider to the size nearest ``cell`` pixels."""
        self.zoom_slider.setValue(min(range(len(CELL_SIZES)), key=lambda i: abs(CELL_SIZES[i] - cell)))
