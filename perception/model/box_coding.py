"""The CenterPoint box coding: the one definition of the detection regression layout.

A box (ego frame: centre x, y, z in metres, length, width, height in metres, yaw in rad, velocity
vx, vy in m/s) whose centre falls in BEV cell (ix, iy) of the model grid (cell (ix, iy) covers
x in [xmin + ix * res, xmin + (ix + 1) * res), likewise y) is coded as 10 regression channels at
that cell, in this order (Yin, Zhou, Krähenbühl 2021, CenterPoint):

========  =======  ==============================================================
channels  name     meaning
========  =======  ==============================================================
0:2       offset   centre inside its cell (dx, dy), in cells, [0, 1)
2:3       z        centre height, metres
3:6       log_size log length, log width, log height (metres)
6:8       yaw      sin yaw, cos yaw
8:10      velocity vx, vy (m/s; trained only where known)
========  =======  ==============================================================

:func:`encode_boxes` writes the layout (training targets), :func:`decode_boxes` reads it
(inference); the loss (:func:`perception.model.losses.regression_l1`) masks :data:`VELOCITY`.
"""
from __future__ import annotations

import math

import torch

#: Channel slices of the regression map, by name (see the module docstring).
OFFSET = slice(0, 2)
Z = slice(2, 3)
LOG_SIZE = slice(3, 6)
YAW = slice(6, 8)
VELOCITY = slice(8, 10)
#: Channel names in order; ``len(REGRESSION_CHANNELS)`` is the regression head's output width.
REGRESSION_CHANNELS: tuple[str, ...] = ("dx", "dy", "z", "log_l", "log_w", "log_h", "sin", "cos", "vx", "vy")
#: Largest decoded log size (e^6 m = 403 m): keeps an untrained head's sizes finite.
MAX_LOG_SIZE = 6.0
#: Smallest decoded box length, width or height (metres): a log size of -800 gives a 1 cm box, not
#: a 0 m one that rotated NMS refuses.
MIN_BOX_SIZE = 0.01


def encode_boxes(
    boxes: torch.Tensor, xmin: float, ymin: float, resolution: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cells and regression values of boxes (n, 9) (x, y, z, length, width, height, yaw, vx, vy),
    computed in ``boxes``' dtype: ix (n,) long, iy (n,) long (may lie outside the grid) and
    regression (n, 10); an unknown (NaN) velocity is coded 0."""
    fx, fy = (boxes[:, 0] - xmin) / resolution, (boxes[:, 1] - ymin) / resolution
    ix, iy = torch.floor(fx), torch.floor(fy)
    velocity = boxes[:, 7:9]
    known = torch.isfinite(velocity).all(dim=1, keepdim=True)
    regression = torch.cat([
        torch.stack([fx - ix, fy - iy], dim=1), boxes[:, 2:3], torch.log(boxes[:, 3:6]),
        torch.sin(boxes[:, 6:7]), torch.cos(boxes[:, 6:7]), torch.where(known, velocity, 0.0),
    ], dim=1)
    return ix.long(), iy.long(), regression


def decode_boxes(
    ix: torch.Tensor, iy: torch.Tensor, regression: torch.Tensor, xmin: float, ymin: float, resolution: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Boxes from cells (ix, iy) (n,) and their regression values (n, 10), computed in
    ``regression``'s dtype: centre (n, 3) metres, size (n, 3) metres clamped to
    [:data:`MIN_BOX_SIZE`, e^:data:`MAX_LOG_SIZE`], yaw (n,) rad, velocity (n, 2) m/s."""
    x = xmin + (ix.to(regression.dtype) + regression[:, OFFSET][:, 0]) * resolution
    y = ymin + (iy.to(regression.dtype) + regression[:, OFFSET][:, 1]) * resolution
    center = torch.stack([x, y, regression[:, Z][:, 0]], dim=1)
    size = torch.exp(regression[:, LOG_SIZE].clamp(min=math.log(MIN_BOX_SIZE), max=MAX_LOG_SIZE))
    sin_cos = regression[:, YAW]
    yaw = torch.atan2(sin_cos[:, 0], sin_cos[:, 1])
    return center, size, yaw, regression[:, VELOCITY]
