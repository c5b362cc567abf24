"""Numba CPU kernels for voxelization.

The linear voxel key of a point is ``(ix * ny + iy) * nz + iz`` (int64), or -1 when the point
is dropped (non-finite, outside the half-open range, or an index past the grid size). Voxel
indices are ``floor((p - min) / size)`` computed in float64, so every backend agrees bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_FIB = np.uint64(11400714819323198485)  # 2**64 / golden ratio, odd: Fibonacci hashing


@njit(parallel=True, cache=True)
def point_keys(points, lo, hi, size, grid, keys):  # pragma: no cover - jitted
    """Write the linear voxel key of every point into ``keys`` (-1 for dropped points)."""
    n = points.shape[0]
    g1 = grid[1]
    g2 = grid[2]
    for i in prange(n):
        x = np.float64(points[i, 0])
        y = np.float64(points[i, 1])
        z = np.float64(points[i, 2])
        # written as "not inside" so that NaN (all comparisons false) is dropped too
        if not (x >= lo[0] and x < hi[0] and y >= lo[1] and y < hi[1] and z >= lo[2] and z < hi[2]):
            keys[i] = -1
            continue
        ix = np.int64(np.floor((x - lo[0]) / size[0]))
        iy = np.int64(np.floor((y - lo[1]) / size[1]))
        iz = np.int64(np.floor((z - lo[2]) / size[2]))
        if ix >= grid[0] or iy >= g1 or iz >= g2:
            keys[i] = -1
            continue
        keys[i] = (ix * g1 + iy) * g2 + iz


@njit(parallel=True, cache=True)
def keys_to_coords(keys, grid, coords):  # pragma: no cover - jitted
    """Decode linear keys into (ix, iy, iz) int32 rows; -1 rows for negative keys."""
    g1 = grid[1]
    g2 = grid[2]
    for i in prange(keys.shape[0]):
        k = keys[i]
        if k < 0:
            coords[i, 0] = -1
            coords[i, 1] = -1
            coords[i, 2] = -1
        else:
            coords[i, 2] = k % g2
            k = k // g2
            coords[i, 1] = k % g1
            coords[i, 0] = k // g1


@njit(cache=True, inline="always")
def _key(points, i, lo, hi, size, grid):  # pragma: no cover - jitted
    """Linear key of point i and its (ix, iy, iz); key -1 when the point is dropped."""
    x = np.float64(points[i, 0])
    y = np.float64(points[i, 1])
    z = np.float64(points[i, 2])
    if not (x >= lo[0] and x < hi[0] and y >= lo[1] and y < hi[1] and z >= lo[2] and z < hi[2]):
        return -1, 0, 0, 0
    ix = np.int64(np.floor((x - lo[0]) / size[0]))
    iy = np.int64(np.floor((y - lo[1]) / size[1]))
    iz = np.int64(np.floor((z - lo[2]) / size[2]))
    if ix >= grid[0] or iy >= grid[1] or iz >= grid[2]:
        return -1, 0, 0, 0
    return (ix * grid[1] + iy) * grid[2] + iz, ix, iy, iz


@njit(cache=True)
def assign_voxels(points, lo, hi, size, grid, max_points, max_voxels, table_bits):  # pragma: no cover - jitted
    """One serial first-come pass: voxel key per point, then its voxel and slot.

    Returns ``(voxel_of_point, slot_of_point, coords, counts, m)``: the voxel id (-1 when
    dropped) and slot of each point, and for the first ``m`` voxels their (ix, iy, iz) and
    point count (capped at ``max_points``). Voxels are numbered in order of first appearance;
    points past ``max_points`` in a voxel and voxels past ``max_voxels`` are dropped. An
    open-addressing table of ``2**table_bits`` int32 slots (Fibonacci hashing, linear probing)
    maps keys to voxel ids. Serial on purpose: the order of first appearance is inherently
    sequential, and one pass over the points is memory-bound (a parallel key pass was slower
    on a shared 2-core CPU).
    """
    n = points.shape[0]
    mask = np.uint64((1 << table_bits) - 1)
    shift = np.uint64(64 - table_bits)
    table = np.full(1 << table_bits, -1, dtype=np.int32)
    cap = min(n, max_voxels)
    voxel_keys = np.empty(cap, dtype=np.int64)
    coords = np.empty((cap, 3), dtype=np.int32)
    counts = np.zeros(cap, dtype=np.int32)
    voxel_of = np.empty(n, dtype=np.int32)
    slot_of = np.empty(n, dtype=np.int32)
    m = 0
    for i in range(n):
        voxel_of[i] = -1
        k, ix, iy, iz = _key(points, i, lo, hi, size, grid)
        if k < 0:
            continue
        h = (np.uint64(k) * _FIB) >> shift
        while True:
            v = table[h]
            if v < 0:
                if m < max_voxels:
                    table[h] = m
                    voxel_keys[m] = k
                    coords[m, 0] = ix
                    coords[m, 1] = iy
                    coords[m, 2] = iz
                    counts[m] = 1
                    voxel_of[i] = m
                    slot_of[i] = 0
                    m += 1
                break
            if voxel_keys[v] == k:
                c = counts[v]
                if c < max_points:
                    voxel_of[i] = v
                    slot_of[i] = c
                    counts[v] = c + 1
                break
            h = (h + np.uint64(1)) & mask
    return voxel_of, slot_of, coords, counts, m


@njit(parallel=True, cache=True)
def gather_points(points, voxel_of, slot_of, out):  # pragma: no cover - jitted
    """Copy every kept point into ``out[voxel, slot, :]`` (``out`` is zero-filled)."""
    f = points.shape[1]
    for i in prange(points.shape[0]):
        v = voxel_of[i]
        if v >= 0:
            s = slot_of[i]
            for j in range(f):
                out[v, s, j] = points[i, j]
