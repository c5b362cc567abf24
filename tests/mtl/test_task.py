"""Partially labelled task losses: the shape and mask checks of TaskLoss."""
from __future__ import annotations

import pytest
import torch

from perception.mtl import TaskLoss


def test_bad_task_loss_shapes_raise():
    with pytest.raises(ValueError, match="per_sample"):
        TaskLoss(torch.zeros(2, 2), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="present"):
        TaskLoss(torch.zeros(3), torch.ones(3))
