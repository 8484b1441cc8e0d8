"""Where the application keeps its files, and how it writes them safely.

User directories come from platformdirs (app name ``loda-desktop``). When the environment variable
``LODA_HOME`` is set, every directory lives under it instead (``$LODA_HOME/data``, ``/config``, ``/cache``):
tests point it at a temp dir. Portable mode (``LODA_PORTABLE=1``, or a file ``portable.txt`` beside the
executable, e.g. on a USB stick) keeps them in ``loda-data`` beside the executable instead: see :func:`portable_home`.

Every directory function creates its directory on demand.

:func:`atomic_write` is the one way this package replaces a file (settings, CSV/JSON exports, sidecars):
write a temporary file in the same directory, flush it to disk, then ``os.replace`` it into place, so a
reader sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import platformdirs

APP_NAME = "loda-desktop"
HOME_ENV = "LODA_HOME"
PORTABLE_ENV = "LODA_PORTABLE"
PORTABLE_MARKER = "portable.txt"
PORTABLE_DIR = "loda-data"

__all__ = [
    "APP_NAME",
    "HOME_ENV",
    "PORTABLE_DIR",
    "PORTABLE_ENV",
    "PORTABLE_MARKER",
    "atomic_write",
    "cache_dir",
    "catalog_path",
    "config_dir",
    "data_dir",
    "models_dir",
    "portable_home",
    "settings_path",
]


def portable_home() -> Path | None:
    """``loda-data`` beside the executable (the bundled app's, else Python's) in portable mode: when
    ``$LODA_PORTABLE`` is ``1`` or a ``portable.txt`` lies beside the executable; None otherwise."""
    beside = Path(sys.executable).absolute().parent
    if os.environ.get(PORTABLE_ENV, "").strip() == "1" or (beside / PORTABLE_MARKER).is_file():
        return beside / PORTABLE_DIR
    return None


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser().absolute() if value else portable_home()


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Per-user data: the catalog, model profiles."""
    home = _home()
    if home is not None:
        return _ensure(home / "data")
    return _ensure(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))


def config_dir() -> Path:
    """Per-user configuration: ``settings.json``."""
    home = _home()
    if home is not None:
        return _ensure(home / "config")
    return _ensure(Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)))


def cache_dir() -> Path:
    """Per-user cache (thumbnails and other things that can be rebuilt)."""
    home = _home()
    if home is not None:
        return _ensure(home / "cache")
    return _ensure(Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)))


def models_dir() -> Path:
    """Model profiles the user installed or fine-tuned: ``data_dir()/models``."""
    return _ensure(data_dir() / "models")


def catalog_path() -> Path:
    """The default catalog file, ``data_dir()/catalog.sqlite3``."""
    return data_dir() / "catalog.sqlite3"


def settings_path() -> Path:
    """The settings file, ``config_dir()/settings.json``."""
    return config_dir() / "settings.json"


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
    errors: str | None = None,
) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on a clean exit, flush, fsync and rename it onto ``path``.

    If the block raises, the temporary file is removed and an existing ``path`` is left untouched. The new
    file gets the permission bits of the file it replaces, or the usual umask-based ones for a new file. A
    ``path`` that is not a regular file (``/dev/null``, ``/dev/stdout``, a pipe) is written in place.

    >>> with atomic_write(out, newline="") as f:  # doctest: +SKIP
    ...     f.write("a,b\\n")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write supports mode 'w' or 'wb', not {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    binary = "b" in mode
    text = {} if binary else {"encoding": encoding, "newline": newline, "errors": errors}
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        # /dev/null, /dev/stdout, a named pipe: written in place. A file renamed onto it would replace the device
        # itself (as root, /dev/null became a regular file), and "atomic" means nothing for a stream anyway.
        with open(target, mode, **text) as f:
            yield f
        return
    perms = st.st_mode & 0o7777 if st is not None else None
    # O_EXCL on a random name: never clobber another writer's temp file.
    while True:
        tmp = directory / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        try:
            f = os.fdopen(fd, mode, **text)
        except BaseException:
            os.close(fd)
            raise
        if perms is not None:
            with contextlib.suppress(OSError):
                os.chmod(tmp, perms)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
