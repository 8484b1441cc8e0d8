"""``kill -9`` in the middle of ``loda score`` on a folder, then the same command again: every photo scored,
every score committed before the kill kept as it was, the catalog intact (issue 26, "Done when")."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from loda_desktop.catalog import Catalog
from loda_desktop.cli import main
from loda_desktop.paths import catalog_path
from tests.app.badfiles import photo

PHOTOS = 60


def _committed(db) -> dict[str, float]:
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "SELECT p.path, s.score FROM scores s JOIN photos p ON p.id = s.photo_id WHERE s.status = 'ok'"
        ).fetchall()
    except sqlite3.OperationalError:  # the schema is being created
        return {}
    finally:
        conn.close()
    return dict(rows)


def test_sigkill_mid_score_then_rerun_loses_nothing(tmp_path, capsys):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(PHOTOS):
        photo(folder / f"img_{i:03d}.jpg", size=(640, 480), seed=i)
    db = catalog_path()
    cmd = [sys.executable, "-m", "loda_desktop.cli", "score", str(folder), "--crops", "2", "--batch", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 300
    try:
        while len(_committed(db)) < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    before = _committed(db)
    assert 5 <= len(before) < PHOTOS
    with Catalog(db) as cat:
        assert cat._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    assert main(["score", str(folder), "--crops", "2", "--batch", "4"]) == 0
    summary = capsys.readouterr().err
    assert (
        f"{PHOTOS} photos: {PHOTOS - len(before)} scored now, {len(before)} already in the catalog, 0 failed" in summary
    )
    after = _committed(db)
    assert len(after) == PHOTOS
    assert all(after[path] == score for path, score in before.items())  # committed scores kept as they were
