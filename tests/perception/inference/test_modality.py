"""drop_sensor: a failed sensor at inference, as the fuser's presence flags see it."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from perception.inference.modality import drop_sensor


@dataclasses.dataclass
class FakeBatch:
    camera_valid: torch.Tensor
    lidar_valid: torch.Tensor


class Echo(nn.Module):
    def forward(self, batch):
        return batch


@pytest.mark.parametrize("sensor, field, other", [("lidar", "lidar_valid", "camera_valid"),
                                                  ("camera", "camera_valid", "lidar_valid")])
def test_dropped_sensor_is_marked_missing_until_the_hook_is_removed(sensor, field, other):
    module = Echo()
    batch = FakeBatch(torch.ones(2, 6, dtype=torch.bool), torch.ones(2, dtype=torch.bool))
    handle = drop_sensor(module, sensor)
    seen = module(batch)
    assert not getattr(seen, field).any() and getattr(seen, other).all()
    assert getattr(batch, field).all()  # the caller's batch is not modified
    handle.remove()
    assert getattr(module(batch), field).all()


def test_unknown_sensor():
    with pytest.raises(ValueError, match="unknown sensor 'radar'"):
        drop_sensor(Echo(), "radar")
