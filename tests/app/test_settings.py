"""Settings schema, the settings file, user directories, and the import rule of the plain-Python core."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loda_desktop import paths
from loda_desktop.settings import Settings, load_settings, load_settings_reporting, save_settings, validate_field

CORE_MODULES = [
    "loda_desktop.paths",
    "loda_desktop.settings",
    "loda_desktop.scan",
    "loda_desktop.catalog",
    "loda_desktop.export",
    "loda_desktop.fileops",
]


def test_core_modules_import_without_qt_or_torch():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'torch', 'timm'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


# -- user directories ---------------------------------------------------------------------------------------


def test_dirs_live_under_loda_home(_isolated_user_dirs):
    home = _isolated_user_dirs
    assert paths.data_dir() == home / "data"
    assert paths.config_dir() == home / "config"
    assert paths.cache_dir() == home / "cache"
    assert paths.models_dir() == home / "data" / "models"
    assert paths.catalog_path() == home / "data" / "catalog.sqlite3"
    assert paths.settings_path() == home / "config" / "settings.json"
    for d in (paths.data_dir(), paths.config_dir(), paths.cache_dir(), paths.models_dir()):
        assert d.is_dir()


def test_dirs_come_from_platformdirs_without_loda_home(monkeypatch, tmp_path):
    monkeypatch.delenv("LODA_HOME")
    calls = []

    def fake(kind):
        def user_dir(appname, appauthor=None):
            calls.append((kind, appname))
            return str(tmp_path / kind)

        return user_dir

    for kind in ("data", "config", "cache"):
        monkeypatch.setattr(paths.platformdirs, f"user_{kind}_dir", fake(kind))
    assert paths.data_dir() == tmp_path / "data"
    assert paths.config_dir() == tmp_path / "config"
    assert paths.cache_dir() == tmp_path / "cache"
    assert paths.models_dir() == tmp_path / "data" / "models"
    assert {name for _, name in calls} == {"loda-desktop"}


# -- settings -----------------------------------------------------------------------------------------------


def test_missing_file_gives_defaults():
    assert not paths.settings_path().exists()
    s = load_settings()
    assert s == Settings()
    assert (s.version, s.model, s.backend, s.device, s.crops, s.batch_size, s.threads) == (
        2,
        "default",
        "auto",
        "auto",
        5,
        32,
        0,
    )


def test_round_trip(_isolated_user_dirs):
    s = Settings(model="my-finetune", backend="onnx", device="cpu", crops=9, batch_size=8, threads=4)
    written = save_settings(s)
    assert written == _isolated_user_dirs / "config" / "settings.json"
    assert load_settings() == s
    assert json.loads(written.read_text())["backend"] == "onnx"
    assert [p.name for p in written.parent.iterdir()] == ["settings.json"]  # no temp file left


def test_unknown_keys_ignored_and_invalid_values_fall_back(caplog):
    data = {
        "version": 1,
        "backend": "tensorflow",
        "device": "cuda",
        "crops": 0,
        "batch_size": True,
        "threads": "4",
        "model": "",
        "colour": "blue",
    }
    paths.settings_path().write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="loda_desktop.settings"):
        s = load_settings()
    assert s.device == "cuda"  # valid value kept
    assert (s.backend, s.crops, s.batch_size, s.threads, s.model) == ("auto", 5, 32, 0, "default")
    messages = caplog.text
    for name in ("backend", "crops", "batch_size", "threads", "model"):
        assert name in messages
    assert "colour" not in messages


def test_corrupt_file_is_backed_up_not_overwritten(caplog):
    path = paths.settings_path()
    path.write_text('{"crops": 3,,,')
    with caplog.at_level(logging.WARNING, logger="loda_desktop.settings"):
        assert load_settings() == Settings()
    backup = path.with_name("settings.json.bak")
    assert backup.read_text() == '{"crops": 3,,,'
    assert path.read_text() == '{"crops": 3,,,'  # loading never writes
    assert "settings.json.bak" in caplog.text
    save_settings(Settings(crops=7))
    assert load_settings().crops == 7
    assert backup.read_text() == '{"crops": 3,,,'


@pytest.mark.parametrize("content", [b"[1, 2]", b'"text"', b"\xff\xfe\x00garbage"])
def test_non_object_or_binary_file_gives_defaults_with_backup(content):
    path = paths.settings_path()
    path.write_bytes(content)
    assert load_settings() == Settings()
    assert path.with_name("settings.json.bak").read_bytes() == content


def test_newer_version_reads_known_keys():
    paths.settings_path().write_text(json.dumps({"version": 99, "crops": 3, "future": 1}))
    s = load_settings()
    assert s.crops == 3
    assert s.version == 2


def test_validation_in_constructor_and_save():
    with pytest.raises(ValueError, match="crops"):
        Settings(crops=0)
    with pytest.raises(ValueError, match="backend"):
        Settings(backend="tf")
    with pytest.raises(ValueError, match="batch_size"):
        Settings(batch_size=True)
    assert validate_field("device", "cuda") is None
    assert "must be one of" in validate_field("device", "tpu")
    s = Settings()
    save_settings(s)
    before = paths.settings_path().read_text()
    s.threads = -1
    with pytest.raises(ValueError, match="threads"):
        save_settings(s)
    assert paths.settings_path().read_text() == before


def test_failed_save_leaves_old_file_intact(monkeypatch):
    save_settings(Settings(crops=9))
    path = paths.settings_path()
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("loda_desktop.settings.json.dump", boom)
    with pytest.raises(OSError, match="disk full"):
        save_settings(Settings(crops=1))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_explicit_path(tmp_path):
    target = tmp_path / "nested" / "s.json"
    save_settings(Settings(crops=2), target)
    assert load_settings(target).crops == 2
    assert not paths.settings_path().exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_atomic_write_keeps_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    with paths.atomic_write(target) as f:
        f.write("new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    with paths.atomic_write(tmp_path / "b.bin", "wb") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(ValueError), paths.atomic_write(target, "a"):
        pass
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["b.bin", "out.txt"]


@pytest.mark.parametrize(("old", "new"), [("torch", "auto"), ("onnx", "onnx")])
def test_version_1_files_move_from_the_old_default_backend_to_auto(old, new):
    paths.settings_path().write_text(json.dumps({"version": 1, "backend": old, "crops": 9}))
    s = load_settings()
    assert (s.version, s.backend, s.crops) == (2, new, 9)


def test_load_settings_reporting_says_what_was_wrong(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json", encoding="utf-8")
    settings, problems = load_settings_reporting(path)
    assert settings == Settings()
    assert len(problems) == 1 and "invalid JSON" in problems[0]
    path.write_text(json.dumps(Settings(crops=4).to_dict()), encoding="utf-8")
    assert load_settings_reporting(path) == (Settings(crops=4), [])


def test_atomic_write_to_a_device_writes_through_it_instead_of_replacing_it(tmp_path):
    """`loda score --csv /dev/null`: a file renamed onto the path would replace the device (as root, /dev/null
    itself); a link to it shows the same without touching /dev/null."""
    import stat

    link = tmp_path / "null"
    link.symlink_to(os.devnull)
    with paths.atomic_write(link) as f:
        f.write("path,score\n")
    assert link.is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temporary file left either
