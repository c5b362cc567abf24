"""Evaluate with one sensor switched off: the fused model's answer when cameras or LiDAR fail."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

if TYPE_CHECKING:
    from perception.export.runner import OnnxRunner

#: Sensor name -> the :class:`perception.data.Batch` presence field that switches it off.
SENSORS: dict[str, str] = {"camera": "camera_valid", "lidar": "lidar_valid"}


def drop_sensor(model: nn.Module | OnnxRunner, sensor: str) -> RemovableHandle:
    """Mark ``sensor`` (``"camera"``: the street cameras, ``"lidar"``) as missing in every batch the
    model sees, as a failed sensor would: the fuser gets zeros and a 0 presence flag (what modality
    dropout trains for), the depth head has no image to read without cameras. The cabin camera is
    untouched. Returns the hook handle; ``handle.remove()`` restores the model.

    Raises:
        ValueError: unknown sensor name.
    """
    if sensor not in SENSORS:
        raise ValueError(f"unknown sensor {sensor!r}: choose one of {', '.join(SENSORS)}")
    field_name = SENSORS[sensor]

    def hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        batch = args[0]
        off = torch.zeros_like(getattr(batch, field_name))
        return (dataclasses.replace(batch, **{field_name: off}), *args[1:])

    return model.register_forward_pre_hook(hook)
