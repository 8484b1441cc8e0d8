"""The score-only app's window (issue 24): fine-tuning says it needs LoDa Desktop Pro instead of failing."""

from __future__ import annotations

from loda_desktop.model_store import SCORE_ONLY_ENV


def _drive(qapp, monkeypatch, score_only: bool) -> dict:
    from loda_desktop.ui import app as app_module

    if score_only:
        monkeypatch.setenv(SCORE_ONLY_ENV, "1")
    shown, seen = [], {}
    monkeypatch.setattr(app_module.QMessageBox, "information", lambda parent, title, text: shown.append(text))

    def run(app, window):
        seen["text"] = window.finetune_action.text()
        if score_only:
            window.finetune_action.trigger()
        seen["dialog"] = window.finetune_dialog
        return 0

    monkeypatch.setattr(app_module, "_run", run)
    palette = qapp.palette()
    try:
        assert app_module.main([]) == 0
    finally:
        qapp.setPalette(palette)
    return {"shown": shown, **seen}


def test_score_only_window_says_fine_tuning_needs_pro(qapp, monkeypatch):
    seen = _drive(qapp, monkeypatch, score_only=True)
    assert "needs LoDa Desktop Pro" in seen["text"]
    assert len(seen["shown"]) == 1 and "LoDa Desktop Pro" in seen["shown"][0] and seen["dialog"] is None


def test_full_window_keeps_fine_tuning(qapp, monkeypatch):
    seen = _drive(qapp, monkeypatch, score_only=False)
    assert seen["text"] == "&Fine-tune on My Ratings…" and seen["shown"] == []
