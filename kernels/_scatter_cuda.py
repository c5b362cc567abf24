"""Numba CUDA kernels for pillar scatter (imported lazily, only on the CUDA path).

Duplicate cells are resolved with an atomic max of the voxel index: the result does not
depend on the thread schedule, and it equals the CPU rule (highest index wins).
"""

from __future__ import annotations

from numba import cuda


@cuda.jit
def claim_cells(coords, nx, ny, owner):  # pragma: no cover
    """owner[cell] = max voxel index landing in the cell (owner pre-filled with -1)."""
    i = cuda.grid(1)
    if i < coords.shape[0]:
        cuda.atomic.max(owner, (coords[i, 0] * nx + coords[i, 1]) * ny + coords[i, 2], i)


@cuda.jit
def mark_winners(coords, nx, ny, owner, win):  # pragma: no cover
    """win[i] = 1 when voxel i owns its cell."""
    i = cuda.grid(1)
    if i < coords.shape[0]:
        win[i] = 1 if owner[(coords[i, 0] * nx + coords[i, 1]) * ny + coords[i, 2]] == i else 0


@cuda.jit
def scatter_forward(features, coords, win, canvas):  # pragma: no cover
    """One thread per (voxel, channel): canvas[b, c, ix, iy] = features[m, c] for winners."""
    t = cuda.grid(1)
    c = features.shape[1]
    i = t // c
    j = t - i * c
    if i < features.shape[0] and win[i]:
        canvas[coords[i, 0], j, coords[i, 1], coords[i, 2]] = features[i, j]


@cuda.jit
def scatter_backward(grad_canvas, coords, win, grad_features):  # pragma: no cover
    """One thread per (voxel, channel): grad_features[m, c] = grad_canvas[b, c, ix, iy]."""
    t = cuda.grid(1)
    c = grad_features.shape[1]
    i = t // c
    j = t - i * c
    if i < grad_features.shape[0] and win[i]:
        grad_features[i, j] = grad_canvas[coords[i, 0], j, coords[i, 1], coords[i, 2]]
