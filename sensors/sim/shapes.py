"""Solid shapes of the simulated world: sets of yaw-oriented boxes (:class:`Parts`).

Every object the sensors see (buildings, vehicle bodies and cabins, wheels, pedestrians' limbs,
cones) is made of such boxes. Units: metres, radians, RGB 0-255, LiDAR intensity 0-255.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Surface textures the renderer knows (column ``texture``).
PLAIN, FACADE, GLASS_SIDES, BARRIER_STRIPE, WINDOW_BAND = 0, 1, 2, 3, 4


@dataclass
class Parts:
    """P boxes, each rotated by ``yaw`` about +z.

    Attributes:
        center: (P, 3) float64 box centres.
        half: (P, 3) float64 half extents along the box's own x, y, z.
        yaw: (P,) float64 radians about +z.
        color: (P, 3) float64 RGB base colour.
        intensity: (P,) float64 LiDAR reflectivity 0-255.
        texture: (P,) int64 one of the texture constants of this module.
        owner: (P,) int64 agent index, -1 for static scenery.
    """

    center: np.ndarray
    half: np.ndarray
    yaw: np.ndarray
    color: np.ndarray
    intensity: np.ndarray
    texture: np.ndarray
    owner: np.ndarray

    def __len__(self) -> int:
        return len(self.center)

    @classmethod
    def empty(cls) -> Parts:
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), np.zeros(0),
                   np.zeros(0, np.int64), np.zeros(0, np.int64))

    @classmethod
    def concatenate(cls, parts: list[Parts]) -> Parts:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("center", "half", "yaw", "color", "intensity", "texture", "owner")))

    def select(self, index: np.ndarray) -> Parts:
        return Parts(self.center[index], self.half[index], self.yaw[index], self.color[index],
                     self.intensity[index], self.texture[index], self.owner[index])

    def radius(self) -> np.ndarray:
        """(P,) radius of each box's bounding sphere, metres."""
        return np.linalg.norm(self.half, axis=1)

    def packed(self) -> np.ndarray:
        """(P, 14) float64 rows ``cx cy cz hx hy hz cos sin r g b intensity texture owner`` for the kernels."""
        return np.ascontiguousarray(np.column_stack([
            self.center, self.half, np.cos(self.yaw), np.sin(self.yaw), self.color,
            self.intensity, self.texture.astype(np.float64), self.owner.astype(np.float64),
        ]))
