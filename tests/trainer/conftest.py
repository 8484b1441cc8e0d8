"""Fixtures for the trainer tests: tiny real image files in whatever format a dataset release uses."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

_FORMATS = {".bmp": "BMP", ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}


@pytest.fixture(scope="session")
def _image_bytes() -> dict[str, bytes]:
    out = {}
    image = Image.new("RGB", (8, 8), (120, 60, 30))
    for ext, fmt in _FORMATS.items():
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        out[ext] = buffer.getvalue()
    return out


@pytest.fixture
def write_image(_image_bytes) -> Callable[[Path], Path]:
    """write_image(path): an 8×8 RGB image in the format its suffix names (any case); parents created."""

    def write(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_image_bytes[path.suffix.lower()])
        return path

    return write
