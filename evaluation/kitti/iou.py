"""Exact IoU of KITTI boxes: 2D image boxes, rotated bird's-eye-view rectangles, and 3D boxes.

KITTI boxes live in the rectified camera frame (x right, y down, z forward). The BEV footprint is
the rectangle in the (x, z) plane centred on the location, with the length along
``(cos ry, -sin ry)`` and the width along ``(sin ry, cos ry)``. The 3D box spans
``[y - h, y]`` vertically (location is the bottom centre). Rectangles are intersected exactly
by convex polygon clipping (Sutherland-Hodgman), compiled with numba.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _corners(x: float, z: float, length: float, width: float, ry: float) -> np.ndarray:
    """(4, 2) counter-clockwise corners (in the (x, z) plane, mirror-consistent) of a BEV rectangle."""
    c, s = np.cos(ry), np.sin(ry)
    lx, lz = c * length / 2, -s * length / 2
    wx, wz = s * width / 2, c * width / 2
    out = np.empty((4, 2))
    out[0, 0], out[0, 1] = x + lx + wx, z + lz + wz
    out[1, 0], out[1, 1] = x - lx + wx, z - lz + wz
    out[2, 0], out[2, 1] = x - lx - wx, z - lz - wz
    out[3, 0], out[3, 1] = x + lx - wx, z + lz - wz
    return out


@numba.njit(cache=True)
def _signed_area(poly: np.ndarray, n: int) -> float:
    area = 0.0
    for i in range(n):
        j = (i + 1) % n
        area += poly[i, 0] * poly[j, 1] - poly[j, 0] * poly[i, 1]
    return 0.5 * area


@numba.njit(cache=True)
def _clip_area(subject: np.ndarray, clip: np.ndarray) -> float:
    """Area of the intersection of two convex quadrilaterals (both with the same orientation)."""
    orient = 1.0 if _signed_area(clip, 4) > 0 else -1.0
    poly = np.empty((16, 2))
    tmp = np.empty((16, 2))
    n = 4
    poly[:4] = subject
    for e in range(4):
        ax, az = clip[e, 0], clip[e, 1]
        bx, bz = clip[(e + 1) % 4, 0], clip[(e + 1) % 4, 1]
        m = 0
        for i in range(n):
            px, pz = poly[i, 0], poly[i, 1]
            qx, qz = poly[(i + 1) % n, 0], poly[(i + 1) % n, 1]
            dp = orient * ((bx - ax) * (pz - az) - (bz - az) * (px - ax))
            dq = orient * ((bx - ax) * (qz - az) - (bz - az) * (qx - ax))
            if dp >= 0:
                tmp[m, 0], tmp[m, 1] = px, pz
                m += 1
            if (dp >= 0) != (dq >= 0):
                t = dp / (dp - dq)
                tmp[m, 0], tmp[m, 1] = px + t * (qx - px), pz + t * (qz - pz)
                m += 1
        n = m
        if n == 0:
            return 0.0
        poly[:n] = tmp[:n]
    return abs(_signed_area(poly, n))


@numba.njit(cache=True)
def _bev_intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas; each pair is clipped in a frame centred on ``a[i]`` (exact far from
    the origin); a rectangle with a length or width <= 0 is empty."""
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        if not (a[i, 2] > 0 and a[i, 3] > 0):
            continue
        ca = _corners(0.0, 0.0, a[i, 2], a[i, 3], a[i, 4])
        for j in range(len(b)):
            if not (b[j, 2] > 0 and b[j, 3] > 0):
                continue
            # quick reject on circumscribed circles
            dx, dz = b[j, 0] - a[i, 0], b[j, 1] - a[i, 1]
            ra = 0.5 * np.sqrt(a[i, 2] ** 2 + a[i, 3] ** 2)
            rb = 0.5 * np.sqrt(b[j, 2] ** 2 + b[j, 3] ** 2)
            if dx * dx + dz * dz > (ra + rb) ** 2:
                continue
            area = _clip_area(ca, _corners(dx, dz, b[j, 2], b[j, 3], b[j, 4]))
            out[i, j] = min(area, a[i, 2] * a[i, 3], b[j, 2] * b[j, 3])
    return out


def bev_boxes(location: np.ndarray, dimensions: np.ndarray, rotation_y: np.ndarray) -> np.ndarray:
    """(N, 5) BEV rectangles ``x, z, length, width, ry`` from KITTI location, dimensions (h, w, l), rotation_y."""
    location = np.asarray(location, np.float64).reshape(-1, 3)
    dimensions = np.asarray(dimensions, np.float64).reshape(-1, 3)
    return np.stack([location[:, 0], location[:, 2], dimensions[:, 2], dimensions[:, 1],
                     np.asarray(rotation_y, np.float64).reshape(-1)], axis=1)


def bev_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection areas (m^2) of BEV rectangles (N, 5) and (M, 5), see :func:`bev_boxes`.

    A rectangle with a length or width <= 0 (a degenerate box, or a ``DontCare`` placeholder) is
    empty: its intersections are 0.
    """
    return _bev_intersections(np.ascontiguousarray(a, np.float64).reshape(-1, 5),
                              np.ascontiguousarray(b, np.float64).reshape(-1, 5))


def _ratio(inter: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> np.ndarray:
    """IoU ``inter / (|a| + |b| - inter)`` in [0, 1]; 0 where a box is degenerate (a size <= 0)."""
    valid_a = np.all(size_a > 0, axis=1)[:, None]
    valid_b = np.all(size_b > 0, axis=1)[None, :]
    area_a = np.where(valid_a, np.prod(size_a, axis=1)[:, None], 0.0)
    area_b = np.where(valid_b, np.prod(size_b, axis=1)[None, :], 0.0)
    union = area_a + area_b - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=valid_a & valid_b & (union > 0))
    return np.clip(iou, 0.0, 1.0)


def bev_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) BEV IoU in [0, 1] of rectangles (N, 5) and (M, 5) ``x, z, length, width, ry``; 0 for a
    rectangle with a length or width <= 0."""
    a, b = np.asarray(a, np.float64).reshape(-1, 5), np.asarray(b, np.float64).reshape(-1, 5)
    return _ratio(bev_intersection(a, b), a[:, 2:4], b[:, 2:4])


def iou_3d(loc_a: np.ndarray, dim_a: np.ndarray, ry_a: np.ndarray, loc_b: np.ndarray, dim_b: np.ndarray,
           ry_b: np.ndarray) -> np.ndarray:
    """(N, M) 3D IoU in [0, 1] of KITTI camera-frame boxes: BEV intersection times vertical overlap over the
    union volume; 0 for a box with a dimension <= 0."""
    loc_a, dim_a = np.asarray(loc_a, np.float64).reshape(-1, 3), np.asarray(dim_a, np.float64).reshape(-1, 3)
    loc_b, dim_b = np.asarray(loc_b, np.float64).reshape(-1, 3), np.asarray(dim_b, np.float64).reshape(-1, 3)
    inter_bev = bev_intersection(bev_boxes(loc_a, dim_a, ry_a), bev_boxes(loc_b, dim_b, ry_b))
    # vertical overlap relative to a's bottom, exact far from the origin
    offset = loc_b[:, 1][None, :] - loc_a[:, 1][:, None]
    bottom = np.minimum(0.0, offset)
    top = np.maximum(-dim_a[:, 0][:, None], offset - dim_b[:, 0][None, :])
    inter = inter_bev * np.maximum(bottom - top, 0.0)
    return _ratio(inter, dim_a, dim_b)


def image_iou(a: np.ndarray, b: np.ndarray, criterion: int = -1) -> np.ndarray:
    """(N, M) overlap of 2D boxes ``left, top, right, bottom`` (pixels).

    ``criterion`` -1: intersection over union; 0: intersection over the area of ``a`` (used for
    detections against DontCare regions). In [0, 1]; an inverted box (right < left or bottom < top)
    intersects nothing.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    area_b = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :]
    denominator = area_a + area_b - inter if criterion == -1 else area_a + 0 * inter
    return np.clip(np.where(inter > 0, inter / np.maximum(denominator, 1e-12), 0.0), 0.0, 1.0)
