"""Small files for tests of the catalog and of file actions."""

from __future__ import annotations

from pathlib import Path


def write(path: Path, content: bytes = b"photo") -> Path:
    """Write ``content`` to ``path``, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def read_export_csv(path: Path | str) -> list[dict[str, str]]:
    """The rows of a CSV the app exported, after checking its header is the export's."""
    import csv

    from loda_desktop.export import CSV_COLUMNS

    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == CSV_COLUMNS
        return list(reader)
