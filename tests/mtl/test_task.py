"""Partially labelled task losses: masked per-sample reduction and absent tasks."""
from __future__ import annotations

import pytest
import torch

from perception.mtl import Task, TaskLoss, present_losses


def test_masked_mean_uses_only_present_samples_even_if_absent_ones_are_nan():
    per_sample = torch.tensor([1.0, float("nan"), 3.0, 100.0], requires_grad=True)
    present = torch.tensor([True, False, True, False])
    value = TaskLoss(per_sample, present).reduce()
    assert value is not None and value.item() == pytest.approx(2.0)
    value.backward()
    assert per_sample.grad.tolist() == [0.5, 0.0, 0.5, 0.0]


def test_task_with_no_present_sample_is_dropped():
    losses = {
        "depth": TaskLoss(torch.tensor([1.0, 2.0]), torch.tensor([True, True])),
        "driver": TaskLoss(torch.tensor([5.0, 6.0]), torch.tensor([False, False])),
    }
    reduced = present_losses(losses)
    assert list(reduced) == ["depth"]
    assert reduced["depth"].item() == pytest.approx(1.5)
    assert losses["driver"].num_present == 0


def test_bad_task_loss_shapes_raise():
    with pytest.raises(ValueError, match="per_sample"):
        TaskLoss(torch.zeros(2, 2), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="present"):
        TaskLoss(torch.zeros(3), torch.ones(3))
    task = Task("seg", lambda p, t: (p - t).mean(), metric="mIoU", higher_is_better=True)
    with pytest.raises(TypeError, match="seg"):
        task.loss(torch.zeros(2), torch.zeros(2))


def test_task_loss_helper_returns_the_loss_fn_result():
    task = Task("depth", lambda p, t: TaskLoss((p - t).abs(), t > 0), metric="AbsRel", higher_is_better=False)
    result = task.loss(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 1.0]))
    assert result.reduce().item() == pytest.approx(1.5)  # (|2-1| + |3-1|) / 2
