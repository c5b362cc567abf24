"""Oriented 3D boxes (:class:`Boxes3D`) in the convention of docs/conventions.md.

A box is ``center (x, y, z)`` of its volume in metres, ``size`` as **length, width, height**
(extent along the box's own x, y, z at yaw 0), ``yaw`` in radians about +z from +x, and a
``velocity (vx, vy)`` in m/s, all in the frame the boxes are expressed in (ego unless stated).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sensors.classes import DETECTION_CLASSES
from sensors.geometry import wrap_angle

#: Corner order of :meth:`Boxes3D.corners`: bottom face (z-) counter-clockwise from
#: front-left, then the top face in the same order. "Front" is the +length direction.
_CORNER_SIGNS = np.array(
    [
        [1, 1, -1], [-1, 1, -1], [-1, -1, -1], [1, -1, -1],
        [1, 1, 1], [-1, 1, 1], [-1, -1, 1], [1, -1, 1],
    ],
    dtype=np.float64,
) * 0.5
#: The 12 box edges as pairs of indices into that corner order.
BOX_EDGES = np.array([(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)])


@dataclass
class Boxes3D:
    """A set of N oriented boxes, validated on construction.

    Attributes:
        center: (N, 3) float64, box centre in metres.
        size: (N, 3) float64, length, width, height in metres, all > 0.
        yaw: (N,) float64, radians about +z, wrapped to [-pi, pi).
        velocity: (N, 2) float64, m/s in the boxes' frame (NaN allowed where unknown).
        label: (N,) int64 index into :data:`sensors.classes.DETECTION_CLASSES`.
        score: (N,) float64 in [0, 1]; 1 for ground truth.
        attribute: (N,) int64 index into :data:`sensors.classes.ATTRIBUTES`, -1 for none.
        num_lidar_points: (N,) int64 LiDAR points inside each box, -1 if unknown.
        token: optional per-box identifiers (annotation tokens, track ids), length N.
    """

    center: np.ndarray
    size: np.ndarray
    yaw: np.ndarray
    velocity: np.ndarray | None = None
    label: np.ndarray | None = None
    score: np.ndarray | None = None
    attribute: np.ndarray | None = None
    num_lidar_points: np.ndarray | None = None
    token: list[str] | None = field(default=None)

    def __post_init__(self) -> None:
        self.center = np.asarray(self.center, dtype=np.float64).reshape(-1, 3)
        n = len(self.center)
        self.size = np.asarray(self.size, dtype=np.float64).reshape(-1, 3)
        self.yaw = np.asarray(wrap_angle(np.asarray(self.yaw, dtype=np.float64).reshape(-1)), dtype=np.float64)
        self.velocity = (
            np.zeros((n, 2)) if self.velocity is None else np.asarray(self.velocity, dtype=np.float64).reshape(-1, 2)
        )
        self.label = np.zeros(n, np.int64) if self.label is None else np.asarray(self.label, dtype=np.int64).reshape(-1)
        self.score = np.ones(n) if self.score is None else np.asarray(self.score, dtype=np.float64).reshape(-1)
        self.attribute = (
            np.full(n, -1, np.int64) if self.attribute is None else np.asarray(self.attribute, dtype=np.int64).reshape(-1)
        )
        self.num_lidar_points = (
            np.full(n, -1, np.int64)
            if self.num_lidar_points is None
            else np.asarray(self.num_lidar_points, dtype=np.int64).reshape(-1)
        )
        self._validate()

    def _validate(self) -> None:
        n = len(self.center)
        for name in ("size", "yaw", "velocity", "label", "score", "attribute", "num_lidar_points"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Boxes3D.{name} has {len(getattr(self, name))} rows, center has {n}")
        if self.token is not None and len(self.token) != n:
            raise ValueError(f"Boxes3D.token has {len(self.token)} entries, center has {n}")
        for name in ("center", "size", "yaw", "score"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"Boxes3D.{name} has non-finite values")
        if np.any(self.size <= 0):
            raise ValueError("Boxes3D.size must be positive (length, width, height > 0)")
        if np.any((self.label < 0) | (self.label >= len(DETECTION_CLASSES))):
            raise ValueError(f"Boxes3D.label outside [0, {len(DETECTION_CLASSES)})")
        if np.any((self.score < 0) | (self.score > 1)):
            raise ValueError("Boxes3D.score outside [0, 1]")

    def __len__(self) -> int:
        return len(self.center)

    @classmethod
    def empty(cls) -> Boxes3D:
        """A set of zero boxes."""
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))

    @classmethod
    def concatenate(cls, parts: list[Boxes3D]) -> Boxes3D:
        """All boxes of ``parts`` in order (tokens kept only if every part has them)."""
        if not parts:
            return cls.empty()
        tokens = None
        if all(p.token is not None for p in parts):
            tokens = [t for p in parts for t in p.token]  # type: ignore[union-attr]
        return cls(
            np.concatenate([p.center for p in parts]),
            np.concatenate([p.size for p in parts]),
            np.concatenate([p.yaw for p in parts]),
            np.concatenate([p.velocity for p in parts]),
            np.concatenate([p.label for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.attribute for p in parts]),
            np.concatenate([p.num_lidar_points for p in parts]),
            tokens,
        )

    def select(self, index: np.ndarray) -> Boxes3D:
        """The subset given by a boolean mask or an integer index array."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return Boxes3D(
            self.center[index], self.size[index], self.yaw[index], self.velocity[index], self.label[index],
            self.score[index], self.attribute[index], self.num_lidar_points[index],
            None if self.token is None else [self.token[i] for i in index],
        )

    def corners(self) -> np.ndarray:
        """Corners (N, 8, 3) in the boxes' frame, in the order documented at ``_CORNER_SIGNS``."""
        local = _CORNER_SIGNS[None, :, :] * self.size[:, None, :]
        c, s = np.cos(self.yaw)[:, None], np.sin(self.yaw)[:, None]
        x = local[..., 0] * c - local[..., 1] * s
        y = local[..., 0] * s + local[..., 1] * c
        return np.stack([x, y, local[..., 2]], axis=-1) + self.center[:, None, :]

    def transform(self, transform: np.ndarray) -> Boxes3D:
        """Boxes expressed in another frame through a rigid 4x4 ``transform``.

        Yaw is the heading of the rotated box x-axis projected on the new x-y plane, so the
        transform should keep +z up (true for ego<->global<->lidar in driving data).
        Velocity is rotated (it is a direction, not a point).
        """
        rotation = transform[:3, :3]
        center = self.center @ rotation.T + transform[:3, 3]
        heading = np.stack([np.cos(self.yaw), np.sin(self.yaw), np.zeros(len(self))], axis=1) @ rotation.T
        yaw = np.arctan2(heading[:, 1], heading[:, 0])
        vel3 = np.concatenate([self.velocity, np.zeros((len(self), 1))], axis=1) @ rotation.T
        return Boxes3D(
            center, self.size.copy(), yaw, vel3[:, :2], self.label.copy(), self.score.copy(),
            self.attribute.copy(), self.num_lidar_points.copy(), None if self.token is None else list(self.token),
        )

    def points_inside(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask (N_boxes, N_points) of points ``(P, >=3)`` inside each box (closed faces)."""
        xyz = np.asarray(points)[:, :3].astype(np.float64)
        rel = xyz[None, :, :] - self.center[:, None, :]
        c, s = np.cos(self.yaw)[:, None], np.sin(self.yaw)[:, None]
        local_x = rel[..., 0] * c + rel[..., 1] * s
        local_y = -rel[..., 0] * s + rel[..., 1] * c
        half = self.size / 2.0
        return (
            (np.abs(local_x) <= half[:, 0:1])
            & (np.abs(local_y) <= half[:, 1:2])
            & (np.abs(rel[..., 2]) <= half[:, 2:3])
        )

    def class_names(self) -> list[str]:
        """Detection class name of every box."""
        return [DETECTION_CLASSES[i] for i in self.label]
