"""Load: 20,000 small photos scanned and scored, by ``loda score`` and by the window (a benchmark, not a test).

1. Generates ``--photos`` small JPEGs (160×120, smooth random colours; cached in ``--workdir``).
2. ``loda score FOLDER`` in a child process on a fresh catalog: wall time, photos/s and the child's peak RSS
   (``wait4``'s ``ru_maxrss``), then the same command again (everything from the catalog).
3. The window (offscreen, :mod:`benchmarks.ui_stalls` in a child process, fresh catalog): the longest gap of a
   10 ms ``QTimer`` on the UI thread while the folder is listed and scored (target: no stall over 250 ms), and
   the child's peak RSS.

The model is ``loda_tiny`` (random weights, ~0.3 M trainable parameters: scoring cost is decoding plus a small
network) with 1 crop per photo, so 20,000 photos fit in minutes on 2 CPU cores; the default model costs ~5x more
per crop and changes neither the catalog's nor the window's load, which is what this measures.

    .venv/bin/python benchmarks/load_20k.py                   # 20,000 photos, both phases
    .venv/bin/python benchmarks/load_20k.py --photos 5000 --skip-window
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_photos(folder: Path, count: int) -> None:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        sub = folder / f"day{i // 2000:02d}"  # 2,000 a folder, as a camera card does
        path = sub / f"IMG_{i:05d}.jpg"
        if path.exists():
            continue
        sub.mkdir(exist_ok=True)
        small = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
        Image.fromarray(small).resize((160, 120), Image.Resampling.BICUBIC).save(path, quality=85)


def run_child(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int, float, float, str]:
    """(exit status, seconds, peak RSS in MiB, combined output) of a child process, its own rusage."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        return proc.returncode, seconds, usage.ru_maxrss / 1024, out.read().decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "loda-load")
    parser.add_argument("--crops", type=int, default=1)
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--skip-window", action="store_true")
    parser.add_argument("--timeout", type=float, default=4 * 3600)
    args = parser.parse_args(argv)

    folder = args.workdir / f"photos-{args.photos}"
    started = time.perf_counter()
    make_photos(folder, args.photos)
    print(f"{args.photos:,} photos in {folder} ({time.perf_counter() - started:.1f} s)", flush=True)
    python = sys.executable
    if not args.skip_cli:
        env = {**os.environ, "LODA_HOME": tempfile.mkdtemp(prefix="loda-load-cli-"), "LODA_AUTO_ONNX": "0"}
        score = [python, "-m", "loda_desktop.cli", "score", str(folder), "--model", "loda_tiny"]
        score += ["--crops", str(args.crops), "--csv", os.devnull]
        for label in ("loda score, fresh catalog", "loda score again (all cached)"):
            code, seconds, rss, output = run_child(score, env, args.timeout)
            summary = [line for line in output.splitlines() if " photos: " in line]
            rate = args.photos / seconds
            print(f"{label}: exit {code}, {seconds:.1f} s, {rate:.1f} photos/s, peak RSS {rss:.0f} MiB")
            print(f"  {summary[-1] if summary else output[-500:]}", flush=True)
    if not args.skip_window:
        env = {**os.environ, "LODA_BUNDLED_MODELS": tempfile.mkdtemp(prefix="loda-no-bundled-")}
        stalls = [python, str(ROOT / "benchmarks" / "ui_stalls.py"), "--folder", str(folder)]
        stalls += ["--crops", str(args.crops), "--timeout", str(args.timeout)]
        code, seconds, rss, output = run_child(stalls, env, args.timeout + 60)
        print(f"window (offscreen), fresh catalog: exit {code}, {seconds:.1f} s, peak RSS {rss:.0f} MiB")
        for line in output.splitlines():
            if re.search(r"stall|photos/s|gaps|longest|model loaded|scored|PASS|FAIL|command", line, re.IGNORECASE):
                print(f"  {line.strip()}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
