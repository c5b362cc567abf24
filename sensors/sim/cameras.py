"""Rendering of one pinhole camera view of the town (image and exact z-depth)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.sim.raycast import build_shadow_grid, render_camera
from sensors.sim.shapes import Parts
from sensors.sim.town import Town

#: Direction towards the sun in the global frame (unit vector; afternoon, from the south-west).
SUN = np.array([-0.45, -0.35, 0.82]) / np.linalg.norm([-0.45, -0.35, 0.82])
#: Parts farther than this from the camera are not rendered (metres; fog hides them).
RENDER_RANGE = 220.0
#: Ground shadows are drawn within this distance of the car (metres).
SHADOW_RANGE = 120.0

#: Image-plane clipping distance, metres.
NEAR_PLANE = 0.05

_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
#: Corner index pairs of the 12 box edges (corners differ in one sign).
_EDGES = np.array([(i, i | bit) for i in range(8) for bit in (1, 2, 4) if not i & bit])


def part_rects(parts: Parts, world_to_cam: np.ndarray, k: np.ndarray,
               size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parts that may be visible, nearest first: their indices, pixel bounds (M, 4)
    ``u0, u1, v0, v1``, smallest camera z (M,) in metres and projected corners (M, 8, 2)
    (NaN where a part straddles the image plane).

    Bounds are conservative: a part straddling the image plane gets the whole image.
    """
    h, w = size
    c, s = np.cos(parts.yaw), np.sin(parts.yaw)
    local = _SIGNS[None] * parts.half[:, None, :]
    corners = np.stack([
        parts.center[:, None, 0] + c[:, None] * local[..., 0] - s[:, None] * local[..., 1],
        parts.center[:, None, 1] + s[:, None] * local[..., 0] + c[:, None] * local[..., 1],
        parts.center[:, None, 2] + local[..., 2],
    ], axis=-1)
    cam = corners @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    z = cam[..., 2]
    front = z > NEAR_PLANE
    keep = front.any(axis=1) & (z.min(axis=1) < RENDER_RANGE)
    # Clip at the near plane: the visible outline is spanned by the corners in front of it and
    # the points where box edges cross it.
    a, b = cam[:, _EDGES[:, 0]], cam[:, _EDGES[:, 1]]
    za, zb = a[..., 2], b[..., 2]
    crosses = (za > NEAR_PLANE) != (zb > NEAR_PLANE)
    frac = np.where(crosses, (NEAR_PLANE - za) / np.where(crosses, zb - za, 1.0), 0.0)
    cut = a + frac[..., None] * (b - a)
    points = np.concatenate([np.where(front[..., None], cam, np.nan), np.where(crosses[..., None], cut, np.nan)], axis=1)
    pz = np.maximum(points[..., 2], NEAR_PLANE)
    u = (k[0, 0] * points[..., 0] + k[0, 1] * points[..., 1]) / pz + k[0, 2]
    v = k[1, 1] * points[..., 1] / pz + k[1, 2]
    valid = ~np.isnan(u)
    rects = np.stack([np.floor(np.where(valid, u, np.inf).min(1)), np.ceil(np.where(valid, u, -np.inf).max(1)) + 1,
                      np.floor(np.where(valid, v, np.inf).min(1)), np.ceil(np.where(valid, v, -np.inf).max(1)) + 1], axis=1)
    rects = np.nan_to_num(rects, nan=0.0, posinf=max(w, h), neginf=0.0)
    straddle = ~front.all(axis=1)
    rects[:, :2] = np.clip(rects[:, :2], 0, w)
    rects[:, 2:] = np.clip(rects[:, 2:], 0, h)
    keep &= (rects[:, 1] > rects[:, 0]) & (rects[:, 3] > rects[:, 2])
    index = np.flatnonzero(keep)
    order = index[np.argsort(z.min(axis=1)[index], kind="stable")]
    corners_uv = np.stack([u[:, :8], v[:, :8]], axis=-1)[order]
    corners_uv[straddle[order]] = np.nan
    near = np.maximum(z.min(axis=1)[order], 0.0)
    return order, rects[order].astype(np.int64), near, np.ascontiguousarray(corners_uv)


@dataclass
class ShadowGrid:
    """Parts that cast sun shadows on the ground near a point, binned for per-pixel lookup."""

    casters: np.ndarray  # packed parts
    starts: np.ndarray
    items: np.ndarray
    grid: np.ndarray  # x0, y0, cell, nx, ny


def shadow_grid(parts: Parts, center: np.ndarray, radius: float = SHADOW_RANGE, cell: float = 4.0) -> ShadowGrid:
    """Shadow casters within ``radius`` metres of the global point ``center`` (x, y)."""
    near = np.linalg.norm(parts.center[:, :2] - center[:2], axis=1) < radius + parts.radius() + 30.0
    packed = parts.select(near).packed()
    n = int(np.ceil(2 * radius / cell))
    x0, y0 = center[0] - radius, center[1] - radius
    starts, items = build_shadow_grid(packed, SUN, x0, y0, cell, n, n)
    return ShadowGrid(packed, starts, items, np.array([x0, y0, cell, n, n], dtype=np.float64))


def render_view(town: Town, parts: Parts, cam_to_global: np.ndarray, k: np.ndarray,
                size: tuple[int, int], shadows: ShadowGrid) -> tuple[np.ndarray, np.ndarray]:
    """Image (H, W, 3) uint8 RGB and depth (H, W) float32 (z in the camera frame, metres, 0 = sky)
    of a camera with intrinsics ``k`` at pose ``cam_to_global``; ground pixels within the
    ``shadows`` grid are shaded where a part blocks the sun."""
    world_to_cam = np.linalg.inv(cam_to_global)
    index, rects, near, corners = part_rects(parts, world_to_cam, k, size)
    image = np.empty((*size, 3), np.uint8)
    depth = np.empty(size, np.float32)
    render_camera(np.ascontiguousarray(cam_to_global[:3, 3]), np.ascontiguousarray(cam_to_global[:3, :3]),
                  np.linalg.inv(k), parts.select(index).packed(), rects, near, corners, town.avenues, town.cross_x,
                  town.cross_half, town.lots, SUN, shadows.casters, shadows.starts, shadows.items, shadows.grid, image, depth)
    return image, depth
