"""The PLCC-induced loss (Eq. 5): its value, its robustness and the exact split-batch gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from trainer.losses import batch_loss_grad, plcc, plcc_grad, plcc_loss, within_group_order_loss


def test_value_is_eq5_with_scipys_pearson():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=50), rng.normal(size=50) + np.arange(50) / 25
    expected = (1 - stats.pearsonr(pred, target).statistic) / 2
    loss = plcc_loss(torch.tensor(pred), torch.tensor(target))
    assert loss.dtype == torch.float32 and loss.shape == ()
    assert float(loss) == pytest.approx(expected, abs=1e-5)


def test_extremes_and_invariance_to_scale_and_offset():
    y = torch.linspace(0, 1, 20)
    assert float(plcc_loss(3 * y + 7, y)) == pytest.approx(0.0, abs=1e-6)
    assert float(plcc_loss(-y, y)) == pytest.approx(1.0, abs=1e-6)
    pred = torch.randn(20, generator=torch.Generator().manual_seed(1))
    assert float(plcc_loss(pred, y)) == pytest.approx(float(plcc_loss(5 * pred - 2, y)), abs=1e-5)


@pytest.mark.parametrize(
    ("pred", "target"),
    [
        ([0.3], [0.9]),  # one value: no correlation defined
        ([0.1, 0.5, 0.9], [0.4, 0.4, 0.4]),  # constant labels
    ],
)
def test_undefined_correlation_gives_one_half_and_no_gradient(pred, target):
    p = torch.tensor(pred, requires_grad=True)
    loss = plcc_loss(p, torch.tensor(target))
    loss.backward()
    assert loss.item() == pytest.approx(0.5)
    assert torch.all(p.grad == 0)


def test_empty_batch_is_a_zero_loss_on_the_graph():
    p = torch.zeros(0, requires_grad=True)
    loss = plcc_loss(p, torch.zeros(0))
    loss.backward()
    assert loss.item() == 0.0


def test_constant_predictions_have_a_finite_gradient_that_orders_them():
    p = torch.full((6,), 0.2, requires_grad=True)
    target = torch.arange(6.0)
    loss = plcc_loss(p, target)
    loss.backward()
    assert loss.item() == pytest.approx(0.5)
    assert torch.all(torch.isfinite(p.grad))
    assert torch.all(p.grad[1:] < p.grad[:-1])  # descending the loss raises high-label predictions


def test_half_precision_input_is_computed_in_float32():
    pred = torch.linspace(0, 1, 8, dtype=torch.float16)
    assert plcc(pred, pred.float()).dtype == torch.float32
    with pytest.raises(ValueError, match="differ in length"):
        plcc(torch.zeros(3), torch.zeros(4))


def test_split_batch_gradient_equals_the_whole_batch_gradient():
    """What gradient accumulation and DDP rely on: parts back-propagating their slice of plcc_grad."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 1)
    x, y = torch.randn(12, 5), torch.rand(12)

    layer.zero_grad()
    plcc_loss(layer(x).squeeze(1), y).backward()
    whole = [p.grad.clone() for p in layer.parameters()]

    with torch.no_grad():
        preds = layer(x).squeeze(1)
    loss, grad = plcc_grad(preds, y)
    assert float(loss) == pytest.approx(float(plcc_loss(preds, y)))
    layer.zero_grad()
    for part in (slice(0, 5), slice(5, 9), slice(9, 12)):
        (layer(x[part]).squeeze(1) * grad[part]).sum().backward()
    for a, b in zip(whole, (p.grad for p in layer.parameters()), strict=True):
        assert torch.allclose(a, b, atol=1e-6)

    # whereas averaging per-part losses is a different (approximate) objective
    layer.zero_grad()
    sum(plcc_loss(layer(x[s]).squeeze(1), y[s]) for s in (slice(0, 6), slice(6, 12))).backward()
    assert not torch.allclose(whole[0], layer.weight.grad / 2, atol=1e-4)


def test_order_term_costs_nothing_for_a_linear_prediction_and_counts_only_pairs_within_a_group():
    y = torch.tensor([0.9, 0.6, 0.3, 0.8, 0.5, 0.2])
    g = torch.tensor([0, 0, 0, 1, 1, -1])
    assert float(within_group_order_loss(3 * y - 1, y, g)) == pytest.approx(0.0, abs=1e-6)  # scale, offset: free
    swapped_inside = torch.tensor([0.6, 0.9, 0.3, 0.8, 0.5, 0.2])  # photo 0's two best swapped
    assert float(within_group_order_loss(swapped_inside, y, g)) > 0.1
    # another photo's image, or one with no group, may land anywhere: only within-group pairs are compared
    across = torch.tensor([0.9, 0.6, 0.3, 0.95, 0.1, 0.99])
    assert float(within_group_order_loss(across, y, g)) == pytest.approx(float(within_group_order_loss(y, y, g)))
    assert float(within_group_order_loss(across, y, torch.full((6,), -1))) == 0.0
    # the gradient raises the better-labelled image of a swapped pair and lowers the other
    loss, grad = batch_loss_grad(swapped_inside, y, g, rank_weight=1.0)
    _, plain = plcc_grad(swapped_inside, y)
    assert float(loss) > float(plcc_loss(swapped_inside, y))
    assert grad[0] - plain[0] < 0 < grad[1] - plain[1]  # a loss gradient: negative means "push up"
    assert torch.equal(batch_loss_grad(swapped_inside, y, g, 0.0)[1], plain)
    assert torch.equal(batch_loss_grad(swapped_inside, y, None, 1.0)[1], plain)


def test_order_term_gradient_splits_over_parts_like_plcc():
    torch.manual_seed(1)
    layer = torch.nn.Linear(5, 1)
    x, y, g = torch.randn(12, 5), torch.rand(12), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, -1])
    layer.zero_grad()
    pred = layer(x).squeeze(1)
    (plcc_loss(pred, y) + 0.7 * within_group_order_loss(pred, y, g)).backward()
    whole = [p.grad.clone() for p in layer.parameters()]
    with torch.no_grad():
        preds = layer(x).squeeze(1)
    _, grad = batch_loss_grad(preds, y, g, rank_weight=0.7)
    layer.zero_grad()
    for part in (slice(0, 4), slice(4, 12)):
        (layer(x[part]).squeeze(1) * grad[part]).sum().backward()
    assert all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(whole, layer.parameters(), strict=True))


def test_faint_copy_term_asks_each_copy_to_score_below_its_source_by_the_margin():
    from trainer.losses import faint_copy_order_loss, pair_loss_grad

    source = torch.tensor([0.9, 0.5, 0.2])
    # copies far enough below (more than 0.05 of a scale of 1): free; a copy scoring above its source is not
    assert float(faint_copy_order_loss(source, source - 0.1, 1.0)) == 0.0
    assert float(faint_copy_order_loss(source, source + 0.1, 1.0)) == pytest.approx(0.15)
    assert float(faint_copy_order_loss(source, source - 0.1, 0.5, margin=0.3)) == pytest.approx(0.1)
    assert float(faint_copy_order_loss(source[:0], source[:0], 1.0)) == 0.0
    with pytest.raises(ValueError, match="differ in number"):
        faint_copy_order_loss(source, source[:2], 1.0)
    # the gradient over the whole prediction vector: push the source up and its copy down, nothing else
    pred = torch.tensor([0.4, 0.7, 0.1, 0.45])
    loss, grad = pair_loss_grad(pred, torch.tensor([0]), torch.tensor([3]), scale=1.0)
    assert float(loss) == pytest.approx(0.1)
    assert grad[0] < 0 < grad[3] and grad[1] == grad[2] == 0
