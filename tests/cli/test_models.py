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
