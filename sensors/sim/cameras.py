"""Rendering of one pinhole camera view of the town (image and exact z-depth)."""
from __future__ import annotations

import numpy as np

from sensors.sim.raycast import render_camera
from sensors.sim.shapes import Parts
from sensors.sim.town import Town

#: Direction towards the sun in the global frame (unit vector; afternoon, from the south-west).
SUN = np.array([-0.45, -0.35, 0.82]) / np.linalg.norm([-0.45, -0.35, 0.82])
#: Parts farther than this from the camera are not rendered (metres; fog hides them).
RENDER_RANGE = 220.0

_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)


def part_rects(parts: Parts, world_to_cam: np.ndarray, k: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the parts that may be visible and their pixel bounds (M, 4) ``u0, u1, v0, v1``.

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
    front = z > 0.05
    keep = front.any(axis=1) & (z.min(axis=1) < RENDER_RANGE)
    safe = np.where(front, z, 1.0)
    u = (k[0, 0] * cam[..., 0] + k[0, 1] * cam[..., 1]) / safe + k[0, 2]
    v = k[1, 1] * cam[..., 1] / safe + k[1, 2]
    rects = np.stack([np.floor(u.min(1)), np.ceil(u.max(1)) + 1, np.floor(v.min(1)), np.ceil(v.max(1)) + 1], axis=1)
    straddle = ~front.all(axis=1)
    rects[straddle] = [0, w, 0, h]
    rects[:, :2] = np.clip(rects[:, :2], 0, w)
    rects[:, 2:] = np.clip(rects[:, 2:], 0, h)
    keep &= (rects[:, 1] > rects[:, 0]) & (rects[:, 3] > rects[:, 2])
    index = np.flatnonzero(keep)
    return index, rects[index].astype(np.int64)


def render_view(town: Town, parts: Parts, cam_to_global: np.ndarray, k: np.ndarray,
                size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Image (H, W, 3) uint8 RGB and depth (H, W) float32 (z in the camera frame, metres, 0 = sky)
    of a camera with intrinsics ``k`` at pose ``cam_to_global``."""
    world_to_cam = np.linalg.inv(cam_to_global)
    index, rects = part_rects(parts, world_to_cam, k, size)
    image = np.empty((*size, 3), np.uint8)
    depth = np.empty(size, np.float32)
    render_camera(np.ascontiguousarray(cam_to_global[:3, 3]), np.ascontiguousarray(cam_to_global[:3, :3]),
                  np.linalg.inv(k), parts.select(index).packed(), rects, town.avenues, town.cross_x,
                  town.cross_half, town.lots, SUN, image, depth)
    return image, depth
