"""Every strategy trains a shared model with three heads under partial labels, and resumes exactly."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from perception.mtl import STRATEGY_NAMES, make_strategy

TASKS = ["a", "b", "c"]


class ThreeHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.heads = nn.ModuleDict({t: nn.Linear(16, 1) for t in TASKS})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.shared(x)
        return {t: head(feats).squeeze(1) for t, head in self.heads.items()}


def make_data(seed: int = 0, n: int = 512) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=gen)
    return x, {"a": x[:, 0] * x[:, 1], "b": torch.sin(2 * x[:, 2]) + x[:, 3], "c": 5.0 * x[:, 4].abs()}


def batch_losses(model: ThreeHeads, x, targets, idx, step: int) -> dict[str, torch.Tensor]:
    """Masked losses; task c is unlabelled every third step, b on odd samples only."""
    preds = model(x[idx])
    out = {}
    for t in TASKS:
        present = torch.ones(len(idx), dtype=torch.bool)
        if t == "b":
            present[1::2] = False
        if t == "c" and step % 3 == 0:
            present[:] = False
        if present.any():  # a task with no labelled sample is absent from the step
            out[t] = ((preds[t] - targets[t][idx]) ** 2)[present].mean()
    return out


def strategy_kwargs(name: str) -> dict:
    return {"dwa": {"period_steps": 5}, "static": {"weights": {"b": 2.0}}}.get(name, {})


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_strategy_trains_a_shared_model_with_partial_labels(name):
    torch.manual_seed(0)
    model = ThreeHeads()
    x, targets = make_data()
    strategy = make_strategy(name, TASKS, **strategy_kwargs(name))
    opt = torch.optim.Adam([{"params": model.parameters()}, *strategy.extra_param_groups()], lr=1e-2)
    cosine_steps = {"a/b": 0, "a/c": 0}

    def full_loss() -> float:
        with torch.no_grad():
            preds = model(x)
            return sum(((preds[t] - targets[t]) ** 2).mean().item() / targets[t].var().item() for t in TASKS)

    before = full_loss()
    gen = torch.Generator().manual_seed(1)
    for step in range(60):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        losses = batch_losses(model, x, targets, idx, step)
        opt.zero_grad()
        result = strategy.backward(losses, list(model.shared.parameters()), list(model.heads.parameters()))
        if step % 3 == 0:  # task c absent: its head gets no gradient
            assert "c" not in result.weights
            assert all(p.grad is None for p in model.heads["c"].parameters())
        if result.cosine is not None:
            cosine_steps["a/b"] += 1
            cosine_steps["a/c"] += "c" in result.weights
        opt.step()
    after = full_loss()
    assert after < 0.7 * before, (before, after)
    if name not in ("equal", "static", "uncertainty", "dwa", "famo"):
        assert cosine_steps == {"a/b": 60, "a/c": 40}


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_absent_task_does_not_disturb_strategy_state(name):
    torch.manual_seed(0)
    model = ThreeHeads()
    x, targets = make_data()
    # DWA: no period boundary inside this test (a boundary legitimately updates c's history)
    strategy = make_strategy(name, TASKS, **({"period_steps": 100} if name == "dwa" else {}))
    idx = torch.arange(32)
    for step in range(4):  # all tasks present
        losses = batch_losses(model, x, targets, idx, step=1)
        strategy.backward(losses, list(model.shared.parameters()), list(model.heads.parameters()))
    before = copy.deepcopy(strategy.state_dict())
    for p in strategy.extra_parameters():
        p.grad = None
    losses = batch_losses(model, x, targets, idx, step=0)  # task c absent
    assert set(losses) == {"a", "b"}
    strategy.backward(losses, list(model.shared.parameters()), list(model.heads.parameters()))
    after = strategy.state_dict()
    assert _task_entries(before, "c") == _task_entries(after, "c")
    if name == "uncertainty":
        assert strategy.log_vars["c"].grad is None and strategy.log_vars["a"].grad is not None


def _task_entries(state, task: str) -> list:
    """Every value stored for ``task`` anywhere in a nested state dict (optimizer state included)."""
    found = []
    if isinstance(state, dict):
        for key, value in state.items():
            if key == task:
                found.append(value.tolist() if torch.is_tensor(value) else value)
            else:
                found.extend(_task_entries(value, task))
    elif isinstance(state, list):
        for value in state:
            found.extend(_task_entries(value, task))
    return found


@pytest.mark.parametrize("name", ["uncertainty", "dwa", "gradnorm", "famo"])
def test_state_dict_resumes_exactly(name):
    torch.manual_seed(0)
    model = ThreeHeads()
    x, targets = make_data()
    first = make_strategy(name, TASKS, **strategy_kwargs(name))
    for step in range(7):
        idx = torch.arange(step * 16, step * 16 + 32)
        first.backward(batch_losses(model, x, targets, idx, step), list(model.shared.parameters()))
    resumed = make_strategy(name, TASKS, **strategy_kwargs(name))
    resumed.load_state_dict(copy.deepcopy(first.state_dict()))
    for step in range(7, 12):
        idx = torch.arange(step * 16, step * 16 + 32)
        a = first.backward(batch_losses(model, x, targets, idx, step), list(model.shared.parameters()))
        b = resumed.backward(batch_losses(model, x, targets, idx, step), list(model.shared.parameters()))
        assert a.weights == b.weights




def test_backward_takes_the_diagnostics_switch_and_the_loss_scale():
    """What the trainer needs is passed into backward: per-step conflict tracking, and the loss scale
    that the strategy's own parameters (gradients from detached losses) must carry too."""
    torch.manual_seed(0)
    model = ThreeHeads()
    x, targets = make_data()
    idx = torch.arange(32)
    equal = make_strategy("equal", TASKS)
    assert equal.backward(batch_losses(model, x, targets, idx, 1), list(model.shared.parameters())).cosine is None
    step = equal.backward(batch_losses(model, x, targets, idx, 1), list(model.shared.parameters()), track_conflict=True)
    assert step.cosine is not None and step.cosine.shape == (3, 3) and not equal.track_conflict
    grads = []
    for scale in (1.0, 8.0):
        strategy = make_strategy("uncertainty", TASKS)
        strategy.backward(batch_losses(model, x, targets, idx, 1), list(model.shared.parameters()), grad_scale=scale)
        grads.append(torch.cat([p.grad.flatten() for p in strategy.extra_parameters()]))
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], 8.0 * grads[0])
