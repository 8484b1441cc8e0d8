import json

import numpy as np
import pytest
import torch

from model import create_model
from model.profiles import (
    ProfileError,
    build_metadata,
    find_profiles,
    load_model,
    read_profile,
    read_tensors,
    resolve_profile,
    save_model,
    save_profile,
)


def _perturb(model):
    with torch.no_grad():  # make every adapter tensor and BN buffer differ from a fresh build
        for t in model.adapter_state_dict().values():
            if t.is_floating_point():
                t.add_(torch.randn_like(t) * 0.01)
    return model.eval()


@pytest.fixture(scope="module")
def backbone_dir(tmp_path_factory):
    """Stand-in "pretrained" weights for loda_tiny's two backbones, found through search_dirs."""
    from safetensors.torch import save_file

    torch.manual_seed(7)
    net = create_model("loda_tiny")
    folder = tmp_path_factory.mktemp("backbones")
    cfg = net.config
    save_file({k: v.contiguous() for k, v in net.vit.state_dict().items()}, str(folder / f"{cfg.vit}.safetensors"))
    full_cnn = __import__("timm").create_model(cfg.cnn, pretrained=False)
    cnn_state = dict(full_cnn.state_dict())
    cnn_state.update(net.cnn.state_dict())
    save_file({k: v.contiguous() for k, v in cnn_state.items()}, str(folder / f"{cfg.cnn}.safetensors"))
    return folder


@pytest.fixture
def trained_tiny():
    torch.manual_seed(1)
    return _perturb(create_model("loda_tiny"))


@pytest.fixture
def pretrained_tiny(backbone_dir):
    """loda_tiny as if its backbones were pretrained: adapter profiles can then rebuild them."""
    torch.manual_seed(1)
    return _perturb(create_model("loda_tiny", pretrained=True, search_dirs=[backbone_dir]))


@pytest.mark.parametrize("kind", ["adapter", "full"])
def test_round_trip_is_bit_exact(tmp_path, trained_tiny, pretrained_tiny, backbone_dir, kind):
    source = pretrained_tiny if kind == "adapter" else trained_tiny
    path = save_model(
        source,
        tmp_path / "p.safetensors",
        name="mine",
        kind=kind,
        trained_on={"dataset": "unit-test"},
        metrics={"srcc": 0.5},
        calibration=(2.0, 0.25),
    )
    profile = read_profile(path)
    assert profile.name == "mine" and profile.kind == kind and profile.trained
    assert profile.calibration == (2.0, 0.25)
    assert profile.metadata["backbones"]["included"] is (kind == "full")
    loaded = load_model(profile, search_dirs=[backbone_dir])
    ref = source.state_dict()
    assert set(loaded.state_dict()) == set(ref)
    for k in ref:
        assert torch.equal(loaded.state_dict()[k], ref[k]), k
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(loaded(x), source(x))


def test_random_backbones_cannot_be_saved_adapter_only(tmp_path, trained_tiny):
    with pytest.raises(ProfileError, match="full profile"):
        save_model(trained_tiny, tmp_path / "x.safetensors", name="x", kind="adapter")
    path = save_model(trained_tiny, tmp_path / "x.safetensors", name="x")
    assert read_profile(path).kind == "full"


def test_adapter_profile_holds_only_adapter_and_bn_tensors(tmp_path, pretrained_tiny):
    path = save_model(pretrained_tiny, tmp_path / "a.safetensors", name="a")
    names = set(read_tensors(path))
    assert names == set(pretrained_tiny.adapter_state_dict())
    assert all(n.startswith(("extractors.", "injectors.", "head.", "cnn.")) for n in names)
    assert not any(n.startswith("vit.") for n in names)
    assert all(
        n.split(".")[-1] in {"running_mean", "running_var", "num_batches_tracked"} for n in names if n[:4] == "cnn."
    )


def test_metadata_is_plain_json_in_the_header(tmp_path, trained_tiny):
    path = save_model(trained_tiny, tmp_path / "m.safetensors", name="m", parent="base@1")
    meta = read_profile(path).metadata
    json.dumps(meta)
    assert meta["format"] == "loda-profile" and meta["format_version"] == 1
    assert meta["config"]["name"] == "loda_tiny" and meta["parent"] == "base@1"
    assert meta["preprocessing"]["short_side"] == 384 and meta["score"]["direction"] == "higher_better"


def test_truncated_profile_is_a_clear_error(tmp_path, trained_tiny):
    path = save_model(trained_tiny, tmp_path / "t.safetensors", name="t")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProfileError, match="t.safetensors"):
        load_model(path)


def test_damaged_header_and_random_bytes(tmp_path, trained_tiny):
    path = save_model(trained_tiny, tmp_path / "d.safetensors", name="d")
    data = bytearray(path.read_bytes())
    data[10:30] = b"\x00" * 20
    path.write_bytes(bytes(data))
    with pytest.raises(ProfileError):
        read_profile(path)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x89PNG not a profile")
    with pytest.raises(ProfileError, match="not a readable model profile"):
        read_profile(junk)
    with pytest.raises(ProfileError, match="no such model profile"):
        read_profile(tmp_path / "missing.safetensors")


def test_a_plain_safetensors_file_is_not_a_profile(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ProfileError, match="not a LoDa model profile"):
        read_profile(tmp_path / "other.safetensors")


def test_mismatched_tensors_are_refused(tmp_path, trained_tiny):
    other = create_model("loda_tiny", r=8, heads=2)
    meta = build_metadata(trained_tiny.config, name="liar", kind="full")  # says r=16 but holds r=8 tensors
    path = save_profile(tmp_path / "liar.safetensors", other.state_dict(), meta)
    with pytest.raises(ProfileError, match="do not match"):
        load_model(path)


def test_newer_format_version_is_refused(tmp_path, trained_tiny):
    meta = build_metadata(trained_tiny.config, name="future")
    meta["format_version"] = 99
    path = save_profile(tmp_path / "f.safetensors", trained_tiny.adapter_state_dict(), meta)
    with pytest.raises(ProfileError, match="newer"):
        read_profile(path)


def test_save_is_atomic(tmp_path, trained_tiny, monkeypatch):
    path = save_model(trained_tiny, tmp_path / "keep.safetensors", name="keep")
    original = path.read_bytes()
    import safetensors.numpy

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", boom)
    with pytest.raises(OSError):
        save_model(trained_tiny, path, name="keep")
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_resolve_by_file_name_and_config(tmp_path, trained_tiny):
    save_model(trained_tiny, tmp_path / "portraits.safetensors", name="portraits")
    assert resolve_profile("portraits", [tmp_path]).name == "portraits"
    assert resolve_profile(str(tmp_path / "portraits.safetensors")).name == "portraits"
    bare = resolve_profile("loda_tiny", [tmp_path])
    assert bare.path is None and not bare.trained
    assert [p.name for p in find_profiles([tmp_path])] == ["portraits"]
    with pytest.raises(ProfileError, match="unknown model 'nope'.*portraits"):
        resolve_profile("nope", [tmp_path])


# -- fine-tunes of a full parent (the bundled default holds backbones that exist nowhere else) -----------------


def _adapter_child(parent_path, out, **metadata):
    from model.profiles import save_model

    parent = read_profile(parent_path)
    torch.manual_seed(3)
    net = _perturb(load_model(parent))
    return net, save_model(net, out, name="child", kind="adapter", parent=parent.key, **metadata)


def test_an_old_adapter_child_of_a_full_parent_loads_its_backbones_from_the_parent(tmp_path):
    from tests.helpers.profiles import write_default_like

    models = tmp_path / "models"
    parent_path = write_default_like(models / "loda-default.safetensors")
    net, child_path = _adapter_child(parent_path, models / "child.safetensors", trained_on={"dataset": "ratings"})
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = net(x)
        assert torch.allclose(load_model(child_path, search_dirs=[models])(x), expected, atol=1e-6)

    # the parent renamed (name, file and key change; its creation stamp and tensors do not): still found
    meta = dict(read_profile(parent_path).metadata, name="old-default")
    save_profile(models / "old-default.safetensors", read_tensors(parent_path), meta)
    parent_path.unlink()
    with torch.no_grad():
        assert torch.allclose(load_model(child_path, search_dirs=[models])(x), expected, atol=1e-6)

    # the parent gone: the message names it and says how to fix it
    (models / "old-default.safetensors").unlink()
    with pytest.raises(ProfileError, match=r"fine-tuned from 'loda-default'.*Put loda-default\.safetensors back"):
        load_model(child_path, search_dirs=[models])


def test_a_child_records_its_parents_tensor_digest_and_only_those_tensors_count(tmp_path):
    from model.profiles import find_parent, tensor_digest
    from tests.helpers.profiles import write_default_like

    models = tmp_path / "models"
    parent_path = write_default_like(models / "loda-default.safetensors")
    digest = tensor_digest(parent_path)
    renamed = dict(read_profile(parent_path).metadata, name="renamed", notes="a rename rewrites the metadata only")
    save_profile(tmp_path / "renamed.safetensors", read_tensors(parent_path), renamed)
    assert tensor_digest(tmp_path / "renamed.safetensors") == digest
    _, child_path = _adapter_child(parent_path, models / "child.safetensors", extra={"parent_digest": digest})
    assert find_parent(read_profile(child_path), [models]).path == parent_path

    # a newer default of the same name and stamp, other weights: not this child's parent
    write_default_like(parent_path, seed=1, created=read_profile(parent_path).metadata["created"])
    assert tensor_digest(parent_path) != digest
    assert find_parent(read_profile(child_path), [models]) is None
    with pytest.raises(ProfileError, match="fine-tuned from 'loda-default'"):
        load_model(child_path, search_dirs=[models])


def test_fine_tunes_of_a_full_base_are_saved_full_and_of_pretrained_configs_as_adapters(tmp_path):
    from model.profiles import child_kind, config_profile
    from tests.helpers.profiles import write_default_like

    full = read_profile(write_default_like(tmp_path / "loda-default.safetensors"))
    assert child_kind(full) == "full"
    assert child_kind(config_profile("loda_tiny")) == "full"  # random backbones exist nowhere else
    assert child_kind(config_profile("loda_vit_base_r50")) == "adapter"  # pretrained weights: 36 MB, not 430 MB
