"""BEV sharing architectures (perception/model/sharing.py): each one's defining property on a small
constructed problem, checked against an independent computation with plain BevBackbones."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from perception.config import BevConfig, SharingConfig
from perception.model.bev import BevBackbone
from perception.model.sharing import (
    CrossStitchBackbone,
    RoutedBackbone,
    SluiceBackbone,
    SoftSharedBackbone,
    TaskBev,
    TaskDecoders,
    build_bev_backbone,
)
from sensors.frame import BevGrid

BEV = BevConfig(grid=BevGrid(-6.4, 6.4, -6.4, 6.4, 0.8), fuser_channels=4, layers=(1, 1), channels=(4, 6),
                strides=(1, 2), neck_channels=3)
TASKS = ("detection", "segmentation")
CIN = 4


def _input(seed: int = 0, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, CIN, 16, 16, generator=torch.Generator().manual_seed(seed))


def _param_ids(module: nn.Module) -> set[int]:
    return {id(p) for p in module.parameters()}


def test_hard_is_the_plain_backbone_with_its_state_dict_keys() -> None:
    torch.manual_seed(0)
    hard = build_bev_backbone(CIN, BEV, SharingConfig(), TASKS)
    assert type(hard) is BevBackbone
    assert set(hard.state_dict()) == set(BevBackbone(CIN, BEV).state_dict())
    # one BEV task: nothing to share, every kind is the plain backbone
    assert type(build_bev_backbone(CIN, BEV, SharingConfig(kind="routing"), ("detection",))) is BevBackbone


def test_task_decoders_are_separate_parameters_reached_by_their_task_only() -> None:
    torch.manual_seed(0)
    module = TaskDecoders(CIN, BEV, TASKS)
    a, b = (module.backbones[t] for t in TASKS)
    assert not (_param_ids(a) & _param_ids(b))
    assert {p.data_ptr() for p in a.parameters()}.isdisjoint({p.data_ptr() for p in b.parameters()})
    out = module(_input())
    assert isinstance(out, TaskBev) and out.regularizer is None
    out.features["detection"].sum().backward()
    assert all(p.grad is None for p in b.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in a.parameters())
    assert module.task_parameters() == {t: list(module.backbones[t].parameters()) for t in TASKS}


def test_cross_stitch_at_identity_equals_separate_networks() -> None:
    torch.manual_seed(0)
    module = CrossStitchBackbone(CIN, BEV, TASKS, self_weight=1.0).eval()
    separate = {t: copy.deepcopy(module.branches[t]).eval() for t in TASKS}
    x = _input()
    with torch.no_grad():
        out = module(x).features
        for t in TASKS:
            torch.testing.assert_close(out[t], separate[t](x), rtol=0, atol=1e-6)


def test_cross_stitch_mixes_stage_outputs_linearly() -> None:
    """One stage: out_t = up_t(sum_s alpha[t, s] * stage_s(x)), computed by hand with alpha 0.7 / 0.3."""
    config = BevConfig(grid=BEV.grid, fuser_channels=4, layers=(1,), channels=(5,), strides=(1,), neck_channels=3)
    torch.manual_seed(0)
    module = CrossStitchBackbone(CIN, config, TASKS, self_weight=0.7).eval()
    alpha = module.stitches[0].alpha
    assert torch.allclose(alpha[:, :, 0], torch.tensor([[0.7, 0.3], [0.3, 0.7]]))
    x = _input(1)
    with torch.no_grad():
        out = module(x).features
        stages = [module.branches[t].stages[0](x) for t in TASKS]
        for i, t in enumerate(TASKS):
            mixed = 0.7 * stages[i] + 0.3 * stages[1 - i]
            torch.testing.assert_close(out[t], module.branches[t].ups[0](mixed), rtol=0, atol=1e-6)


def test_soft_sharing_at_weight_zero_equals_separate_networks() -> None:
    torch.manual_seed(0)
    module = SoftSharedBackbone(CIN, BEV, TASKS, weight=0.0).eval()
    a, b = (module.copies[t] for t in TASKS)
    assert not (_param_ids(a) & _param_ids(b))
    x = _input()
    out = module(x)
    assert out.regularizer is None
    torch.testing.assert_close(out.features["segmentation"], copy.deepcopy(b)(x), rtol=0, atol=0)
    out.features["detection"].sum().backward()
    assert all(p.grad is None for p in b.parameters())


def test_soft_sharing_penalty_is_the_squared_distance_of_the_copies() -> None:
    torch.manual_seed(0)
    module = SoftSharedBackbone(CIN, BEV, TASKS, weight=0.5)
    assert float(module.penalty().detach()) == 0.0  # the copies start equal
    with torch.no_grad():
        for p in module.copies["segmentation"].parameters():
            p.add_(torch.randn_like(p))
    va = nn.utils.parameters_to_vector(module.copies["detection"].parameters())
    vb = nn.utils.parameters_to_vector(module.copies["segmentation"].parameters())
    expected = float(((va - vb) ** 2).sum().detach())
    assert float(module.penalty().detach()) == pytest.approx(expected, rel=1e-5)
    assert float(module(_input()).regularizer.detach()) == pytest.approx(0.5 * expected, rel=1e-5)
    assert module.eval()(_input()).regularizer is None  # inference: the task features alone


def _soft_distance_after_training(weight: float) -> float:
    """Train the two copies towards different targets (with the penalty) and return their distance."""
    torch.manual_seed(0)
    module = SoftSharedBackbone(CIN, BEV, TASKS, weight=weight)
    opt = torch.optim.SGD(module.parameters(), lr=0.05)
    x = _input(2, batch=4)
    targets = {"detection": 1.0, "segmentation": -1.0}
    for _ in range(30):
        out = module(x)
        loss = sum(((out.features[t] - v) ** 2).mean() for t, v in targets.items())
        if out.regularizer is not None:
            loss = loss + out.regularizer
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(module.penalty().detach())


def test_soft_sharing_large_weight_drives_the_copies_together() -> None:
    free = _soft_distance_after_training(0.0)
    tied = _soft_distance_after_training(10.0)
    assert free > 1e-3
    assert tied < 0.01 * free


def test_routing_gates_sum_to_one_per_task_and_sample_and_mix_the_experts() -> None:
    torch.manual_seed(0)
    module = RoutedBackbone(CIN, BEV, TASKS, experts=3, balance_weight=0.1).eval()
    with torch.no_grad():  # make the gates input-dependent and different per task
        for gate in module.gates.values():
            gate.weight.normal_()
            gate.bias.normal_()
    x = _input(3, batch=5)
    with torch.no_grad():
        gates = module.gate_weights(x)
        out = module(x)
        experts = [e(x) for e in module.experts]
    for t in TASKS:
        g = gates[t]
        assert g.shape == (5, 3) and bool((g >= 0).all())
        torch.testing.assert_close(g.sum(dim=1), torch.ones(5))
        expected = sum(g[:, e, None, None, None] * experts[e] for e in range(3))
        torch.testing.assert_close(out.features[t], expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(gates["detection"], gates["segmentation"])


def test_routing_balance_term_is_zero_when_balanced_and_pushes_towards_balance() -> None:
    torch.manual_seed(0)
    module = RoutedBackbone(CIN, BEV, TASKS, experts=3, balance_weight=1.0)
    x = _input(4, batch=4)
    assert float(module(x).regularizer.detach()) == pytest.approx(0.0, abs=1e-10)  # gates start uniform
    with torch.no_grad():
        for gate in module.gates.values():
            gate.bias.copy_(torch.tensor([2.0, 0.0, -1.0]))
    importance = torch.softmax(torch.tensor([2.0, 0.0, -1.0]), 0) * 4
    expected = float(importance.var(unbiased=False) / importance.mean() ** 2)
    reg = module(x).regularizer
    assert float(reg.detach()) == pytest.approx(expected, rel=1e-4)
    reg.backward()
    for gate in module.gates.values():  # descending the term lowers the favoured expert's bias
        assert gate.bias.grad[0] > 0 and gate.bias.grad[2] < 0
    assert module.task_parameters() == {t: list(module.gates[t].parameters()) for t in TASKS}


@pytest.mark.parametrize("kind", ["hard", "task_decoders", "cross_stitch", "sluice", "soft", "routing"])
def test_fusion_model_trains_with_each_sharing_kind(kind: str) -> None:
    """The whole model (small config, two frames): forward, every task's loss, backward; the BEV
    heads read their own branch; shared and task parameters partition the model's parameters."""
    import dataclasses

    from model_frames import frames_batch, make_frame, small_config

    from perception.model import FusionModel

    config = small_config()
    model_config = dataclasses.replace(config.model, sharing=SharingConfig(kind=kind, soft_weight=0.1))
    torch.manual_seed(0)
    model = FusionModel(model_config).train()
    batch = frames_batch([make_frame(0), make_frame(1)], model_config)
    out = model(batch)
    losses = model.losses(out, batch)
    assert set(losses) == {"detection", "segmentation", "depth", "driver"}
    total = sum(v.per_sample.mean() for v in losses.values())
    reg = model.regularization(out)
    assert (reg is not None) == (kind in ("sluice", "soft", "routing"))
    if reg is not None:
        total = total + reg
    total.backward()
    shared = {id(p) for p in model.shared_parameters()}
    owned = {t: {id(p) for p in ps} for t, ps in model.task_parameters().items()}
    everything = {id(p) for p in model.parameters()}
    assert shared | set().union(*owned.values()) == everything
    assert not shared & set().union(*owned.values())
    assert not owned["detection"] & owned["segmentation"]
    for name, param in model.bev_backbone.named_parameters():
        assert param.grad is not None, name
    if kind in ("task_decoders", "soft"):  # the per-task backbone of a task belongs to that task
        branch = model.bev_backbone.backbones if kind == "task_decoders" else model.bev_backbone.copies
        assert {id(p) for p in branch["segmentation"].parameters()} <= owned["segmentation"]


def test_sluice_at_identity_equals_separate_networks() -> None:
    torch.manual_seed(0)
    module = SluiceBackbone(CIN, BEV, TASKS, self_weight=1.0, orthogonality_weight=0.0).eval()
    separate = {t: copy.deepcopy(module.branches[t]).eval() for t in TASKS}
    x = _input()
    with torch.no_grad():
        out = module(x)
        assert out.regularizer is None
        for t in TASKS:
            torch.testing.assert_close(out.features[t], separate[t](x), rtol=0, atol=1e-6)


def test_sluice_mixes_subspaces_weights_stages_and_penalises_overlap() -> None:
    """One stage of 4 channels = two subspaces of 2 per task; alpha, beta and the penalty by hand."""
    config = BevConfig(grid=BEV.grid, fuser_channels=4, layers=(1,), channels=(4,), strides=(1,), neck_channels=3)
    torch.manual_seed(0)
    module = SluiceBackbone(CIN, config, TASKS, self_weight=0.8, orthogonality_weight=2.0)  # training mode
    alpha = module.alphas[0]
    expected_alpha = torch.tensor([[0.8, 0, 0.2, 0], [0, 0.8, 0, 0.2], [0.2, 0, 0.8, 0], [0, 0.2, 0, 0.8]])
    torch.testing.assert_close(alpha.detach(), expected_alpha)
    with torch.no_grad():
        alpha.add_(torch.randn(4, 4) * 0.1)
        module.betas.copy_(torch.tensor([[0.5], [2.0]]))
    x = _input(5)
    with torch.no_grad():
        out = module(x)
        stages = [module.branches[t].stages[0](x) for t in TASKS]
        units = [c for s in stages for c in (s[:, :2], s[:, 2:])]  # (det 1, det 2, seg 1, seg 2)
        penalty = 0.0
        for i, t in enumerate(TASKS):
            mixed = torch.cat([sum(alpha[2 * i + k, v] * units[v] for v in range(4)) for k in range(2)], dim=1)
            beta = module.betas[i, 0]
            torch.testing.assert_close(out.features[t], beta * module.branches[t].ups[0](mixed), rtol=1e-5, atol=1e-6)
            a = mixed[:, :2].permute(1, 0, 2, 3).reshape(2, -1)
            b = mixed[:, 2:].permute(1, 0, 2, 3).reshape(2, -1)
            penalty += float(((a @ b.T) / a.shape[1]).pow(2).sum())
        assert float(out.regularizer.detach()) == pytest.approx(2.0 * penalty / 2, rel=1e-4)


def test_sharing_config_errors_name_the_key() -> None:
    from perception.config import ConfigError, config_from_dict

    assert config_from_dict({"model": {"sharing": {"kind": "routing", "experts": 2}}}).model.sharing.experts == 2
    with pytest.raises(ConfigError, match=r"model\.sharing\.kind"):
        config_from_dict({"model": {"sharing": {"kind": "magic"}}})
    with pytest.raises(ConfigError, match=r"model\.sharing\.soft_weight"):
        config_from_dict({"model": {"sharing": {"soft_weight": -1.0}}})
    with pytest.raises(ConfigError, match=r"model\.sharing\.kind: sluice .* must be even"):
        config_from_dict({"model": {"sharing": {"kind": "sluice"}, "bev": {"channels": [33, 64]}}})
