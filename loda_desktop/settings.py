"""The application's settings: one typed, versioned schema stored as ``config_dir()/settings.json``.

Rules:

- A missing file gives the defaults.
- Unknown keys are ignored (a newer or older version may have written them).
- A key with an invalid value (wrong type, unknown choice, out of range) falls back to its default, with a
  logged warning; the other keys keep their stored values.
- A file that is not valid JSON (or not a JSON object) is copied to ``settings.json.bak`` before the
  defaults are used, so a later :func:`save_settings` never silently destroys what the user had.
- :func:`save_settings` writes atomically (temporary file in the same directory, then ``os.replace``).

Validation of choices and ranges lives in one place, :data:`FIELD_RULES`; constructing a :class:`Settings`
with a bad value raises ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from loda_desktop.bursts import BURST_SIMILARITY
from loda_desktop.paths import atomic_write, settings_path

logger = logging.getLogger(__name__)

SETTINGS_VERSION = 2

__all__ = [
    "FIELD_RULES",
    "SETTINGS_VERSION",
    "Settings",
    "load_settings",
    "load_settings_reporting",
    "save_settings",
    "validate_field",
]


@dataclass(frozen=True)
class _Rule:
    """What one field accepts: a type and either a set of choices or an inclusive range (a ``float`` field
    accepts an integer too, as JSON writes ``2.0`` as ``2`` in some hands, and only finite numbers)."""

    kind: type
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    nonempty: bool = False


FIELD_RULES: dict[str, _Rule] = {
    "version": _Rule(int, minimum=1),
    "model": _Rule(str, nonempty=True),
    "backend": _Rule(str, choices=("auto", "torch", "onnx")),
    "device": _Rule(str, choices=("auto", "cpu", "cuda")),
    "crops": _Rule(int, minimum=1, maximum=256),
    "batch_size": _Rule(int, minimum=1, maximum=4096),
    "threads": _Rule(int, minimum=0, maximum=1024),
    "xmp_sidecars": _Rule(str, choices=("off", "lightroom", "darktable")),
    "detail_crops": _Rule(int, minimum=0, maximum=64),
    "burst_gap_s": _Rule(float, minimum=0.0, maximum=3600.0),
    "burst_similarity": _Rule(float, minimum=0.0, maximum=1.0),
}


def validate_field(name: str, value: Any) -> str | None:
    """Return why ``value`` is not acceptable for field ``name``, or ``None`` when it is."""
    rule = FIELD_RULES[name]
    # bool is an int subclass; `"crops": true` is a mistake, not 1.
    kinds = (float, int) if rule.kind is float else (rule.kind,)
    if not isinstance(value, kinds) or isinstance(value, bool):
        return f"{name} must be {rule.kind.__name__}, got {type(value).__name__} {value!r}"
    if rule.kind is float and not math.isfinite(value):
        return f"{name} must be a finite number, got {value!r}"
    if rule.nonempty and not str(value).strip():
        return f"{name} must not be empty"
    if rule.choices is not None and value not in rule.choices:
        allowed = ", ".join(repr(c) for c in rule.choices)
        return f"{name} must be one of {allowed}, got {value!r}"
    if rule.minimum is not None and value < rule.minimum:
        return f"{name} must be >= {rule.minimum}, got {value!r}"
    if rule.maximum is not None and value > rule.maximum:
        return f"{name} must be <= {rule.maximum}, got {value!r}"
    return None


@dataclass
class Settings:
    """User settings. Field names are the JSON keys."""

    version: int = SETTINGS_VERSION
    model: str = "default"  # model profile name or path
    backend: str = "auto"  # "auto" (ONNX Runtime on a CPU when it can, else torch) | "torch" | "onnx"
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    crops: int = 5  # test-time crops averaged per photo: 5 cover a 384-px photo; the paper evaluates with 15
    batch_size: int = 32  # crops per inference batch
    threads: int = 0  # CPU threads for inference; 0 = the library's default
    # write ratings, flags and labels to XMP sidecars on every change: "off", "lightroom" (NAME.xmp; Lightroom,
    # Bridge, Capture One) or "darktable" (NAME.EXT.xmp; darktable, digiKam). See loda_desktop.sidecar_sync.
    xmp_sidecars: str = "off"
    # detail crops per photo at native resolution (model.scorer), scored besides the global view and combined
    # with it into the score the grid sorts by; 0 turns them off (the score is then the global view's alone)
    detail_crops: int = 4
    # bursts (loda_desktop.bursts): two frames shot at most this many seconds apart (EXIF capture times) ...
    burst_gap_s: float = 2.0
    # ... whose embeddings (the model's own features) have at least this cosine similarity are one burst
    burst_similarity: float = BURST_SIMILARITY

    def __post_init__(self) -> None:
        problems = [p for f in fields(self) if (p := validate_field(f.name, getattr(self, f.name)))]
        if problems:
            raise ValueError("invalid settings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Build settings from a (possibly old, partial or damaged) dict, never raising for bad values."""
        data = _migrate(dict(data))
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "version" or f.name not in data:
                continue
            problem = validate_field(f.name, data[f.name])
            if problem:
                logger.warning("settings: %s; using the default %r", problem, getattr(defaults, f.name))
                continue
            values[f.name] = float(data[f.name]) if FIELD_RULES[f.name].kind is float else data[f.name]
        return cls(**values)


# Migrations: version N -> N + 1, each a function of the raw dict. Add one here when the schema changes.
def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no backend "auto" and wrote its default "torch" into every file; "auto" gives the same
    scores (ONNX Runtime on a CPU, checked against torch at export), about twice as fast."""
    if data.get("backend") == "torch":
        data["backend"] = "auto"
    return data


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        logger.warning("settings: bad version %r, reading as version 1", version)
        version = 1
    if version > SETTINGS_VERSION:
        logger.warning(
            "settings: file is version %d, newer than this app (%d); reading the keys it knows",
            version,
            SETTINGS_VERSION,
        )
    while version < SETTINGS_VERSION:
        data = _MIGRATIONS[version](data)
        version += 1
    data["version"] = SETTINGS_VERSION
    return data


def _backup_corrupt(path: Path, reason: str) -> None:
    backup = path.with_name(path.name + ".bak")
    try:
        shutil.copy2(path, backup)
    except OSError as exc:
        logger.warning("settings: %s is unreadable (%s) and could not be backed up: %s", path, reason, exc)
        return
    logger.warning("settings: %s is unreadable (%s); kept a copy at %s; using defaults", path, reason, backup)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read the settings file (default ``config_dir()/settings.json``); never raises for bad content."""
    path = Path(path) if path is not None else settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            _backup_corrupt(path, "not UTF-8 text")
        else:
            logger.warning("settings: cannot read %s (%s); using defaults", path, exc)
        return Settings()
    try:
        data = json.loads(text)
    except ValueError as exc:
        _backup_corrupt(path, f"invalid JSON: {exc}")
        return Settings()
    if not isinstance(data, dict):
        _backup_corrupt(path, f"expected a JSON object, found {type(data).__name__}")
        return Settings()
    return Settings.from_dict(data)


def load_settings_reporting(path: str | Path | None = None) -> tuple[Settings, list[str]]:
    """:func:`load_settings`, and what was wrong with the file (a bad value, a damaged file kept as .bak): the
    warnings it logged, for the window to show."""
    problems: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    try:
        return load_settings(path), problems
    finally:
        logger.removeHandler(handler)


def save_settings(settings: Settings, path: str | Path | None = None) -> Path:
    """Validate and write ``settings`` atomically; returns the file written."""
    settings.__post_init__()  # fields may have been assigned after construction
    path = Path(path) if path is not None else settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, encoding="utf-8", newline="\n") as f:
        json.dump(settings.to_dict(), f, indent=2, sort_keys=True)
        f.write("\n")
    return path
