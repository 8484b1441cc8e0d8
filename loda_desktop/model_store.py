"""Which models exist, which one is active and where their weights are: model resolution, the bundled and user
models folders, the ONNX export cache, and profile management (list, rename, trash, activate, roll back).

Kept apart from :mod:`.engine` (scoring) because far more code needs a model's name or weights than scores
photos: ``loda profiles``, ``loda finetune``, ``loda export-onnx``, the window and its dialogs, the benchmarks.
Plain functions, no Qt; importing it imports no torch (the ONNX-only scoring path uses it).

The active model is ``Settings.model``, written only by :func:`save_active_model` (:func:`activate`, the window,
a rename, a delete and a rollback all go through it). Bundled profiles (``assets/models``) are never renamed or
deleted. A fine-tune's ``parent`` is its base's key (``name@created``), with the digest of the base's tensors; the
parent is found by digest or key, else by its creation stamp (it survives a rename), else by the base name recorded
in ``trained_on``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.profiles import (
    SUFFIX,
    Profile,
    ProfileError,
    config_profile,
    file_digest,
    find_broken,
    find_profiles,
    read_tensors,
    resolve_profile,
    save_profile,
    tensor_digest,
)
from model.profiles import find_parent as find_parent_in

from .paths import cache_dir, models_dir
from .settings import Settings, load_settings, save_settings

log = logging.getLogger(__name__)

__all__ = [
    "AUTO_ONNX_ENV",
    "AUTO_ONNX_MAX_BYTES",
    "BUNDLED_ENV",
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "DEFAULT_PROFILE_NAME",
    "FALLBACK_CONFIG",
    "ONNX_CACHE_VERSION",
    "PAPER_CONFIG",
    "SCORE_ONLY_ENV",
    "SOURCE_KEY",
    "ProfileAdminError",
    "ProfileInfo",
    "activate",
    "active_name",
    "bundled_models_dir",
    "cached_onnx_export",
    "delete_profile",
    "export_here",
    "export_size_estimate",
    "find_parent",
    "list_broken",
    "list_profiles",
    "model_search_dirs",
    "onnx_export_path",
    "rename_profile",
    "resolve_model",
    "rollback",
    "runnable",
    "save_active_model",
    "score_only",
    "shipped_onnx_export",
    "trash_profile",
    "untrained_notice",
    "weights_digest",
    "write_shipped_export",
]

DEFAULT_MODEL = "default"
DEFAULT_PROFILE_NAME = "loda-default"  # the bundled offline model (loda_lite, docs/default-model.md)
PAPER_CONFIG = "loda_vit_base_r50"  # preferred as the default once trained and its backbone weights are here
FALLBACK_CONFIG = "loda_tiny"  # random weights: what runs when no trained model is installed at all
BUNDLED_MODELS = Path(__file__).resolve().parent.parent / "assets" / "models"
AUTO_ONNX_ENV = "LODA_AUTO_ONNX"  # "0": backend auto always uses torch (the tests set it; a user may too)
# bump when the export changes what it writes (2: the detail and embedding outputs); an export made by another
# version, cached or shipped, is not used
ONNX_CACHE_VERSION = 2
SOURCE_KEY = "loda_source"  # ONNX metadata_props key of a shipped export: what it was exported from (JSON)
# Backend auto exports no bigger model: the default model (25 MB) runs 1.9x as fast with ONNX Runtime, the
# paper's loda_vit_base_r50 (a 458 MB export, about 47 s to make) only 1.06-1.08x (docs/performance.md).
AUTO_ONNX_MAX_BYTES = 100 * 2**20
BUNDLED_ENV = "LODA_BUNDLED_MODELS"  # another folder of bundled profiles (a packaged app, or tests: an empty one)
SCORE_ONLY_ENV = "LODA_SCORE_ONLY"  # "1": score with ONNX Runtime only, as the torch-free app does (packaging/)


# -- where models are, and which one a setting names ------------------------------------------------------------
def bundled_models_dir() -> Path:
    """The folder of profiles that ship with the app (``assets/models``, or ``$LODA_BUNDLED_MODELS``)."""
    return Path(os.environ.get(BUNDLED_ENV) or BUNDLED_MODELS)


def model_search_dirs() -> list[Path]:
    """Where model profiles and backbone weights are looked for: the user's models folder, then the bundled ones."""
    return [models_dir(), bundled_models_dir()]


def score_only() -> bool:
    """Whether this process scores with ONNX Runtime only: ``$LODA_SCORE_ONLY`` is ``1``, or torch cannot be
    imported (the score-only app leaves it out). Decided from the import system, without importing torch."""
    if os.environ.get(SCORE_ONLY_ENV, "").strip() == "1":
        return True
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is None
    except (ImportError, ValueError):  # a finder that refuses torch, or a half-imported torch
        return True


def _default_onnx(dirs: Sequence[Path]) -> Profile:
    """The score-only default: ``loda-default.onnx``, the bundled profile exported ahead of time
    (``packaging/build.py``), from the first models folder that has it."""
    from model.onnx_scorer import read_onnx_profile

    name = f"{DEFAULT_PROFILE_NAME}.onnx"
    for folder in dirs:
        if (folder / name).is_file():
            return read_onnx_profile(folder / name)
    where = ", ".join(str(d) for d in dirs)
    raise ProfileError(
        f"this app scores with ONNX Runtime only and its default model {name} is missing (looked in {where});"
        f" export it with `loda export-onnx --model {DEFAULT_PROFILE_NAME} --out {name}` where torch is installed"
    )


def resolve_model(spec: str | None = None) -> Profile:
    """The profile for a model setting: ``default`` (or empty), a profile name, a profile file or a config name.

    ``default`` is, in order: the newest trained profile of the paper's ``loda_vit_base_r50`` whose backbone
    weights are on this machine (e.g. one ``loda train`` wrote on KonIQ-10k, copied into the models folder); the
    profile named ``loda-default`` (the bundled offline model); the untrained ``loda_tiny``. Without torch
    (:func:`score_only`) it is the bundled model's ONNX export, ``loda-default.onnx``.
    """
    dirs = model_search_dirs()
    if (not spec or spec == DEFAULT_MODEL) and score_only():
        return _default_onnx(dirs)
    if not spec or spec == DEFAULT_MODEL:
        profiles = find_profiles(dirs)
        paper = [p for p in profiles if p.config.name == PAPER_CONFIG and p.trained and runnable(p, dirs)]
        if paper:
            return max(paper, key=lambda p: str(p.metadata.get("created") or ""))
        for profile in profiles:
            if profile.name == DEFAULT_PROFILE_NAME:
                return profile
        return config_profile(FALLBACK_CONFIG)
    if str(spec).lower().endswith(".onnx"):  # an exported model: its profile is inside, profile.path is the file
        from model.onnx_scorer import read_onnx_profile

        return read_onnx_profile(spec)
    return resolve_profile(spec, dirs)


def runnable(profile: Profile, dirs: Sequence[Path] | None = None) -> bool:
    """Whether ``profile`` can be built offline: backbones inside it or in the full parent it was fine-tuned
    from, or their weights found on this machine (``dirs``: the models folders by default). Never downloads."""
    dirs = model_search_dirs() if dirs is None else list(dirs)
    if profile.kind == "full" or (profile.path is not None and profile.path.suffix.lower() == ".onnx"):
        return True
    from model.backbones import backbone_weight_files

    if None not in backbone_weight_files(profile.config, dirs):  # the cheap check first: no folder scan, no hash
        return True
    from model.profiles import backbone_parent

    try:
        return backbone_parent(profile, dirs) is not None
    except ProfileError:
        return False


def weights_digest(profile: Profile) -> str | None:
    """SHA-256 of the weights a profile file holds: its tensors (:func:`model.profiles.tensor_digest`, the JSON
    header left out, so a rename keeps it) or a whole ``.onnx`` file; None for a bare config (no file).

    Part of the catalog key of scores (:attr:`loda_desktop.engine.Engine.model_key`): the name and creation stamp
    come from the file's own metadata, which a tampered copy can keep while its weights differ."""
    path = profile.path
    if path is None:
        return None
    if path.suffix.lower() == ".onnx":
        return file_digest(path)
    return tensor_digest(path)


def untrained_notice(profile: Profile) -> str | None:
    """A plain warning when the active model was never trained, else None."""
    if profile.trained:
        return None
    return (
        f"The active model '{profile.name}' is UNTRAINED (random weights): its scores do not measure image quality."
        " Install or train a model profile (see `loda models`)."
    )


# -- the ONNX export cache ----------------------------------------------------------------------------------------
def export_size_estimate(profile: Profile) -> int:
    """Bytes an ONNX export of ``profile`` (a profile file) will take: its float32 weights, from the files on disk.

    A full profile holds every weight; an adapter profile adds its two backbones' weight files.
    """
    if profile.path is None:
        raise ValueError(f"'{profile.name}' is a config, not a profile file")
    size = profile.path.stat().st_size
    if profile.kind != "full":
        from model.backbones import backbone_weight_files
        from model.profiles import backbone_parent

        parent = backbone_parent(profile, model_search_dirs())
        if parent is not None and parent.path is not None:
            return size + parent.path.stat().st_size
        files = backbone_weight_files(profile.config, model_search_dirs())
        size += sum(p.stat().st_size for p in files if p is not None)
    return size


EXPORT_TIMEOUT_S = 900  # the paper's ViT-B model exports in about 47 s here; a hung child is given up on


def export_here(profile_path: str | os.PathLike[str], out: str | os.PathLike[str], *, int8: bool = False) -> None:
    """Export the profile file ``profile_path`` to ``out`` in this process (imports torch)."""
    from model.onnx_export import export_onnx
    from model.profiles import load_model

    profile = resolve_model(os.fspath(profile_path))
    export_onnx(load_model(profile, search_dirs=model_search_dirs()), profile, Path(out), int8=int8)


def _export_in_child(profile: Profile, out: Path) -> None:
    """Run :func:`export_here` in a child Python. The window scores with ONNX Runtime and never needs torch
    itself: importing it there held the GIL for hundreds of milliseconds at a time while a folder was listed,
    and kept about 500 MB for the whole session. Raises RuntimeError (the child's last line) when it fails."""
    import subprocess

    code = "import sys; from loda_desktop.model_store import export_here; export_here(sys.argv[1], sys.argv[2])"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, os.fspath(profile.path), os.fspath(out)],
            capture_output=True,
            text=True,
            timeout=EXPORT_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"the export of {profile.name} did not finish: {exc}") from None
    if proc.returncode != 0 or not out.is_file():
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise RuntimeError(f"the export of {profile.name} failed: {last}")


def onnx_export_path(profile: Profile) -> Path:
    """Where :func:`cached_onnx_export` finds (or will write) the export of the profile file ``profile``: the export
    shipped beside it (:func:`shipped_onnx_export`) when there is a valid one, else a file in the user cache."""
    import hashlib
    from importlib.metadata import version

    if profile.path is None:
        raise ValueError(f"'{profile.name}' is a config, not a profile file")
    shipped = shipped_onnx_export(profile)
    if shipped is not None:
        return shipped
    stat = profile.path.stat()
    ident = f"{profile.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{profile.key}|{version('torch')}"
    ident += f"|{version('timm')}|{ONNX_CACHE_VERSION}"  # package metadata: importing timm costs 2 s
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in profile.name)[:60] or "model"
    return cache_dir() / "onnx" / f"{safe}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.onnx"


def _source_stamp(profile_path: Path) -> dict[str, Any]:
    return {"sha256": file_digest(profile_path), "cache_version": ONNX_CACHE_VERSION}


def shipped_onnx_export(profile: Profile) -> Path | None:
    """The ONNX export shipped beside the profile file (``NAME.onnx`` next to ``NAME.safetensors``, as
    ``packaging/build.py`` writes ``assets/models/loda-default.onnx``), or None. It is used only when its
    :data:`SOURCE_KEY` metadata names this very file (its SHA-256, :func:`model.profiles.file_digest`) and this
    export version (:data:`ONNX_CACHE_VERSION`): a profile changed since, or an export from an older app, is
    ignored and the profile is exported into the cache as before. Reads the metadata only (no graph, no
    onnxruntime); hashing the profile costs about 40 ms for the 25 MB default model, once per process."""
    if profile.path is None or profile.path.suffix.lower() != SUFFIX:
        return None
    candidate = profile.path.with_suffix(".onnx")
    if not candidate.is_file():
        return None
    import json

    from model.onnx_scorer import read_onnx_metadata

    try:
        stamp = json.loads(read_onnx_metadata(candidate).get(SOURCE_KEY) or "null")
        wanted = _source_stamp(profile.path)
        valid = isinstance(stamp, dict) and {k: stamp.get(k) for k in wanted} == wanted
    except (ProfileError, OSError, ValueError):
        valid = False
    return candidate if valid else None


def write_shipped_export(profile: Profile) -> Path:
    """Export the profile file ``profile`` (float32: its scores are the profile's) to ``NAME.onnx`` beside it and
    stamp it with its source (:data:`SOURCE_KEY`), so that :func:`shipped_onnx_export` finds it: what
    ``packaging/build.py`` does for the bundled default model. Imports torch and onnx; the file appears complete
    and stamped, or not at all."""
    import json

    import onnx

    if profile.path is None:
        raise ValueError(f"'{profile.name}' is a config, not a profile file")
    out = profile.path.with_suffix(".onnx")
    work = out.with_name(f".{out.stem}.{os.getpid()}.export.onnx")
    try:
        export_here(profile.path, work)
        proto = onnx.load(str(work))
        for entry in [e for e in proto.metadata_props if e.key == SOURCE_KEY]:
            proto.metadata_props.remove(entry)
        entry = proto.metadata_props.add()
        entry.key, entry.value = SOURCE_KEY, json.dumps({**_source_stamp(profile.path), "file": profile.path.name})
        onnx.save(proto, str(work))
        os.replace(work, out)
    finally:
        work.unlink(missing_ok=True)
    return out


def cached_onnx_export(profile: Profile, max_bytes: int | None = None, *, in_child: bool = False) -> Path | None:
    """The ONNX export of ``profile`` (a profile file) in the user cache; exported on first use (a few seconds).

    With ``max_bytes``, a profile whose export would be larger (:func:`export_size_estimate`) is not exported
    and None is returned. ``in_child``: the export (torch) runs in a child Python (:func:`_export_in_child`), so
    this process never imports torch; a frozen app exports in-process (it has no Python to start).

    The file name carries a digest of the profile file (path, size, modification time) and of the exporting
    library versions, so a changed profile or a new torch/timm gets a fresh export; older exports of the same
    profile name are removed when a new one is written.
    """
    out = onnx_export_path(profile)
    folder, safe = out.parent, out.name.rsplit("-", 1)[0]
    folder.mkdir(parents=True, exist_ok=True)
    if out.is_file():
        return out
    if max_bytes is not None and (size := export_size_estimate(profile)) > max_bytes:
        log.info(
            "not exporting %s for ONNX Runtime: %.0f MB of weights (more than %.0f MB); scoring with torch",
            profile.name,
            size / 2**20,
            max_bytes / 2**20,
        )
        return None
    started = time.perf_counter()
    if in_child and not getattr(sys, "frozen", False):
        _export_in_child(profile, out)
    else:
        export_here(profile.path, out)
    log.info("exported %s for ONNX Runtime in %.1f s: %s", profile.name, time.perf_counter() - started, out)
    for old in folder.glob(f"{safe}-*.onnx"):
        if old != out:
            old.unlink(missing_ok=True)
    return out


# -- managing profiles: list, rename, trash, activate, roll back --------------------------------------------------
class ProfileAdminError(ProfileError):
    """A profile operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class ProfileInfo:
    name: str
    path: Path
    kind: str
    config: str
    parent: str | None
    bundled: bool
    active: bool
    metrics: dict[str, Any]
    created: str | None


def _bundled(path: Path | None) -> bool:
    return path is not None and bundled_models_dir().resolve() in path.resolve().parents


def active_name() -> str:
    return load_settings().model


def save_active_model(name: str, settings: Settings | None = None) -> Settings:
    """Write ``name`` as the active model (``Settings.model``) into ``settings`` (the saved ones by default) and
    save them; returns the settings saved. No check: :func:`activate` resolves the name first, the window passes
    only models it has checked (a fine-tune that scored a photo, the default). OSError when they cannot be saved."""
    saved = dataclasses.replace(load_settings() if settings is None else settings, model=name)
    save_settings(saved)
    return saved


def list_profiles() -> list[ProfileInfo]:
    """Every readable profile in the models folders, the user's first."""
    active = active_name()
    out = []
    for p in find_profiles(model_search_dirs()):
        assert p.path is not None
        out.append(
            ProfileInfo(
                name=p.name,
                path=p.path,
                kind=p.kind,
                config=p.config.name,
                parent=p.metadata.get("parent"),
                bundled=_bundled(p.path),
                active=active in (p.name, str(p.path)),
                metrics=dict(p.metadata.get("metrics") or {}),
                created=p.metadata.get("created"),
            )
        )
    return out


def list_broken() -> list[tuple[Path, str]]:
    """The files in the models folders that are not usable profiles (damaged, forged, of another version), with
    why: listed as broken, deletable with :func:`delete_profile` by file name (user folder only)."""
    return find_broken(model_search_dirs())


def _broken_user_file(name: str) -> Path | None:
    """The broken profile file ``name`` (its file name with or without ``.safetensors``, or its path) names in
    the user's models folder, or None."""
    folder = models_dir().resolve()
    for path, _ in find_broken([models_dir()]):
        if name in (path.name, path.stem) or Path(name).resolve() == path.resolve():
            return path if path.resolve().parent == folder else None
    return None


def _user_profile(name: str) -> Profile:
    try:
        profile = resolve_model(name)
    except ProfileError as exc:
        raise ProfileAdminError(str(exc)) from None
    if profile.path is None:
        raise ProfileAdminError(f"{name!r} is a built-in config, not a profile file")
    if _bundled(profile.path):
        raise ProfileAdminError(f"{profile.name!r} is bundled with the app and cannot be changed")
    return profile


def rename_profile(name: str, new_name: str) -> Path:
    """Rename a user profile: the metadata name and the file name; the active setting follows. Returns the new
    path. The new file is written atomically before the old one is removed."""
    from trainer.finetune import FinetuneError, check_name

    try:
        new_name = check_name(new_name)
    except FinetuneError as exc:
        raise ProfileAdminError(str(exc)) from None
    profile = _user_profile(name)
    assert profile.path is not None
    target = models_dir() / f"{new_name}{SUFFIX}"
    if any(p.name == new_name for p in find_profiles(model_search_dirs())) or target.exists():
        raise ProfileAdminError(f"a profile named {new_name!r} already exists")
    meta = dict(profile.metadata)
    meta["name"] = new_name
    save_profile(target, read_tensors(profile.path), meta)
    profile.path.unlink()
    settings = load_settings()
    if settings.model in (profile.name, str(profile.path)):
        save_active_model(new_name, settings)
    return target


def find_parent(profile: Profile) -> Profile | None:
    """The profile ``profile`` was fine-tuned from (:func:`model.profiles.find_parent`: by tensor digest, key or
    creation stamp), else the base name recorded in ``trained_on`` (enough to roll back to)."""
    parent = find_parent_in(profile, model_search_dirs())
    if parent is not None or not profile.metadata.get("parent"):
        return parent
    trained_on = profile.metadata.get("trained_on")
    base_name = trained_on.get("base_name") if isinstance(trained_on, dict) else None
    if base_name:
        try:
            return resolve_model(base_name)
        except ProfileError:
            return None
    return None


def _parent_setting(profile: Profile) -> str:
    parent = find_parent(profile)
    return DEFAULT_MODEL if parent is None else parent.name


def trash_profile(path: Path) -> None:
    """Move the profile file ``path`` to the system trash, unchecked: :func:`delete_profile` checks a profile by
    name first; the fine-tune dialog discards the file it has just written, never active."""
    from send2trash import send2trash

    send2trash(str(path))


def delete_profile(name: str) -> str | None:
    """Move a user profile to the system trash. When it was active, its parent (or the default) becomes active;
    returns that new active model, or None when the active model did not change. A broken file in the user's
    models folder (:func:`list_broken`) is trashed by its file name."""
    broken = _broken_user_file(name)
    if broken is not None:
        trash_profile(broken)
        return None
    profile = _user_profile(name)
    assert profile.path is not None
    settings = load_settings()
    was_active = settings.model in (profile.name, str(profile.path))
    replacement = _parent_setting(profile) if was_active else None
    trash_profile(profile.path)
    if replacement is not None:
        save_active_model(replacement, settings)
    return replacement


def activate(name: str, settings: Settings | None = None) -> Profile:
    """Make ``name`` (a profile name or file, or a config name) the active model, saved into ``settings`` (the
    saved ones by default). ProfileAdminError, and nothing saved, when no model has that name."""
    try:
        profile = resolve_model(name)
    except ProfileError as exc:
        raise ProfileAdminError(str(exc)) from None
    save_active_model(name, settings)
    return profile


def rollback() -> Profile:
    """Make the active profile's parent the active model."""
    settings = load_settings()
    current = resolve_model(settings.model)
    parent = find_parent(current)
    if parent is None:
        raise ProfileAdminError(f"the active model {current.name!r} has no parent profile to roll back to")
    save_active_model(parent.name, settings)
    return parent
