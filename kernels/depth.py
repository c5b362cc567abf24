"""Projection of LiDAR points into a camera: nearest depth per pixel (depth supervision).

Camera frame: x right, y down, z forward (metres). Pixel centres are at integer image
coordinates (OpenCV): a point at image coordinates (u, v) lands in column ``floor(u + 0.5)``
and row ``floor(v + 0.5)``. The depth is the camera-frame z (not the ray length).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from kernels import _depth_numba as nb
from kernels._checks import check_positive_int, check_tensor
from kernels._dispatch import (
    as_numba_cuda,
    as_numpy,
    choose_backend,
    launch_config,
    numba_cuda_stream,
    numba_threads,
)
from kernels.reference import depth as ref

_BACKENDS = ("reference", "numba", "numba_cuda")


def points_to_depth(
    points_xyz: torch.Tensor,
    ego_to_cam: torch.Tensor,
    K: torch.Tensor,
    image_hw: tuple[int, int],
    min_depth: float = 0.1,
    backend: str | None = None,
) -> torch.Tensor:
    """(H, W) float32 image of the nearest camera-frame z per pixel, 0 where no point lands.

    Args:
        points_xyz: (N, 3) (or (N, >=3), extra columns ignored) float32/float64, ego frame, metres.
        ego_to_cam: (4, 4) rigid transform from ego to camera frame.
        K: (3, 3) camera intrinsics (pixels).
        image_hw: (H, W) image size in pixels.
        min_depth: points with z <= min_depth (behind or too close to the camera) are dropped;
            non-finite points are dropped too.
        backend: None (by device), "reference", "numba" or "numba_cuda".
    """
    op = "points_to_depth"
    floats = (torch.float32, torch.float64)
    check_tensor(op, "points_xyz", points_xyz, 2, floats, min_last_dim=3)
    check_tensor(op, "ego_to_cam", ego_to_cam, 2, floats)
    check_tensor(op, "K", K, 2, floats)
    if tuple(ego_to_cam.shape) != (4, 4) or tuple(K.shape) != (3, 3):
        raise ValueError(f"{op}: ego_to_cam must be (4, 4) and K (3, 3), got {tuple(ego_to_cam.shape)}, {tuple(K.shape)}")
    if not (torch.isfinite(ego_to_cam).all() and torch.isfinite(K).all()):
        raise ValueError(f"{op}: ego_to_cam and K must be finite")
    if len(image_hw) != 2:
        raise ValueError(f"{op}: image_hw must be (H, W), got {image_hw!r}")
    h = check_positive_int(op, "image_hw[0]", image_hw[0])
    w = check_positive_int(op, "image_hw[1]", image_hw[1])
    if not (math.isfinite(min_depth) and min_depth >= 0):
        raise ValueError(f"{op}: min_depth must be finite and >= 0, got {min_depth}")
    which = choose_backend(op, points_xyz.device, backend, _BACKENDS)
    points = points_xyz.detach().contiguous()
    if which == "reference":
        return ref.points_to_depth(points, ego_to_cam, K, (h, w), min_depth)
    m = ego_to_cam.detach().to(torch.float64).contiguous()
    k = K.detach().to(torch.float64).contiguous()
    if which == "numba":
        n = points.shape[0]
        flat = np.empty(n, dtype=np.int64)
        depth = np.empty(n, dtype=np.float32)
        image = torch.zeros((h, w), dtype=torch.float32)
        if n:
            with numba_threads(n * 32):  # ~32 flops per point
                nb.project(as_numpy(points), as_numpy(m), as_numpy(k), h, w, float(min_depth), flat, depth)
            nb.nearest(flat, depth, as_numpy(image).reshape(-1))
        return image
    from kernels import _depth_cuda as kc

    image = torch.full((h * w,), float("inf"), dtype=torch.float32, device=points.device)
    if points.shape[0]:
        m, k = m.to(points.device), k.to(points.device)
        blocks, threads = launch_config(points.shape[0])
        kc.project_min[blocks, threads, numba_cuda_stream(points.device)](
            as_numba_cuda(points), as_numba_cuda(m), as_numba_cuda(k), h, w, float(min_depth), as_numba_cuda(image)
        )
    return torch.where(torch.isinf(image), torch.zeros_like(image), image).view(h, w)
