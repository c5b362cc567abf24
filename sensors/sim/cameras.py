"""Rendering of one pinhole camera view of the town (image and exact z-depth)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.sim.raycast import build_shadow_grid, render_camera
from sensors.sim.shapes import Parts
from sensors.sim.town import Town
from sensors.sim.warmup import warm_up

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


def box_corners(parts: Parts) -> np.ndarray:
    """Corners (P, 8, 3) of every part in the parts' frame, in ``_SIGNS`` order."""
    c, s = np.cos(parts.yaw), np.sin(parts.yaw)
    local = _SIGNS[None] * parts.half[:, None, :]
    return np.stack([
        parts.center[:, None, 0] + c[:, None] * local[..., 0] - s[:, None] * local[..., 1],
        parts.center[:, None, 1] + s[:, None] * local[..., 0] + c[:, None] * local[..., 1],
        parts.center[:, None, 2] + local[..., 2],
    ], axis=-1)


def part_rects(corners: np.ndarray, world_to_cam: np.ndarray, k: np.ndarray,
               size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The parts (given by their world corners (P, 8, 3)) that may be visible, nearest first:
    their indices, pixel bounds (M, 4) ``u0, u1, v0, v1``, smallest camera z (M,) in metres and
    projected corners (M, 8, 2) (NaN where a part straddles the image plane).

    Bounds are exact for the near-plane-clipped box (its corners in front of the plane and the
    points where its edges cross it).
    """
    h, w = size
    depth_all = corners @ world_to_cam[2, :3] + world_to_cam[2, 3]
    candidate = np.flatnonzero((depth_all.max(axis=1) > NEAR_PLANE) & (depth_all.min(axis=1) < RENDER_RANGE))
    cam = corners[candidate] @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    z = cam[..., 2]
    front = z > NEAR_PLANE
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
    keep = np.flatnonzero((rects[:, 1] > rects[:, 0]) & (rects[:, 3] > rects[:, 2]))
    keep = keep[np.argsort(z.min(axis=1)[keep], kind="stable")]
    corners_uv = np.stack([u[keep, :8], v[keep, :8]], axis=-1)
    corners_uv[straddle[keep]] = np.nan
    near = np.maximum(z.min(axis=1)[keep], 0.0)
    return candidate[keep], rects[keep].astype(np.int64), near, np.ascontiguousarray(corners_uv)


@dataclass
class ShadowGrid:
    """Parts that cast sun shadows on the ground near a point, binned for per-pixel lookup."""

    casters: np.ndarray  # packed parts
    starts: np.ndarray
    items: np.ndarray
    grid: np.ndarray  # x0, y0, cell, nx, ny


@dataclass
class Scene:
    """What the cameras of one instant see: the parts near the car (packed for the kernels, with
    world corners) and the shadow grid. Built once, shared by all cameras."""

    town: Town
    packed: np.ndarray
    corners: np.ndarray
    shadows: ShadowGrid


def make_scene(town: Town, parts: Parts, center: np.ndarray, cell: float = 4.0) -> Scene:
    """The scene around the global point ``center`` (the car): parts within the render range,
    shadow casters within :data:`SHADOW_RANGE` binned on ``cell``-metre cells."""
    warm_up()
    distance = np.linalg.norm(parts.center[:, :2] - center[:2], axis=1) - parts.radius()
    near = parts.select(np.flatnonzero(distance < RENDER_RANGE))
    packed = near.packed()
    casters = packed[np.linalg.norm(near.center[:, :2] - center[:2], axis=1) < SHADOW_RANGE + near.radius() + 30.0]
    n = int(np.ceil(2 * SHADOW_RANGE / cell))
    x0, y0 = center[0] - SHADOW_RANGE, center[1] - SHADOW_RANGE
    starts, items = build_shadow_grid(casters, SUN, x0, y0, cell, n, n)
    grid = ShadowGrid(casters, starts, items, np.array([x0, y0, cell, n, n], dtype=np.float64))
    return Scene(town, packed, box_corners(near), grid)


def render_view(scene: Scene, cam_to_global: np.ndarray, k: np.ndarray,
                size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Image (H, W, 3) uint8 RGB and depth (H, W) float32 (z in the camera frame, metres, 0 = sky)
    of a camera with intrinsics ``k`` at pose ``cam_to_global`` (ground shadows included)."""
    warm_up()
    world_to_cam = np.linalg.inv(cam_to_global)
    index, rects, near, corners = part_rects(scene.corners, world_to_cam, k, size)
    image = np.empty((*size, 3), np.uint8)
    depth = np.empty(size, np.float32)
    town, shadows = scene.town, scene.shadows
    render_camera(np.ascontiguousarray(cam_to_global[:3, 3]), np.ascontiguousarray(cam_to_global[:3, :3]),
                  np.linalg.inv(k), np.ascontiguousarray(scene.packed[index]), rects, near, corners, town.avenues,
                  town.cross_x, town.cross_half, town.lots, SUN, shadows.casters, shadows.starts, shadows.items,
                  shadows.grid, image, depth)
    return image, depth
