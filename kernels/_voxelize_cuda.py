"""Numba CUDA kernels for voxelization (imported lazily, only on the CUDA path).

Determinism comes from a stable sort of the linear voxel keys (done with torch on the same
device), not from atomics: every kernel here writes each output element from exactly one
thread.
"""

from __future__ import annotations

import math

from numba import cuda


@cuda.jit
def point_keys(points, lo0, lo1, lo2, hi0, hi1, hi2, s0, s1, s2, g0, g1, g2, keys):  # pragma: no cover
    """Linear voxel key per point, -1 when dropped (same arithmetic as the CPU kernel)."""
    i = cuda.grid(1)
    if i >= points.shape[0]:
        return
    x = float(points[i, 0])
    y = float(points[i, 1])
    z = float(points[i, 2])
    if not (x >= lo0 and x < hi0 and y >= lo1 and y < hi1 and z >= lo2 and z < hi2):
        keys[i] = -1
        return
    ix = int(math.floor((x - lo0) / s0))
    iy = int(math.floor((y - lo1) / s1))
    iz = int(math.floor((z - lo2) / s2))
    if ix >= g0 or iy >= g1 or iz >= g2:
        keys[i] = -1
        return
    keys[i] = (ix * g1 + iy) * g2 + iz


@cuda.jit
def keys_to_coords(keys, g1, g2, coords):  # pragma: no cover
    """Decode linear keys into (ix, iy, iz) rows; -1 rows for negative keys."""
    i = cuda.grid(1)
    if i >= keys.shape[0]:
        return
    k = keys[i]
    if k < 0:
        coords[i, 0] = -1
        coords[i, 1] = -1
        coords[i, 2] = -1
        return
    coords[i, 2] = k % g2
    k = k // g2
    coords[i, 1] = k % g1
    coords[i, 0] = k // g1


@cuda.jit
def mark_group_starts(sorted_keys, starts):  # pragma: no cover
    """``starts[i] = 1`` where a new key begins in the sorted key array."""
    i = cuda.grid(1)
    if i >= sorted_keys.shape[0]:
        return
    starts[i] = 1 if i == 0 or sorted_keys[i] != sorted_keys[i - 1] else 0


@cuda.jit
def scatter_points(points, order, group, group_start, voxel_of_group, max_points, max_voxels, out):  # pragma: no cover
    """Copy the point at sorted position i into ``out[voxel, slot]`` when both are in bounds.

    ``slot = i - group_start[group[i]]`` is the point's rank in its voxel in input order (the
    sort is stable).
    """
    i = cuda.grid(1)
    if i >= order.shape[0]:
        return
    g = group[i]
    v = voxel_of_group[g]
    s = i - group_start[g]
    if v < max_voxels and s < max_points:
        p = order[i]
        for j in range(points.shape[1]):
            out[v, s, j] = points[p, j]
