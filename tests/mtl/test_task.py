"""Partially labelled task losses: the masked mean and the shape checks of TaskLoss."""
from __future__ import annotations

import pytest
import torch

from perception.mtl import TaskLoss


def test_bad_task_loss_shapes_raise():
    with pytest.raises(ValueError, match="per_sample"):
        TaskLoss(torch.zeros(2, 2), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="present"):
        TaskLoss(torch.zeros(3), torch.ones(3))


def test_masked_mean_uses_only_present_samples_even_if_absent_ones_are_nan():
    per_sample = torch.tensor([1.0, float("nan"), 3.0, 100.0], requires_grad=True)
    present = torch.tensor([True, False, True, False])
    value = TaskLoss(per_sample, present).reduce()
    assert value is not None and value.item() == pytest.approx(2.0)
    value.backward()
    assert per_sample.grad.tolist() == [0.5, 0.0, 0.5, 0.0]
    assert TaskLoss(per_sample, torch.zeros(4, dtype=torch.bool)).reduce() is None
