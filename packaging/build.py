"""Build a one-folder LoDa Desktop app into ``dist/`` and check it: ``python packaging/build.py [--pro]``.

1. exports the bundled default profile for ONNX Runtime (``assets/models/loda-default.onnx``, 25 MB, not in git),
   stamped with the profile's SHA-256, unless an export of this very profile is there already (the build
   environment needs torch: the dev install). ``--export-only`` stops there: what a checkout (``pip install -e``)
   runs once so that its first ``loda score`` or window need not export the model;
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


def export_default() -> Path:
    """The bundled default model ready for ONNX Runtime: ``assets/models/loda-default.onnx``, exported and stamped
    with the profile's SHA-256 (:func:`loda_desktop.model_store.write_shipped_export`) unless a valid one is there.
    The app then never exports on a user's machine: the score-only app scores this file, and an app or a checkout
    with torch finds it beside the profile (:func:`~loda_desktop.model_store.shipped_onnx_export`)."""
    sys.path.insert(0, str(ROOT))
    from loda_desktop.model_store import resolve_model, shipped_onnx_export, write_shipped_export

    profile = resolve_model(str(PROFILE))
    if shipped_onnx_export(profile) is not None:
        print(f"[build] {ONNX_DEFAULT.relative_to(ROOT)} is up to date (made from this profile)")
        return ONNX_DEFAULT
    print(f"[build] exporting {PROFILE.name} for ONNX Runtime")
    started = time.perf_counter()
    out = write_shipped_export(profile)
    print(f"[build] wrote {out.relative_to(ROOT)} in {time.perf_counter() - started:.1f} s")
    return out


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
    parser.add_argument("--export-only", action="store_true", help="only export the default model (step 1)")
    args = parser.parse_args(argv)
    flavour = "pro" if args.pro else "score"
    started = time.perf_counter()
    try:
        try:
            export_default()
        except Exception as exc:  # an export that fails its check against torch, a damaged profile...
            print(f"[build] FAILED: exporting {PROFILE.name}: {exc}")
            return 1
        if args.export_only:
            return 0
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
