"""Managing model profiles: list, rename, delete (to the system trash), activate and roll back to the parent.

Plain functions over the models folders and the settings (no Qt): ``loda profiles ...`` and the window share them.
The active model is ``Settings.model``. Bundled profiles (``assets/models``) are never renamed or deleted.
A fine-tune's ``parent`` is its base's key (``name@created``), with the digest of the base's tensors; the parent is
found by digest or key, else by its creation stamp (it survives a rename), else by the base name recorded in
``trained_on``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.profiles import SUFFIX, Profile, ProfileError, find_profiles, read_tensors, save_profile
from model.profiles import find_parent as find_parent_in

from .engine import DEFAULT_MODEL, bundled_models_dir, model_search_dirs, resolve_model
from .paths import models_dir
from .settings import load_settings, save_settings

__all__ = [
    "ProfileAdminError",
    "ProfileInfo",
    "activate",
    "active_name",
    "delete_profile",
    "find_parent",
    "list_profiles",
    "rename_profile",
    "rollback",
]


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
        save_settings(dataclasses.replace(settings, model=new_name))
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


def delete_profile(name: str) -> str | None:
    """Move a user profile to the system trash. When it was active, its parent (or the default) becomes active;
    returns that new active model, or None when the active model did not change."""
    from send2trash import send2trash

    profile = _user_profile(name)
    assert profile.path is not None
    settings = load_settings()
    was_active = settings.model in (profile.name, str(profile.path))
    replacement = _parent_setting(profile) if was_active else None
    send2trash(str(profile.path))
    if replacement is not None:
        save_settings(dataclasses.replace(settings, model=replacement))
    return replacement


def activate(name: str) -> Profile:
    """Make ``name`` (a profile name or file, or a config name) the active model."""
    try:
        profile = resolve_model(name)
    except ProfileError as exc:
        raise ProfileAdminError(str(exc)) from None
    save_settings(dataclasses.replace(load_settings(), model=name))
    return profile


def rollback() -> Profile:
    """Make the active profile's parent the active model."""
    current = resolve_model(active_name())
    parent = find_parent(current)
    if parent is None:
        raise ProfileAdminError(f"the active model {current.name!r} has no parent profile to roll back to")
    save_settings(dataclasses.replace(load_settings(), model=parent.name))
    return parent
