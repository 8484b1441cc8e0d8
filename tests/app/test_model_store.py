"""The model store: which model a setting names (the default's order), and profile management: list, rename,
delete to the trash, activate, roll back (functions and `loda profiles`)."""

from __future__ import annotations

import numpy as np
import pytest

from loda_desktop import model_store as admin
from loda_desktop.cli import main
from loda_desktop.model_store import resolve_model
from loda_desktop.paths import models_dir
from loda_desktop.settings import Settings, load_settings
from model import create_model, get_config
from model.profiles import config_profile, load_model, read_profile, save_model


def test_the_default_is_the_bundled_profile_then_a_trained_paper_model_once_its_weights_are_here(tmp_path, monkeypatch):
    from model.profiles import build_metadata, save_profile

    bundled = tmp_path / "bundled"
    tiny = create_model(get_config("loda_tiny"), pretrained=False)
    save_model(tiny, bundled / "loda-default.safetensors", name="loda-default", trained_on={"dataset": "x"})
    monkeypatch.setenv("LODA_BUNDLED_MODELS", str(bundled))
    assert resolve_model("default").name == "loda-default"

    # a trained adapter of the paper's model: the default only once both backbones' weights are on this machine
    paper = get_config("loda_vit_base_r50")
    meta = build_metadata(paper, name="my-koniq", trained_on={"dataset": "koniq10k"})
    save_profile(models_dir() / "my-koniq.safetensors", {"head.bias": np.zeros(1, np.float32)}, meta)
    assert resolve_model("default").name == "loda-default"
    (models_dir() / f"{paper.vit}.safetensors").write_bytes(b"weights")
    assert resolve_model("default").name == "loda-default"
    (models_dir() / f"{paper.cnn}.safetensors").write_bytes(b"weights")
    assert resolve_model("default").name == "my-koniq"
    assert resolve_model("loda-default").name == "loda-default"  # still selectable by name


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


def test_the_active_model_is_saved_in_one_place(family, tmp_path):
    with pytest.raises(admin.ProfileAdminError, match="unknown model"):
        admin.activate("nothing-by-this-name")
    assert load_settings().model == "child"  # nothing saved
    saved = admin.save_active_model("base", Settings(crops=7))  # the window's own settings, model replaced
    assert saved.model == "base" and saved.crops == 7 and load_settings() == saved
    admin.trash_profile(family[1])  # a discarded fine-tune: the file goes, nothing else changes
    assert not family[1].exists() and load_settings() == saved
