"""Build a one-folder LoDa Desktop app into ``dist/`` and check it: ``python packaging/build.py [--pro]``.

1. exports the bundled default profile for ONNX Runtime (``assets/models/loda-default.onnx``, 25 MB, not in git)
   with ``loda export-onnx``, unless an export newer than the profile is there already (the build environment
   needs torch: the dev install);
2. runs PyInstaller on ``packaging/loda-desktop.spec`` (``LODA_BUNDLE=score`` or ``pro``);
3. runs the result's ``loda --version`` and ``--selftest`` and ``loda-desktop --selftest`` in a clean environment
   (no virtual environment on PATH, a fresh HOME, Qt offscreen), as on a machine that never saw the project;
4. prints the bundle's size and the time taken.

Exit status 0 only when every step passed.
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "assets" / "models" / "loda-default.safetensors"
ONNX_DEFAULT = PROFILE.with_suffix(".onnx")
SPEC = ROOT / "packaging" / "loda-desktop.spec"


def export_default() -> None:
    if ONNX_DEFAULT.is_file() and ONNX_DEFAULT.stat().st_mtime >= PROFILE.stat().st_mtime:
        print(f"[build] {ONNX_DEFAULT.relative_to(ROOT)} is up to date")
        return
    print(f"[build] exporting {PROFILE.name} for ONNX Runtime")
    command = [sys.executable, "-m", "loda_desktop.cli", "export-onnx", "--model", str(PROFILE)]
    subprocess.run([*command, "--out", str(ONNX_DEFAULT)], check=True, cwd=ROOT)


def pyinstaller(flavour: str, dist: Path, work: Path) -> None:
    print(f"[build] PyInstaller ({flavour}) into {dist}")
    env = os.environ | {"LODA_BUNDLE": flavour}
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
    subprocess.run([*command, "--distpath", str(dist), "--workpath", str(work), str(SPEC)], check=True, env=env)


def check_devnull() -> None:
    """Stop when /dev/null is no longer the null device: ``ctypes.util.find_library`` for a missing library runs
    ``ld -o /dev/null``, which deletes it when run as root (the spec keeps Windows-only ctypes code out for this)."""
    if os.name == "posix" and not stat.S_ISCHR(os.stat(os.devnull).st_mode):
        raise SystemExit(f"[build] {os.devnull} was replaced during the build; as root: mknod -m 666 /dev/null c 1 3")


def clean_env(home: Path) -> dict[str, str]:
    """What a fresh desktop session has: system PATH, an empty HOME, no Python or project variables."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"}


def check(app: Path) -> None:
    """``--version`` and ``--selftest`` of both executables; CalledProcessError when one fails."""
    suffix = ".exe" if os.name == "nt" else ""
    with tempfile.TemporaryDirectory(prefix="loda-bundle-home-") as home:
        env = clean_env(Path(home)) if os.name == "posix" else None
        for exe, flag in (("loda", "--version"), ("loda", "--selftest"), ("loda-desktop", "--selftest")):
            print(f"[build] {exe} {flag}: ", end="", flush=True)
            command = [str(app / f"{exe}{suffix}"), flag]
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            print(out.stdout.strip() or out.stderr.strip())


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pro", action="store_true", help="LoDa Desktop Pro: with torch (fine-tuning, CUDA)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder (build/)")
    args = parser.parse_args(argv)
    flavour = "pro" if args.pro else "score"
    started = time.perf_counter()
    try:
        export_default()
        pyinstaller(flavour, args.dist, args.work)
        check_devnull()
        app = args.dist / ("loda-desktop-pro" if args.pro else "loda-desktop")
        check(app)
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or "").strip().splitlines()[-1:] if isinstance(exc.stderr, str) else []
        print(f"[build] FAILED: {' '.join(map(str, exc.cmd))} exited {exc.returncode} {' '.join(detail)}")
        return 1
    minutes = (time.perf_counter() - started) / 60
    print(f"[build] {app}: {folder_size(app) / 2**20:.0f} MB unpacked, built and checked in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
