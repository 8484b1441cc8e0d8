import pytest

from model import ConfigError, get_config, list_configs
from model.configs import LodaConfig
from model.loda import interaction_layers


def test_registry_has_the_papers_configs():
    names = list_configs()
    for name in ("loda_vit_base_r50", "loda_vit_small_r50", "loda_vit_tiny_r50", "loda_tiny"):
        assert name in names
    base = get_config("loda_vit_base_r50")
    assert base.vit == "vit_base_patch16_224.augreg2_in21k_ft_in1k"
    assert base.cnn.startswith("resnet50")
    assert (base.r, base.heads, base.n_interactions, base.pool, base.dropout) == (64, 4, 12, 7, 0.1)
    assert (base.img_size, base.short_side, base.test_crops) == (224, 384, 15)


def test_overrides_and_round_trip():
    cfg = get_config("loda_vit_base_r50", r=48, heads=2, n_interactions=6, pool=5)
    assert (cfg.r, cfg.heads, cfg.n_interactions, cfg.pool) == (48, 2, 6, 5)
    assert LodaConfig.from_dict(cfg.to_dict()) == cfg
    assert get_config("loda_vit_base_r50").r == 64  # the registry entry is untouched


@pytest.mark.parametrize(
    "overrides",
    [{"r": 50, "heads": 4}, {"n_interactions": 0}, {"pool": 0}, {"dropout": 1.5}, {"short_side": 100}],
)
def test_invalid_hyperparameters_are_refused(overrides):
    with pytest.raises(ConfigError):
        get_config("loda_vit_base_r50", **overrides)


def test_unknown_names_are_clear():
    with pytest.raises(ConfigError, match="known: .*loda_vit_base_r50"):
        get_config("loda_vit_huge")
    with pytest.raises(ConfigError, match="unknown LoDa hyperparameter"):
        get_config("loda_tiny", rank=3)


@pytest.mark.parametrize(("n", "expected"), [(12, list(range(12))), (6, [0, 2, 4, 6, 8, 10]), (3, [0, 4, 8])])
def test_interaction_points_split_the_layers_into_equal_groups(n, expected):
    assert interaction_layers(12, n) == expected


def test_interaction_count_must_divide_depth():
    with pytest.raises(ConfigError):
        interaction_layers(12, 5)
