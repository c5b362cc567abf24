"""Each multi-task strategy does what its paper says, on small constructed problems."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from perception.mtl import (
    FAMO,
    STRATEGY_NAMES,
    DynamicWeightAverage,
    GradNorm,
    UncertaintyWeighting,
    make_strategy,
)


def linear_losses(gradients: torch.Tensor) -> tuple[nn.Parameter, dict[str, torch.Tensor]]:
    """Losses ``L_k = g_k . x`` on a shared parameter x, so that grad L_k = g_k exactly."""
    x = nn.Parameter(torch.zeros(gradients.shape[1]))
    return x, {f"t{k}": (g * x).sum() for k, g in enumerate(gradients)}


def conflicting_gradients(seed: int, k: int = 3, dim: int = 6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(k, dim, generator=gen)
    g[1] = -0.8 * g[0] + 0.3 * torch.randn(dim, generator=gen)  # strong conflict between t0 and t1
    return g


def test_pcgrad_projects_away_the_conflict():
    g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # cosine -0.71
    x, losses = linear_losses(g)
    step = make_strategy("pcgrad", ["t0", "t1"]).backward(losses, [x])
    g0, g1 = g
    p0 = g0 - (g0 @ g1) / (g1 @ g1) * g1  # each gradient projected on the other's normal plane
    p1 = g1 - (g1 @ g0) / (g0 @ g0) * g0
    torch.testing.assert_close(x.grad, p0 + p1)
    assert p0 @ p1 >= 0.0 and p0 @ g1 == pytest.approx(0.0, abs=1e-6)
    assert (x.grad @ g0) >= 0.0 and (x.grad @ g1) >= 0.0  # the update conflicts with no task
    assert step.cosine[0, 1] == pytest.approx(-1 / math.sqrt(2), rel=1e-5)


def test_diagnostic_steps_report_each_task_s_shared_gradient_norm_without_the_loss_scale():
    g = torch.tensor([[3.0, 4.0], [0.0, -0.5]])
    x, losses = linear_losses(g)
    step = make_strategy("equal", ["t0", "t1"]).backward(losses, [x], track_conflict=True)
    assert step.shared_grad_norms == pytest.approx({"t0": 5.0, "t1": 0.5})
    x, losses = linear_losses(g)
    scaled = {n: 8.0 * v for n, v in losses.items()}  # a mixed-precision loss scale of 8
    step = make_strategy("equal", ["t0", "t1"]).backward(scaled, [x], track_conflict=True, grad_scale=8.0)
    assert step.shared_grad_norms == pytest.approx({"t0": 5.0, "t1": 0.5})
    x, losses = linear_losses(g)
    assert make_strategy("equal", ["t0", "t1"]).backward(losses, [x]).shared_grad_norms is None


def test_static_weights_scale_each_task_s_gradient_and_default_to_one():
    g = torch.tensor([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]])
    x, losses = linear_losses(g)
    step = make_strategy("static", ["t0", "t1", "t2"], weights={"t1": 4.0, "t2": 0.0}).backward(losses, [x])
    torch.testing.assert_close(x.grad, g[0] + 4.0 * g[1])
    assert step.weights == {"t0": 1.0, "t1": 4.0, "t2": 0.0}
    with pytest.raises(ValueError, match="unknown tasks"):
        make_strategy("static", ["t0"], weights={"map": 2.0})
    with pytest.raises(ValueError, match="finite and >= 0"):
        make_strategy("static", ["t0"], weights={"t0": -1.0})


def test_pcgrad_leaves_non_conflicting_gradients_alone():
    g = torch.tensor([[1.0, 0.2], [0.3, 1.0]])
    x, losses = linear_losses(g)
    make_strategy("pcgrad", ["t0", "t1"]).backward(losses, [x])
    torch.testing.assert_close(x.grad, g.sum(0))


@pytest.mark.parametrize("seed", range(5))
def test_cagrad_update_stays_in_its_ball_and_improves_the_worst_task(seed):
    g = conflicting_gradients(seed)
    x, losses = linear_losses(g)
    make_strategy("cagrad", ["t0", "t1", "t2"], c=0.5).backward(losses, [x])
    d, g0 = x.grad, g.mean(0)
    assert (d - g0).norm() <= 0.5 * g0.norm() * (1 + 1e-4)
    # g0 is feasible, so CAGrad's worst-case improvement is at least the mean gradient's.
    assert (g @ d).min() >= (g @ g0).min() - 1e-4


@pytest.mark.parametrize("seed", range(5))
def test_imtlg_has_equal_projections_on_every_unit_task_gradient(seed):
    g = conflicting_gradients(seed) * torch.tensor([[1.0], [10.0], [0.1]])  # very different scales
    x, losses = linear_losses(g)
    step = make_strategy("imtlg", ["t0", "t1", "t2"]).backward(losses, [x])
    projections = (g / g.norm(dim=1, keepdim=True)) @ x.grad
    torch.testing.assert_close(projections, projections[0].expand(3), rtol=1e-4, atol=1e-6)
    assert sum(step.weights.values()) == pytest.approx(1.0, abs=1e-5)


def test_imtlg_common_projection_is_positive_for_mildly_conflicting_gradients():
    g = torch.tensor([[1.0, 0.0, 0.0], [-0.3, 5.0, 0.0], [0.1, 0.1, 0.2]])
    x, losses = linear_losses(g)
    make_strategy("imtlg", ["t0", "t1", "t2"]).backward(losses, [x])
    projections = (g / g.norm(dim=1, keepdim=True)) @ x.grad
    assert projections.min() > 0.0
    torch.testing.assert_close(projections, projections[0].expand(3), rtol=1e-4, atol=1e-6)


def test_aligned_mtl_balances_orthogonal_gradients_of_different_norms():
    g = torch.tensor([[1.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    x, losses = linear_losses(g)
    make_strategy("aligned_mtl", ["t0", "t1"]).backward(losses, [x])
    unit = g / g.norm(dim=1, keepdim=True)
    projections = unit @ x.grad
    assert projections[0] > 0.0
    assert projections[0].item() == pytest.approx(projections[1].item(), rel=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_upgrad_update_conflicts_with_no_task(seed):
    g = conflicting_gradients(seed)
    x, losses = linear_losses(g)
    make_strategy("upgrad", ["t0", "t1", "t2"]).backward(losses, [x])
    assert (g @ x.grad).min() >= -1e-5


def test_uncertainty_weights_learn_the_noise_ratio_of_two_regressions():
    torch.manual_seed(0)
    n, dim = 2048, 4
    inputs = torch.randn(n, dim)
    targets = {
        "a": inputs @ torch.randn(dim) + 1.0 * torch.randn(n),  # noise sigma 1
        "b": inputs @ torch.randn(dim) + 3.0 * torch.randn(n),  # noise sigma 3
    }
    shared = nn.Linear(dim, 8)
    heads = nn.ModuleDict({k: nn.Linear(8, 1) for k in targets})
    strategy = UncertaintyWeighting(["a", "b"])
    params = [*shared.parameters(), *heads.parameters()]
    opt = torch.optim.Adam([{"params": params}, *strategy.extra_param_groups()], lr=0.03)
    for step in range(250):
        idx = torch.randint(0, n, (256,))
        feats = shared(inputs[idx])
        losses = {k: ((heads[k](feats).squeeze(1) - t[idx]) ** 2).mean() for k, t in targets.items()}
        opt.zero_grad()
        strategy.backward(losses, list(shared.parameters()), list(heads.parameters()))
        opt.step()
    var = strategy.variances()
    assert var["b"] / var["a"] == pytest.approx(9.0, rel=0.2)
    assert var["a"] == pytest.approx(1.0, rel=0.2)


def test_gradnorm_equalizes_gradient_norms_of_tasks_with_different_loss_scales():
    torch.manual_seed(0)
    dim = 8
    inputs = torch.randn(1024, dim)
    targets = {"big": 100.0 * (inputs @ torch.randn(dim)), "small": inputs @ torch.randn(dim)}
    shared = nn.Linear(dim, 16)
    heads = nn.ModuleDict({k: nn.Linear(16, 1) for k in targets})
    strategy = GradNorm(["big", "small"], alpha=0.0, lr=0.01)  # alpha 0: target equal norms

    def weighted_norms() -> float:
        feats = shared(inputs[:64])
        losses = {k: ((heads[k](feats).squeeze(1) - t[:64]) ** 2).mean() for k, t in targets.items()}
        norms = {}
        for k, loss in losses.items():
            grads = torch.autograd.grad(loss, list(shared.parameters()), retain_graph=True)
            norms[k] = strategy.task_weights[k].item() * torch.cat([g.flatten() for g in grads]).norm().item()
        return norms["big"] / norms["small"]

    assert weighted_norms() > 100.0
    for _ in range(300):  # only the weights move: the model is frozen, so the norms stay put
        feats = shared(inputs[:64])
        losses = {k: ((heads[k](feats).squeeze(1) - t[:64]) ** 2).mean() for k, t in targets.items()}
        strategy.backward(losses, list(shared.parameters()), list(heads.parameters()))
    assert weighted_norms() == pytest.approx(1.0, rel=0.3)
    total = sum(p.item() for p in strategy.task_weights.values())
    assert total == pytest.approx(2.0, rel=1e-5)  # weights renormalised to sum to K


def test_dwa_weights_sum_to_k_and_favour_the_slowest_task():
    strategy = DynamicWeightAverage(["fast", "slow", "flat"], temperature=2.0, period_steps=1)
    x = nn.Parameter(torch.ones(()))
    history = [(1.0, 1.0, 1.0), (0.5, 0.9, 1.0)]
    for losses in history:
        step = strategy.backward({k: v * x for k, v in zip(["fast", "slow", "flat"], losses)}, [x])
        assert list(step.weights.values()) == pytest.approx([1.0, 1.0, 1.0])  # < 2 periods known
    step = strategy.backward({k: 0.4 * x for k in ["fast", "slow", "flat"]}, [x])
    w = step.weights
    assert sum(w.values()) == pytest.approx(3.0)
    assert w["flat"] > w["slow"] > w["fast"]
    expected = 3 * torch.softmax(torch.tensor([0.5, 0.9, 1.0]) / 2.0, 0)
    assert list(w.values()) == pytest.approx(expected.tolist(), rel=1e-5)


def test_famo_update_direction_is_invariant_to_loss_scale():
    g = torch.tensor([[1.0, 0.0], [0.2, 1.0]])
    x, losses = linear_losses(g)
    offset = 2.0  # keep losses positive: L = g.x + offset at x = 0
    FAMO(["t0", "t1"]).backward({k: v + offset for k, v in losses.items()}, [x])
    reference = x.grad.clone()
    x2, losses2 = linear_losses(g)
    FAMO(["t0", "t1"]).backward({"t0": 1000.0 * (losses2["t0"] + offset), "t1": losses2["t1"] + offset}, [x2])
    # sum_k z_k grad log L_k / c: the direction ignores a task's scale (only |d| changes through c)
    assert torch.nn.functional.cosine_similarity(x2.grad, reference, dim=0).item() == pytest.approx(1.0, abs=1e-6)
    x3, losses3 = linear_losses(g)
    make_strategy("equal", ["t0", "t1"]).backward({"t0": 1000.0 * losses3["t0"], "t1": losses3["t1"]}, [x3])
    assert torch.nn.functional.cosine_similarity(x3.grad, reference, dim=0).item() < 0.99


def test_famo_gives_more_weight_to_the_task_that_improves_least():
    strategy = FAMO(["fast", "slow"])
    x = nn.Parameter(torch.ones(()))
    for fast, slow in [(1.0, 1.0), (0.5, 0.95), (0.25, 0.9), (0.12, 0.86)]:
        step = strategy.backward({"fast": fast * x, "slow": slow * x}, [x])
    z = strategy.task_probabilities()
    assert z["slow"] > z["fast"]
    assert sum(step.weights.values()) == pytest.approx(1.0, abs=1e-5)


def test_make_strategy_rejects_unknown_names_and_arguments():
    with pytest.raises(ValueError, match="unknown multi-task strategy"):
        make_strategy("magic", ["a"])
    with pytest.raises(ValueError, match="dwa"):
        make_strategy("dwa", ["a"], c=0.5)


def test_backward_rejects_bad_losses():
    strategy = make_strategy("equal", ["a", "b"])
    x = nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="no task"):
        strategy.backward({}, [x])
    with pytest.raises(ValueError, match="unknown tasks"):
        strategy.backward({"c": x.sum()}, [x])
    with pytest.raises(ValueError, match="'a' is not finite"):
        strategy.backward({"a": x.sum() * float("inf")}, [x])
    with pytest.raises(ValueError, match="scalar"):
        strategy.backward({"a": x * 2}, [x])


def test_factory_builds_every_listed_strategy():
    for name in STRATEGY_NAMES:
        assert make_strategy(name, ["a", "b"]).task_names == ("a", "b")
