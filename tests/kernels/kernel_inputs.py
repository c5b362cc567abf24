"""Shared inputs for the kernel tests: a BEV grid and a ring of outward-facing cameras."""

from __future__ import annotations

import math

import torch

import kernels

GRID = kernels.BevPoolGeometry(-8.0, -8.0, -2.0, 8.0, 8.0, 2.0, 1.0, 2.0)


def ring_frustum(cameras: int, depth_bins: int, h: int, w: int, dtype=torch.float64) -> torch.Tensor:
    """(N, D, H, W, 3) ego-frame frustum of pinhole cameras facing outwards around the car."""
    depths = torch.linspace(1.0, 10.0, depth_bins, dtype=dtype)
    focal = w / 2 / math.tan(math.radians(40))
    xc = (torch.arange(w, dtype=dtype) + 0.5 - w / 2) / focal
    yc = (torch.arange(h, dtype=dtype) + 0.5 - h / 2) / focal
    fwd = depths[:, None, None].expand(depth_bins, h, w)
    left = -(xc[None, None, :] * depths[:, None, None]).expand(depth_bins, h, w)
    up = 1.0 - (yc[None, :, None] * depths[:, None, None]).expand(depth_bins, h, w)
    out = torch.empty(cameras, depth_bins, h, w, 3, dtype=dtype)
    for n in range(cameras):
        yaw = 2 * math.pi * n / cameras
        out[n, ..., 0] = fwd * math.cos(yaw) - left * math.sin(yaw)
        out[n, ..., 1] = fwd * math.sin(yaw) + left * math.cos(yaw)
        out[n, ..., 2] = up
    return out
