"""Small files for tests of the catalog and of file actions."""

from __future__ import annotations

from pathlib import Path


def write(path: Path, content: bytes = b"photo") -> Path:
    """Write ``content`` to ``path``, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path
