"""Which photos a scorer really decodes: a photo answered from the catalog is never decoded."""

from __future__ import annotations

import os

from model import scorer as scorer_module


def count_decodes(monkeypatch) -> list[str]:
    """The file names ``BaseScorer.prepare`` is given from now on, in order (the list fills as scoring runs)."""
    seen: list[str] = []
    real = scorer_module.BaseScorer.prepare

    def prepare(self, source):
        seen.append(os.path.basename(str(source)))
        return real(self, source)

    monkeypatch.setattr(scorer_module.BaseScorer, "prepare", prepare)
    return seen
