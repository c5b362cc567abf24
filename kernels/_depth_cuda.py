"""Numba CUDA kernel for point-to-depth projection (imported lazily, only on the CUDA path).

The nearest point per pixel is an atomic float min: its result does not depend on the order.
"""

from __future__ import annotations

import math

from numba import cuda, float32


@cuda.jit
def project_min(points, m, k, height, width, min_depth, image):  # pragma: no cover
    """image[row * W + col] = min(camera z) over the points projecting there (pre-filled +inf)."""
    i = cuda.grid(1)
    if i >= points.shape[0]:
        return
    px = float(points[i, 0])
    py = float(points[i, 1])
    pz = float(points[i, 2])
    x = m[0, 0] * px + m[0, 1] * py + m[0, 2] * pz + m[0, 3]
    y = m[1, 0] * px + m[1, 1] * py + m[1, 2] * pz + m[1, 3]
    z = m[2, 0] * px + m[2, 1] * py + m[2, 2] * pz + m[2, 3]
    w = k[2, 0] * x + k[2, 1] * y + k[2, 2] * z
    u = (k[0, 0] * x + k[0, 1] * y + k[0, 2] * z) / w
    v = (k[1, 0] * x + k[1, 1] * y + k[1, 2] * z) / w
    if z > min_depth and u >= -0.5 and u < width - 0.5 and v >= -0.5 and v < height - 0.5:
        col = int(math.floor(u + 0.5))
        row = int(math.floor(v + 0.5))
        if col >= 0 and col < width and row >= 0 and row < height:
            cuda.atomic.min(image, row * width + col, float32(z))

