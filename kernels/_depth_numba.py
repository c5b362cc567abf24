"""Numba CPU kernels for point-to-depth projection (same float64 arithmetic as the reference)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def project(points, m, k, height, width, min_depth, flat, depth):  # pragma: no cover - jitted
    """flat[i] = row * W + col of point i (-1 when dropped), depth[i] = camera z (float32).

    Pixel centres are at integer coordinates (OpenCV): col = floor(u + 0.5).
    """
    for i in prange(points.shape[0]):
        px = np.float64(points[i, 0])
        py = np.float64(points[i, 1])
        pz = np.float64(points[i, 2])
        x = m[0, 0] * px + m[0, 1] * py + m[0, 2] * pz + m[0, 3]
        y = m[1, 0] * px + m[1, 1] * py + m[1, 2] * pz + m[1, 3]
        z = m[2, 0] * px + m[2, 1] * py + m[2, 2] * pz + m[2, 3]
        w = k[2, 0] * x + k[2, 1] * y + k[2, 2] * z
        u = (k[0, 0] * x + k[0, 1] * y + k[0, 2] * z) / w
        v = (k[1, 0] * x + k[1, 1] * y + k[1, 2] * z) / w
        flat[i] = -1
        depth[i] = np.float32(z)
        if z > min_depth and u >= -0.5 and u < width - 0.5 and v >= -0.5 and v < height - 0.5:
            col = np.int64(math.floor(u + 0.5))
            row = np.int64(math.floor(v + 0.5))
            if col >= 0 and col < width and row >= 0 and row < height:
                flat[i] = row * width + col


@njit(cache=True)
def nearest(flat, depth, image):  # pragma: no cover - jitted
    """image[pixel] = min depth of the points landing there (image pre-filled with 0 = empty)."""
    for i in range(flat.shape[0]):
        f = flat[i]
        if f >= 0 and (image[f] == 0 or depth[i] < image[f]):
            image[f] = depth[i]
