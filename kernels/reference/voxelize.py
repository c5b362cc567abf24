"""Pure-torch voxelization (tests and benchmarks only): ``unique`` + scatter, any device."""

from __future__ import annotations

import torch


def point_keys(
    points: torch.Tensor,
    voxel_size: tuple[float, float, float],
    point_range: tuple[float, ...],
    grid: tuple[int, int, int],
) -> torch.Tensor:
    """Linear voxel key ``(ix * ny + iy) * nz + iz`` per point (int64), -1 when dropped.

    Indices are ``floor((p - min) / size)`` in float64; a point is kept when it is finite,
    ``min <= p < max`` on every axis and its index is below the grid size.
    """
    xyz = points[:, :3].double()
    lo = torch.tensor(point_range[:3], dtype=torch.float64, device=points.device)
    hi = torch.tensor(point_range[3:], dtype=torch.float64, device=points.device)
    size = torch.tensor(voxel_size, dtype=torch.float64, device=points.device)
    g = torch.tensor(grid, dtype=torch.int64, device=points.device)
    inside = ((xyz >= lo) & (xyz < hi)).all(dim=1)
    idx = torch.floor((xyz - lo) / size)
    idx = torch.where(inside[:, None], idx, torch.zeros_like(idx)).long()
    inside &= (idx < g).all(dim=1)
    keys = (idx[:, 0] * grid[1] + idx[:, 1]) * grid[2] + idx[:, 2]
    return torch.where(inside, keys, torch.full_like(keys, -1))


def keys_to_coords(keys: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """Decode keys into (ix, iy, iz) int32 rows; -1 rows for negative keys."""
    iz = keys % grid[2]
    rest = keys // grid[2]
    coords = torch.stack([rest // grid[1], rest % grid[1], iz], dim=1).int()
    return torch.where((keys >= 0)[:, None], coords, torch.full_like(coords, -1))


def dynamic_voxelize(
    points: torch.Tensor,
    voxel_size: tuple[float, float, float],
    point_range: tuple[float, ...],
    grid: tuple[int, int, int],
) -> torch.Tensor:
    """(N, 3) int32 voxel (ix, iy, iz) per point, -1 rows for dropped points."""
    return keys_to_coords(point_keys(points, voxel_size, point_range, grid), grid)


def hard_voxelize(
    points: torch.Tensor,
    voxel_size: tuple[float, float, float],
    point_range: tuple[float, ...],
    grid: tuple[int, int, int],
    max_points: int,
    max_voxels: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(features (M, max_points, F), coords (M, 3) int32 (ix, iy, iz), num_points (M,) int32).

    Voxels are numbered by first appearance in input order, keep their first ``max_points``
    points, and voxels past ``max_voxels`` are dropped.
    """
    n, f = points.shape
    device = points.device
    keys = point_keys(points, voxel_size, point_range, grid)
    kept = torch.nonzero(keys >= 0).squeeze(1)
    if kept.numel() == 0:
        return (
            points.new_zeros((0, max_points, f)),
            torch.zeros((0, 3), dtype=torch.int32, device=device),
            torch.zeros((0,), dtype=torch.int32, device=device),
        )
    uniq, inverse = torch.unique(keys[kept], return_inverse=True)
    first = torch.full((uniq.numel(),), n, dtype=torch.int64, device=device)
    first = first.scatter_reduce(0, inverse, kept, reduce="amin")
    order = torch.argsort(first)  # first positions are distinct: order of first appearance
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=device)
    voxel = rank[inverse]
    # slot of a point = number of earlier points in the same voxel (kept is in input order)
    by_voxel = torch.argsort(voxel, stable=True)
    counts_all = torch.bincount(voxel, minlength=uniq.numel())
    starts = torch.cumsum(counts_all, 0) - counts_all
    slot = torch.empty_like(voxel)
    slot[by_voxel] = torch.arange(voxel.numel(), device=device) - starts[voxel[by_voxel]]
    keep = (voxel < max_voxels) & (slot < max_points)
    m = min(uniq.numel(), max_voxels)
    features = points.new_zeros((m, max_points, f))
    features[voxel[keep], slot[keep]] = points[kept[keep]]
    coords = keys_to_coords(uniq[order[:m]], grid)
    num_points = counts_all[:m].clamp(max=max_points).int()
    return features, coords, num_points
