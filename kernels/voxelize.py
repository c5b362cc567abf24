"""LiDAR voxelization: hard (bounded voxels with their points) and dynamic (voxel per point).

Conventions (all backends, bit-identical):
- Points are (N, F) float32 in metres, columns x, y, z first, then any extra features.
- ``voxel_size`` = (dx, dy, dz) metres; ``point_range`` = (xmin, ymin, zmin, xmax, ymax, zmax)
  metres, half-open: a point is kept when ``min <= p < max`` on every axis and it is finite
  (NaN and Inf rows are dropped). The grid has ``round((max - min) / size)`` cells per axis.
- Voxel index per axis is ``floor((p - min) / size)`` evaluated in float64.
- **Coordinates are (ix, iy, iz): x index first** (``hard_voxelize_batch`` prepends the batch
  index: (b, ix, iy, iz)). Note that mmdet3d and spconv return (iz, iy, ix).
- Voxels are numbered in order of first appearance in the input; a voxel keeps its first
  ``max_points`` points in input order; voxels past ``max_voxels`` are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from kernels import _voxelize_numba as nb
from kernels._checks import check_positive_int, check_tensor, check_voxel_grid
from kernels._dispatch import (
    as_numba_cuda,
    choose_backend,
    launch_config,
    numba_cuda_stream,
)
from kernels.reference import voxelize as ref

_BACKENDS = ("reference", "numba", "numba_cuda")


class Voxels(NamedTuple):
    """Result of hard voxelization.

    features: (M, max_points, F) float32, the voxel's points in input order, zero-padded.
    coords: (M, 3) int32 (ix, iy, iz), or (M, 4) int32 (batch, ix, iy, iz) for a batch.
    num_points: (M,) int32, number of real points per voxel (1..max_points).
    """

    features: torch.Tensor
    coords: torch.Tensor
    num_points: torch.Tensor


def _check_points(op: str, points: object) -> torch.Tensor:
    return check_tensor(op, "points", points, 2, (torch.float32,), min_last_dim=3)


def hard_voxelize(
    points: torch.Tensor,
    voxel_size: Sequence[float],
    point_range: Sequence[float],
    max_points: int,
    max_voxels: int,
    backend: str | None = None,
) -> Voxels:
    """Group points into at most ``max_voxels`` voxels of at most ``max_points`` points.

    Args:
        points: (N, F) float32, x, y, z in metres (ego frame) then extra features, F >= 3.
        voxel_size: (dx, dy, dz) in metres, each > 0.
        point_range: (xmin, ymin, zmin, xmax, ymax, zmax) in metres, half-open.
        max_points: points kept per voxel (the first ones in input order).
        max_voxels: voxels kept (the first ones to appear in input order).
        backend: None (by device), "reference", "numba" or "numba_cuda".

    Returns:
        Voxels with coords (M, 3) int32 as **(ix, iy, iz)**, x index first.
    """
    op = "hard_voxelize"
    points = _check_points(op, points)
    vs, pr, grid = check_voxel_grid(op, voxel_size, point_range)
    check_positive_int(op, "max_points", max_points)
    check_positive_int(op, "max_voxels", max_voxels)
    which = choose_backend(op, points.device, backend, _BACKENDS)
    points = points.contiguous()
    if which == "reference":
        return Voxels(*ref.hard_voxelize(points, vs, pr, grid, max_points, max_voxels))
    if which == "numba":
        return _hard_numba(points, vs, pr, grid, max_points, max_voxels)
    return _hard_numba_cuda(points, vs, pr, grid, max_points, max_voxels)


def hard_voxelize_batch(
    points_list: Sequence[torch.Tensor],
    voxel_size: Sequence[float],
    point_range: Sequence[float],
    max_points: int,
    max_voxels: int,
    backend: str | None = None,
) -> Voxels:
    """Hard-voxelize each sample and concatenate; coords are (M, 4) int32 (batch, ix, iy, iz).

    ``max_voxels`` applies per sample. Voxels are ordered by sample, then as in
    :func:`hard_voxelize`.
    """
    op = "hard_voxelize_batch"
    if isinstance(points_list, torch.Tensor) or len(points_list) == 0:
        raise ValueError(f"{op}: points_list must be a non-empty sequence of (N, F) tensors")
    widths = {p.shape[-1] if isinstance(p, torch.Tensor) else None for p in points_list}
    if len(widths) != 1:
        raise ValueError(f"{op}: all samples must have the same number of columns, got {widths}")
    parts = [hard_voxelize(p, voxel_size, point_range, max_points, max_voxels, backend) for p in points_list]
    coords = [
        torch.cat([torch.full_like(v.coords[:, :1], b), v.coords], dim=1) for b, v in enumerate(parts)
    ]
    return Voxels(
        torch.cat([v.features for v in parts]),
        torch.cat(coords),
        torch.cat([v.num_points for v in parts]),
    )


def dynamic_voxelize(
    points: torch.Tensor,
    voxel_size: Sequence[float],
    point_range: Sequence[float],
    backend: str | None = None,
) -> torch.Tensor:
    """Voxel of every point: (N, 3) int32 **(ix, iy, iz)**, a row of -1 for dropped points.

    Same range, index and drop rules as :func:`hard_voxelize`, with no per-voxel limits.
    """
    op = "dynamic_voxelize"
    points = _check_points(op, points)
    vs, pr, grid = check_voxel_grid(op, voxel_size, point_range)
    which = choose_backend(op, points.device, backend, _BACKENDS)
    points = points.contiguous()
    if which == "reference":
        return ref.dynamic_voxelize(points, vs, pr, grid)
    if which == "numba":
        keys = _keys_numba(points, vs, pr, grid)
        coords = np.empty((keys.shape[0], 3), dtype=np.int32)
        nb.keys_to_coords(keys, np.asarray(grid, dtype=np.int64), coords)
        return torch.from_numpy(coords)
    keys = _keys_numba_cuda(points, vs, pr, grid)
    return _coords_numba_cuda(keys, grid)


def _keys_numba(points: torch.Tensor, vs: tuple, pr: tuple, grid: tuple) -> np.ndarray:
    keys = np.empty(points.shape[0], dtype=np.int64)
    if points.shape[0]:
        nb.point_keys(
            points.numpy(),
            np.asarray(pr[:3], dtype=np.float64),
            np.asarray(pr[3:], dtype=np.float64),
            np.asarray(vs, dtype=np.float64),
            np.asarray(grid, dtype=np.int64),
            keys,
        )
    return keys


def _hard_numba(
    points: torch.Tensor, vs: tuple, pr: tuple, grid: tuple, max_points: int, max_voxels: int
) -> Voxels:
    n, f = points.shape
    keys = _keys_numba(points, vs, pr, grid)
    capacity = max(1, min(n, max_voxels, grid[0] * grid[1] * grid[2]))
    table_bits = max(4, int(2 * capacity - 1).bit_length())  # load factor <= 1/2
    voxel_of, slot_of, coords, counts, m = nb.assign_voxels(
        keys, np.asarray(grid, dtype=np.int64), max_points, max_voxels, table_bits
    )
    features = torch.zeros((m, max_points, f), dtype=points.dtype)
    if m:
        nb.gather_points(points.numpy(), voxel_of, slot_of, features.numpy())
    return Voxels(features, torch.from_numpy(coords[:m].copy()), torch.from_numpy(counts[:m].copy()))


def _keys_numba_cuda(points: torch.Tensor, vs: tuple, pr: tuple, grid: tuple) -> torch.Tensor:
    from kernels import _voxelize_cuda as kc

    keys = torch.empty(points.shape[0], dtype=torch.int64, device=points.device)
    if points.shape[0]:
        blocks, threads = launch_config(points.shape[0])
        kc.point_keys[blocks, threads, numba_cuda_stream(points.device)](
            as_numba_cuda(points), *pr[:3], *pr[3:], *vs, *grid, as_numba_cuda(keys)
        )
    return keys


def _coords_numba_cuda(keys: torch.Tensor, grid: tuple) -> torch.Tensor:
    from kernels import _voxelize_cuda as kc

    coords = torch.empty((keys.shape[0], 3), dtype=torch.int32, device=keys.device)
    if keys.shape[0]:
        blocks, threads = launch_config(keys.shape[0])
        kc.keys_to_coords[blocks, threads, numba_cuda_stream(keys.device)](
            as_numba_cuda(keys), grid[1], grid[2], as_numba_cuda(coords)
        )
    return coords


def _hard_numba_cuda(
    points: torch.Tensor, vs: tuple, pr: tuple, grid: tuple, max_points: int, max_voxels: int
) -> Voxels:
    """Stable sort on the voxel key (torch, same device) + Numba CUDA kernels: deterministic."""
    from kernels import _voxelize_cuda as kc

    device = points.device
    n, f = points.shape
    keys = _keys_numba_cuda(points, vs, pr, grid)
    kept = torch.nonzero(keys >= 0).squeeze(1)
    if kept.numel() == 0:
        return Voxels(
            points.new_zeros((0, max_points, f)),
            torch.zeros((0, 3), dtype=torch.int32, device=device),
            torch.zeros((0,), dtype=torch.int32, device=device),
        )
    sorted_keys, perm = torch.sort(keys[kept], stable=True)
    order = kept[perm].contiguous()  # input index at each sorted position
    stream = numba_cuda_stream(device)
    blocks, threads = launch_config(order.numel())
    starts = torch.empty(order.numel(), dtype=torch.int32, device=device)
    kc.mark_group_starts[blocks, threads, stream](as_numba_cuda(sorted_keys), as_numba_cuda(starts))
    group = (torch.cumsum(starts, 0) - 1).int()
    group_start = torch.nonzero(starts).squeeze(1)
    first_index = order[group_start]  # smallest input index of each voxel (stable sort)
    voxel_order = torch.argsort(first_index)
    voxel_of_group = torch.empty_like(voxel_order)
    voxel_of_group[voxel_order] = torch.arange(voxel_order.numel(), device=device)
    m = min(voxel_order.numel(), max_voxels)
    features = points.new_zeros((m, max_points, f))
    group_start_i = group_start.int().contiguous()
    voxel_of_group_i = voxel_of_group.int().contiguous()
    kc.scatter_points[blocks, threads, stream](
        as_numba_cuda(points),
        as_numba_cuda(order),
        as_numba_cuda(group),
        as_numba_cuda(group_start_i),
        as_numba_cuda(voxel_of_group_i),
        max_points,
        max_voxels,
        as_numba_cuda(features),
    )
    sizes = torch.diff(group_start, append=torch.tensor([order.numel()], device=device))
    chosen = voxel_order[:m]
    coords = _coords_numba_cuda(sorted_keys[group_start[chosen]].contiguous(), grid)
    return Voxels(features, coords, sizes[chosen].clamp(max=max_points).int())
