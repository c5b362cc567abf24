"""Hand-built frames for the KITTI reader/writer tests."""
from __future__ import annotations

import numpy as np

from sensors.boxes import Boxes3D
from sensors.classes import class_index
from sensors.frame import Annotations, Camera, Frame, Lidar
from sensors.geometry import make_transform

#: Camera axes (x right, y down, z forward) in the ego frame (x forward, y left, z up): a level
#: camera looking along ego +x.
CAM_ROTATION = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
HEIGHT, WIDTH = 90, 160
K = np.array([[100.0, 0.0, 80.0], [0.0, 100.0, 45.0], [0.0, 0.0, 1.0]])


def front_camera(position: tuple[float, float, float] = (1.5, 0.0, 1.6), depth: np.ndarray | None = None) -> Camera:
    """A CAM_FRONT of 160x90 pixels (fx = 100) at ``position`` in the ego frame."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return Camera("CAM_FRONT", image, K, make_transform(CAM_ROTATION, position), 123, depth)


def make_frame(boxes: Boxes3D, camera: Camera | None = None, points: np.ndarray | None = None) -> Frame:
    """A frame with ``boxes``, the camera and random LiDAR points (intensity 0..255)."""
    rng = np.random.default_rng(1)
    if points is None:
        points = np.zeros((500, 5), np.float32)
        points[:, 0] = rng.uniform(-40, 40, 500)
        points[:, 1] = rng.uniform(-40, 40, 500)
        points[:, 2] = rng.uniform(-0.5, 3.0, 500)
        points[:, 3] = rng.integers(0, 256, 500)
    camera = camera or front_camera()
    lidar = Lidar(points, make_transform(np.eye(3), [0.9, 0.0, 1.8]), 123)
    return Frame("tok", "scene", 123, np.eye(4), lidar, {"CAM_FRONT": camera}, annotations=Annotations(boxes=boxes))


def boxes(rows: list[tuple[str, tuple[float, float, float], tuple[float, float, float], float]]) -> Boxes3D:
    """Boxes from (class, centre, (l, w, h), yaw) rows."""
    return Boxes3D(
        center=[r[1] for r in rows], size=[r[2] for r in rows], yaw=[r[3] for r in rows],
        label=[class_index(r[0]) for r in rows],
    )


def scene_boxes() -> Boxes3D:
    """Boxes in front of the camera (kept), behind it or of non-KITTI classes (dropped)."""
    return boxes([
        ("car", (15.0, 1.0, 0.8), (4.2, 1.8, 1.6), 0.3),
        ("pedestrian", (10.0, -2.0, 0.9), (0.6, 0.7, 1.8), -2.0),
        ("truck", (30.0, 3.0, 1.5), (8.0, 2.5, 3.0), 2.9),
        ("bicycle", (12.0, -3.0, 0.8), (1.8, 0.6, 1.6), 1.2),
        ("traffic_cone", (8.0, 0.0, 0.3), (0.4, 0.4, 0.6), 0.0),
        ("car", (-10.0, 0.0, 0.8), (4.2, 1.8, 1.6), 0.0),
        ("car", (10.0, 40.0, 0.8), (4.2, 1.8, 1.6), 0.0),
    ])
