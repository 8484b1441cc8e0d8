import torch

from model import create_model
from model.loda import LocalDistortionInjector, count_parameters

ADAPTER_PREFIXES = ("extractors.", "injectors.", "head.")


def test_vit_base_r50_has_the_papers_trainable_parameter_count():
    torch.manual_seed(0)
    model = create_model("loda_vit_base_r50", pretrained=False)
    trainable, frozen = count_parameters(model)
    assert abs(trainable - 8.9e6) <= 0.3e6, trainable  # the paper reports 9 M
    assert frozen > 100e6  # ViT-B (86 M) + ResNet-50 trunk (23.5 M)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all(n.startswith(ADAPTER_PREFIXES) for n in names)
    assert len(model.injectors) == 12 and len(model.extractors) == 4
    # 4 stages × 7 × 7 distortion tokens of width r
    with torch.no_grad():
        tokens = model.distortion_tokens(torch.rand(1, 3, 224, 224))
    assert tokens.shape == (1, 196, 64)


def _zero_scales(model):
    with torch.no_grad():
        for inj in model.injectors:
            inj.scale.zero_()


def test_with_zero_scale_the_cls_features_equal_the_frozen_vit(tiny_model):
    import copy

    model = copy.deepcopy(tiny_model)
    _zero_scales(model)
    x = torch.rand(3, 3, 224, 224)
    with torch.no_grad():
        ours = model.forward_features(x)
        vit_only = model.vit.forward_features((x - model.vit_mean) / model.vit_std)[:, 0]
    assert torch.equal(ours, vit_only)
    # and with the default near-zero init the injection is a small perturbation, not nothing
    with torch.no_grad():
        default = tiny_model.forward_features(x)
    assert not torch.equal(default, vit_only)
    assert (default - vit_only).abs().max() < 0.5


def test_zero_scale_identity_holds_for_vit_base():
    torch.manual_seed(0)
    model = create_model("loda_vit_base_r50", pretrained=False).eval()
    _zero_scales(model)
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(
            model.forward_features(x), model.vit.forward_features((x - model.vit_mean) / model.vit_std)[:, 0]
        )


def test_scale_init_is_near_zero():
    inj = LocalDistortionInjector(embed_dim=768, r=64, heads=4)
    assert inj.scale.shape == (768,)
    assert 0 < inj.scale.abs().max() <= 0.04  # truncated normal, std 0.02, cut at 2 std


def test_a_training_step_changes_only_adapter_tensors():
    torch.manual_seed(0)
    model = create_model("loda_tiny").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-3, weight_decay=0.01)
    x = torch.rand(4, 3, 224, 224)
    target = torch.tensor([0.1, 0.4, 0.6, 0.9])
    loss = torch.nn.functional.mse_loss(model(x), target)
    loss.backward()
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    adapter = set(model.adapter_state_dict())
    assert changed, "nothing trained"
    assert changed <= adapter, sorted(changed - adapter)[:5]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable <= changed  # every trainable tensor moved
    # frozen weights got no gradient at all
    assert all(p.grad is None for n, p in model.named_parameters() if not p.requires_grad)
    # the authors' choice: BatchNorm running statistics of the frozen CNN adapt and are saved with the adapter
    assert any(k.startswith("cnn.") and k.endswith("running_mean") for k in changed)


def test_bn_can_stay_frozen_for_fine_tuning():
    torch.manual_seed(0)
    model = create_model("loda_tiny")
    model.set_bn_adapt(False)
    model.train()
    assert not model.cnn.training and not model.vit.training and model.head_drop.training
    before = {k: v.clone() for k, v in model.cnn.state_dict().items()}
    model(torch.rand(2, 3, 224, 224))
    assert all(torch.equal(before[k], v) for k, v in model.cnn.state_dict().items())


def test_forward_shape_and_finite(tiny_model):
    with torch.no_grad():
        out = tiny_model(torch.rand(5, 3, 224, 224))
    assert out.shape == (5,)
    assert torch.isfinite(out).all()


def test_overrides_change_the_network():
    model = create_model("loda_tiny", r=8, heads=2, n_interactions=2, pool=3)
    assert model.inject_at == [0, 2]
    with torch.no_grad():
        assert model.distortion_tokens(torch.rand(1, 3, 224, 224)).shape == (1, 4 * 9, 8)
