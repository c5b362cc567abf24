"""The simulated spinning LiDAR (nuScenes LIDAR_TOP-like) for one sweep."""
from __future__ import annotations

import numpy as np

from sensors.geometry import invert_transform
from sensors.sim.config import SimConfig
from sensors.sim.raycast import INF, cast_lidar
from sensors.sim.rig import LIDAR_POSITION
from sensors.sim.shapes import Parts
from sensors.sim.town import Town
from sensors.sim.warmup import warm_up


def beam_directions(config: SimConfig) -> np.ndarray:
    """Unit ray directions (A, B, 3) in the LiDAR-at-ego orientation (x forward, y left, z up):
    A azimuth steps over a full turn, B beams with linearly spaced elevations."""
    az = np.linspace(0, 2 * np.pi, config.lidar_azimuth_steps, endpoint=False)
    el = np.deg2rad(np.linspace(*config.lidar_elevation_deg, config.num_lidar_beams))
    ce = np.cos(el)[None, :]
    shape = (len(az), len(el))
    return np.ascontiguousarray(np.stack([np.cos(az)[:, None] * ce, np.sin(az)[:, None] * ce,
                                          np.broadcast_to(np.sin(el)[None, :], shape)], axis=-1))


def lidar_sweep(config: SimConfig, town: Town, parts: Parts, ego_to_global: np.ndarray, rng: np.random.Generator,
                beams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One sweep at the pose ``ego_to_global`` against ``parts`` (global frame).

    Returns:
        points: (N, 5) float32 x, y, z (ego frame, metres), intensity 0-255, time offset 0.
        owner: (N,) int64 agent index of the part each point hit, -1 ground or scenery.
    """
    warm_up()
    rot = ego_to_global[:3, :3]
    origin = rot @ np.asarray(LIDAR_POSITION) + ego_to_global[:3, 3]
    dirs = np.ascontiguousarray(beams @ rot.T)
    rng_max = config.lidar_max_range
    near = np.linalg.norm(parts.center[:, :2] - origin[:2], axis=1) < rng_max + parts.radius()
    packed = parts.select(near).packed()
    ranges = np.empty(dirs.shape[:2])
    intensity = np.empty(dirs.shape[:2])
    owner = np.empty(dirs.shape[:2], np.int64)
    cast_lidar(origin, dirs, rng_max, packed, town.avenues, town.cross_x, town.cross_half, town.lots, ranges, intensity, owner)
    keep = (ranges < INF) & (rng.uniform(size=ranges.shape) >= config.lidar_dropout)
    dist = ranges[keep] + rng.normal(0.0, config.lidar_range_noise, size=int(keep.sum()))
    xyz_global = origin + dirs[keep] * dist[:, None]
    to_ego = invert_transform(ego_to_global)
    xyz = xyz_global @ to_ego[:3, :3].T + to_ego[:3, 3]
    value = np.clip(intensity[keep] + rng.normal(0.0, 2.0, size=len(dist)), 0, 255)
    points = np.column_stack([xyz, np.round(value), np.zeros(len(dist))]).astype(np.float32)
    return points, owner[keep]
