"""The notice above the views about the model: it cannot be used, it fell back to the default, or it is untrained."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

__all__ = ["ModelBanner"]


class ModelBanner(QFrame):
    """A coloured bar with the notice (``label``) and, where the user can act on it, a ``button``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bannerBar")
        self.label = QLabel()
        self.label.setObjectName("banner")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.button = QPushButton()
        self.button.setObjectName("bannerButton")
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 8, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.hide()

    def show_state(
        self,
        *,
        engine_error: str | None,
        model_notice: str | None,
        engine_notice: str | None,
        offer_default: bool,
    ) -> None:
        """Show the most pressing notice, or hide: the model cannot be used (with "Use the Default Model" when
        ``offer_default``), the saved model was replaced by the default (Dismiss), the engine's own notice."""
        button = None
        if engine_error:
            text = f"⚠  The model cannot be used: {engine_error}"
            if offer_default:
                button = "Use the Default Model"
            text += "  Your photos, ratings, flags and labels are not affected; they just have no new scores."
            level = "error"
        elif model_notice:
            text, level, button = f"⚠  {model_notice}", "warning", "Dismiss"
        elif engine_notice:
            text, level = f"⚠  {engine_notice}", "warning"
        else:
            self.hide()
            return
        self.label.setText(text)
        self.label.setProperty("level", level)
        self.button.setVisible(button is not None)
        self.button.setText(button or "")
        self.setStyleSheet(
            "QFrame#bannerBar { background: %s; } QLabel#banner { padding: 7px 12px; font-weight: 600;"
            " color: #1b1b1b; }" % ("#f2a33a" if level == "warning" else "#ff8080")
        )
        self.show()
