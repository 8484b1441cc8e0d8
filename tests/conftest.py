"""Shared test fixtures: keep every test away from the developer's real settings, catalog and caches."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never download: huggingface_hub reads this once, at import, so it is set before anything imports it.
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch, request):
    """Point LODA_HOME (all user dirs of the app) and the HF/torch caches at a fresh temp dir.

    The bundled default model is hidden too (an empty bundled folder), so tests run the small untrained
    ``loda_tiny`` unless they ask for the shipped profile with ``@pytest.mark.bundled_model``; and backend
    ``auto`` uses torch unless a test asks for its cached ONNX Runtime export with ``@pytest.mark.auto_onnx``."""
    home = tmp_path_factory.mktemp("loda_home")
    monkeypatch.setenv("LODA_HOME", str(home))
    if request.node.get_closest_marker("bundled_model") is None:
        monkeypatch.setenv("LODA_BUNDLED_MODELS", str(home / "no-bundled-models"))
    if request.node.get_closest_marker("auto_onnx") is None:
        monkeypatch.setenv("LODA_AUTO_ONNX", "0")  # backend "auto" scores with torch: no export in every test
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg_data"))
    yield home


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for tests of small networks and small images: a second thread gains nothing
    there, and on a busy 2-core machine OpenMP threads spin-waiting for each other slow the steps several-fold."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
