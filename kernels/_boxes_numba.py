"""Numba CPU kernels for rotated box overlap (BEV polygons clipped with Sutherland-Hodgman)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _corners(x, y, length, width, yaw, out):  # pragma: no cover - jitted
    """Counter-clockwise corners (4, 2) of a BEV box; length along the heading ``yaw``."""
    c = math.cos(yaw)
    s = math.sin(yaw)
    hl = 0.5 * length
    hw = 0.5 * width
    dx = (hl, -hl, -hl, hl)
    dy = (hw, hw, -hw, -hw)
    for i in range(4):
        out[i, 0] = x + dx[i] * c - dy[i] * s
        out[i, 1] = y + dx[i] * s + dy[i] * c


@njit(cache=True)
def intersection_area(a, b):  # pragma: no cover - jitted
    """Area of the intersection of two BEV boxes (x, y, length, width, yaw), at most either box's area.

    The polygons are clipped in a frame centred on ``a``, so that boxes far from the origin lose no
    precision (identical boxes 1e6 m away still intersect over their full area).
    """
    # quick reject on circumscribed circles
    ra = 0.5 * math.sqrt(a[2] * a[2] + a[3] * a[3])
    rb = 0.5 * math.sqrt(b[2] * b[2] + b[3] * b[3])
    ddx = b[0] - a[0]
    ddy = b[1] - a[1]
    if ddx * ddx + ddy * ddy > (ra + rb) * (ra + rb):
        return 0.0
    pa = np.empty((4, 2))
    pb = np.empty((4, 2))
    _corners(0.0, 0.0, a[2], a[3], a[4], pa)
    _corners(ddx, ddy, b[2], b[3], b[4], pb)
    poly = np.empty((16, 2))
    nxt = np.empty((16, 2))
    n = 4
    poly[:4] = pa
    for e in range(4):  # clip by each edge of b (b is counter-clockwise: inside is on the left)
        ex0 = pb[e, 0]
        ey0 = pb[e, 1]
        ex1 = pb[(e + 1) % 4, 0]
        ey1 = pb[(e + 1) % 4, 1]
        m = 0
        for i in range(n):
            cx = poly[i, 0]
            cy = poly[i, 1]
            qx = poly[(i + 1) % n, 0]
            qy = poly[(i + 1) % n, 1]
            sc = (ex1 - ex0) * (cy - ey0) - (ey1 - ey0) * (cx - ex0)
            sq = (ex1 - ex0) * (qy - ey0) - (ey1 - ey0) * (qx - ex0)
            if sc >= 0:
                nxt[m, 0] = cx
                nxt[m, 1] = cy
                m += 1
            if (sc >= 0) != (sq >= 0):
                t = sc / (sc - sq)
                nxt[m, 0] = cx + t * (qx - cx)
                nxt[m, 1] = cy + t * (qy - cy)
                m += 1
        n = m
        if n == 0:
            return 0.0
        poly[:n] = nxt[:n]
    area = 0.0
    for i in range(n):
        j = (i + 1) % n
        area += poly[i, 0] * poly[j, 1] - poly[j, 0] * poly[i, 1]
    return min(max(0.5 * area, 0.0), a[2] * a[3], b[2] * b[3])


@njit(parallel=True, cache=True)
def iou_bev(a, b, out):  # pragma: no cover - jitted
    """out[i, j] = BEV IoU of a[i] and b[j] (boxes (x, y, l, w, yaw))."""
    for i in prange(a.shape[0]):
        area_a = a[i, 2] * a[i, 3]
        for j in range(b.shape[0]):
            inter = intersection_area(a[i], b[j])
            union = area_a + b[j, 2] * b[j, 3] - inter
            out[i, j] = min(inter / union, 1.0) if union > 0 else 0.0


@njit(parallel=True, cache=True)
def iou_3d(a, b, out):  # pragma: no cover - jitted
    """out[i, j] = 3D IoU of boxes (x, y, z_center, l, w, h, yaw)."""
    for i in prange(a.shape[0]):
        bev_a = np.array((a[i, 0], a[i, 1], a[i, 3], a[i, 4], a[i, 6]))
        bev_b = np.empty(5)
        vol_a = a[i, 3] * a[i, 4] * a[i, 5]
        for j in range(b.shape[0]):
            dzc = b[j, 2] - a[i, 2]  # vertical overlap relative to a's centre
            top = min(0.5 * a[i, 5], dzc + 0.5 * b[j, 5])
            bottom = max(-0.5 * a[i, 5], dzc - 0.5 * b[j, 5])
            dz = top - bottom
            if dz <= 0:
                out[i, j] = 0.0
                continue
            bev_b[0] = b[j, 0]
            bev_b[1] = b[j, 1]
            bev_b[2] = b[j, 3]
            bev_b[3] = b[j, 4]
            bev_b[4] = b[j, 6]
            inter = intersection_area(bev_a, bev_b) * dz
            union = vol_a + b[j, 3] * b[j, 4] * b[j, 5] - inter
            out[i, j] = min(inter / union, 1.0) if union > 0 else 0.0


@njit(cache=True)
def nms(boxes, order, threshold):  # pragma: no cover - jitted
    """Greedy NMS over ``order`` (score-descending): keep a box unless a kept box has IoU > threshold."""
    n = order.shape[0]
    suppressed = np.zeros(n, dtype=np.bool_)
    keep = np.empty(n, dtype=np.int64)
    k = 0
    for ii in range(n):
        if suppressed[ii]:
            continue
        i = order[ii]
        keep[k] = i
        k += 1
        area_i = boxes[i, 2] * boxes[i, 3]
        for jj in range(ii + 1, n):
            if suppressed[jj]:
                continue
            j = order[jj]
            inter = intersection_area(boxes[i], boxes[j])
            union = area_i + boxes[j, 2] * boxes[j, 3] - inter
            if union > 0 and inter / union > threshold:
                suppressed[jj] = True
    return keep[:k]
