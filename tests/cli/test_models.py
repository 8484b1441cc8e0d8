import re

from loda_desktop.cli import main


def test_loda_models_prints_counts_offline(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    base = next(line for line in out.splitlines() if line.strip().startswith("loda_vit_base_r50"))
    trainable = float(re.search(r"loda_vit_base_r50\s+([\d.]+) M", base).group(1))
    assert abs(trainable - 8.9) <= 0.3
    assert "missing" in base  # no weights were downloaded on a test machine
    assert "loda_tiny" in out and "random backbones" in out
    assert "none yet" in out


def test_loda_models_lists_installed_profiles(tmp_path, capsys):
    import torch

    from loda_desktop.paths import models_dir
    from model import create_model
    from model.profiles import save_model

    torch.manual_seed(0)
    save_model(
        create_model("loda_tiny"),
        models_dir() / "mine.safetensors",
        name="mine",
        trained_on="unit test",
        metrics={"srcc": 0.75},
    )
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "mine" in out and "unit test" in out and "srcc 0.750" in out and "ready" in out


def test_unknown_command_is_a_usage_error(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_an_adapter_fine_tuned_from_a_full_parent_is_ready_as_the_window_says(capsys):
    from loda_desktop.model_store import runnable
    from loda_desktop.paths import models_dir
    from model.profiles import load_model, read_profile, save_model
    from tests.helpers.profiles import write_default_like

    parent = write_default_like(models_dir() / "base.safetensors", name="base")
    child = save_model(
        load_model(parent),
        models_dir() / "child.safetensors",
        name="child",
        kind="adapter",
        parent=read_profile(parent).key,
    )
    assert runnable(read_profile(child))  # its backbones come from the parent
    assert main(["models"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("child "))
    assert line.rstrip().endswith("ready") and "needs" not in line
    parent.unlink()  # gone: now it does need them, and says so
    assert main(["models"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("child "))
    assert "needs backbone weights" in line
