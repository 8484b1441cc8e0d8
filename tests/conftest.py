"""Shared test fixtures: keep every test away from the developer's real settings, catalog and caches."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never download: huggingface_hub reads this once, at import, so it is set before anything imports it.
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Point LODA_HOME (all user dirs of the app) and the HF/torch caches at a fresh temp dir."""
    home = tmp_path_factory.mktemp("loda_home")
    monkeypatch.setenv("LODA_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg_data"))
    yield home
