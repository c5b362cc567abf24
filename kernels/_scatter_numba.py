"""Numba CPU kernels for pillar scatter (canvas layout (B, C, X, Y))."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def winners(coords, batch_size, nx, ny):  # pragma: no cover - jitted
    """1 for each voxel that owns its (b, ix, iy) cell: the highest index among duplicates."""
    owner = np.full(batch_size * nx * ny, -1, dtype=np.int64)
    m = coords.shape[0]
    for i in range(m):
        owner[(coords[i, 0] * nx + coords[i, 1]) * ny + coords[i, 2]] = i
    win = np.zeros(m, dtype=np.uint8)
    for i in range(m):
        if owner[(coords[i, 0] * nx + coords[i, 1]) * ny + coords[i, 2]] == i:
            win[i] = 1
    return win


@njit(parallel=True, cache=True)
def scatter_forward(features, coords, win, canvas):  # pragma: no cover - jitted
    """canvas[b, :, ix, iy] = features[m] for every winning voxel m (canvas zero-filled)."""
    c = features.shape[1]
    for i in prange(features.shape[0]):
        if win[i]:
            b = coords[i, 0]
            x = coords[i, 1]
            y = coords[i, 2]
            for j in range(c):
                canvas[b, j, x, y] = features[i, j]


@njit(parallel=True, cache=True)
def scatter_backward(grad_canvas, coords, win, grad_features):  # pragma: no cover - jitted
    """grad_features[m] = grad_canvas[b, :, ix, iy] for winners (grad_features zero-filled)."""
    c = grad_features.shape[1]
    for i in prange(grad_features.shape[0]):
        if win[i]:
            b = coords[i, 0]
            x = coords[i, 1]
            y = coords[i, 2]
            for j in range(c):
                grad_features[i, j] = grad_canvas[b, j, x, y]
