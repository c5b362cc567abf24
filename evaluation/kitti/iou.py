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
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        ca = _corners(a[i, 0], a[i, 1], a[i, 2], a[i, 3], a[i, 4])
        for j in range(len(b)):
            # quick reject on circumscribed circles
            dx, dz = a[i, 0] - b[j, 0], a[i, 1] - b[j, 1]
            ra = 0.5 * np.sqrt(a[i, 2] ** 2 + a[i, 3] ** 2)
            rb = 0.5 * np.sqrt(b[j, 2] ** 2 + b[j, 3] ** 2)
            if dx * dx + dz * dz > (ra + rb) ** 2:
                continue
            out[i, j] = _clip_area(ca, _corners(b[j, 0], b[j, 1], b[j, 2], b[j, 3], b[j, 4]))
    return out


def bev_boxes(location: np.ndarray, dimensions: np.ndarray, rotation_y: np.ndarray) -> np.ndarray:
    """(N, 5) BEV rectangles ``x, z, length, width, ry`` from KITTI location, dimensions (h, w, l), rotation_y."""
    location = np.asarray(location, np.float64).reshape(-1, 3)
    dimensions = np.asarray(dimensions, np.float64).reshape(-1, 3)
    return np.stack([location[:, 0], location[:, 2], dimensions[:, 2], dimensions[:, 1],
                     np.asarray(rotation_y, np.float64).reshape(-1)], axis=1)


def bev_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection areas (m^2) of BEV rectangles (N, 5) and (M, 5), see :func:`bev_boxes`."""
    return _bev_intersections(np.ascontiguousarray(a, np.float64).reshape(-1, 5),
                              np.ascontiguousarray(b, np.float64).reshape(-1, 5))


def bev_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) BEV IoU of rectangles (N, 5) and (M, 5) ``x, z, length, width, ry``."""
    inter = bev_intersection(a, b)
    area_a = (a[:, 2] * a[:, 3])[:, None]
    area_b = (b[:, 2] * b[:, 3])[None, :]
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def iou_3d(loc_a: np.ndarray, dim_a: np.ndarray, ry_a: np.ndarray, loc_b: np.ndarray, dim_b: np.ndarray,
           ry_b: np.ndarray) -> np.ndarray:
    """(N, M) 3D IoU of KITTI camera-frame boxes: BEV intersection times vertical overlap over the union volume."""
    loc_a, dim_a = np.asarray(loc_a, np.float64).reshape(-1, 3), np.asarray(dim_a, np.float64).reshape(-1, 3)
    loc_b, dim_b = np.asarray(loc_b, np.float64).reshape(-1, 3), np.asarray(dim_b, np.float64).reshape(-1, 3)
    inter_bev = bev_intersection(bev_boxes(loc_a, dim_a, ry_a), bev_boxes(loc_b, dim_b, ry_b))
    bottom = np.minimum(loc_a[:, 1][:, None], loc_b[:, 1][None, :])
    top = np.maximum((loc_a[:, 1] - dim_a[:, 0])[:, None], (loc_b[:, 1] - dim_b[:, 0])[None, :])
    inter = inter_bev * np.maximum(bottom - top, 0.0)
    vol_a = np.prod(dim_a, axis=1)[:, None]
    vol_b = np.prod(dim_b, axis=1)[None, :]
    return inter / np.maximum(vol_a + vol_b - inter, 1e-12)


def image_iou(a: np.ndarray, b: np.ndarray, criterion: int = -1) -> np.ndarray:
    """(N, M) overlap of 2D boxes ``left, top, right, bottom`` (pixels).

    ``criterion`` -1: intersection over union; 0: intersection over the area of ``a`` (used for
    detections against DontCare regions).
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    area_b = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :]
    denominator = area_a + area_b - inter if criterion == -1 else area_a + 0 * inter
    return np.where(inter > 0, inter / np.maximum(denominator, 1e-12), 0.0)
