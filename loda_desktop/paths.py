"""Where the application keeps its files, and how it writes them safely.

User directories come from platformdirs (app name ``loda-desktop``). When the environment variable
``LODA_HOME`` is set, every directory lives under it instead (``$LODA_HOME/data``, ``/config``, ``/cache``):
tests point it at a temp dir, and a portable build points it next to the executable.

Every directory function creates its directory on demand.

:func:`atomic_write` is the one way this package replaces a file (settings, CSV/JSON exports, sidecars):
write a temporary file in the same directory, flush it to disk, then ``os.replace`` it into place, so a
reader sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import platformdirs

APP_NAME = "loda-desktop"
HOME_ENV = "LODA_HOME"

__all__ = [
    "APP_NAME",
    "HOME_ENV",
    "atomic_write",
    "cache_dir",
    "catalog_path",
    "config_dir",
    "data_dir",
    "models_dir",
    "settings_path",
]


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser().absolute() if value else None


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
    file gets the permission bits of the file it replaces, or the usual umask-based ones for a new file.

    >>> with atomic_write(out, newline="") as f:  # doctest: +SKIP
    ...     f.write("a,b\\n")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write supports mode 'w' or 'wb', not {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        perms = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        perms = None
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
            binary = "b" in mode
            text = {} if binary else {"encoding": encoding, "newline": newline, "errors": errors}
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
