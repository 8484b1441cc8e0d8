"""Profile management: list, rename, delete to the trash, activate, roll back (functions and `loda profiles`)."""

from __future__ import annotations

import pytest

from loda_desktop import profiles_admin as admin
from loda_desktop.cli import main
from loda_desktop.paths import models_dir
from loda_desktop.settings import load_settings
from model import create_model, get_config
from model.profiles import config_profile, load_model, read_profile, save_model


@pytest.fixture
def family():
    """base (a trained profile) → child (its fine-tune), both in the user's models folder; child active."""
    net = create_model(get_config("loda_tiny", img_size=64, short_side=72))
    base_path = save_model(net, models_dir() / "base.safetensors", name="base", trained_on={"dataset": "x"})
    base = read_profile(base_path)
    child_path = save_model(
        net, models_dir() / "child.safetensors", name="child", trained_on={"base_name": "base"}, parent=base.key
    )
    admin.activate("child")
    return base_path, child_path


def test_list_marks_active_and_parent(family):
    infos = {p.name: p for p in admin.list_profiles()}
    assert infos["child"].active and not infos["base"].active
    assert infos["child"].parent == read_profile(family[0]).key
    assert not infos["child"].bundled


def test_rollback_then_activate(family):
    assert admin.rollback().name == "base"
    assert load_settings().model == "base"
    with pytest.raises(admin.ProfileAdminError, match="no parent"):
        admin.rollback()
    admin.activate("child")
    assert load_settings().model == "child"
    with pytest.raises(admin.ProfileAdminError, match="unknown model"):
        admin.activate("nope")


def test_rename_rewrites_the_name_and_follows_the_setting(family):
    new = admin.rename_profile("child", "my taste")
    assert new.name == "my taste.safetensors" and not family[1].exists()
    assert read_profile(new).name == "my taste"
    load_model(new)  # a full profile's 0-d tensors (BatchNorm counters) keep their shape through the rewrite
    assert load_settings().model == "my taste"
    assert admin.rollback().name == "base"  # the parent link survives the rename
    with pytest.raises(admin.ProfileAdminError, match="already exists"):
        admin.rename_profile("my taste", "base")
    with pytest.raises(admin.ProfileAdminError, match="invalid profile name"):
        admin.rename_profile("base", "../evil")
    with pytest.raises(admin.ProfileAdminError, match="built-in config"):
        admin.rename_profile("loda_tiny", "x")


def test_delete_active_child_moves_it_to_the_trash_and_activates_the_parent(family):
    assert admin.delete_profile("child") == "base"
    assert not family[1].exists()
    assert load_settings().model == "base"
    assert admin.delete_profile("base") == "default"
    assert load_settings().model == "default"


def test_parent_that_is_a_bare_config(family):
    net = create_model(get_config("loda_tiny"))
    save_model(
        net,
        models_dir() / "t.safetensors",
        name="t",
        parent=config_profile("loda_tiny").key,
        trained_on={"base_name": "loda_tiny"},
    )
    admin.activate("t")
    assert admin.rollback().name == "loda_tiny"
    assert load_settings().model == "loda_tiny"


def test_cli(family, capsys):
    assert main(["profiles", "list"]) == 0
    out = capsys.readouterr().out
    assert "* " in out and "child" in out and "active: child" in out
    assert main(["profiles", "rollback"]) == 0
    assert "active model: base" in capsys.readouterr().out
    assert main(["profiles", "rename", "child", "kid"]) == 0
    assert main(["profiles", "delete", "kid"]) == 0
    assert main(["profiles", "delete", "loda_tiny"]) == 1
    assert "profiles: error: 'loda_tiny' is a built-in config" in capsys.readouterr().err
