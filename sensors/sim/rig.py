"""Sensor mounting on the simulated car: the nuScenes rig (approximate calibrated_sensor values).

Camera frames are OpenCV-style (x right, y down, z forward); ego is x forward, y left, z up.
Intrinsics are the nuScenes calibrations at 1600 x 900, scaled to the configured image size.
"""
from __future__ import annotations

import math

import numpy as np

from sensors.geometry import make_transform, rotation_z

#: Native resolution (W, H) the nuScenes intrinsics below are calibrated at.
NATIVE_SIZE = (1600, 900)

#: name -> (x, y, z mounting in ego, metres; yaw of the optical axis, degrees; focal px; cx; cy) at 1600 x 900.
#: CAM_BACK's calibrated focal length (809 px) gives ~89 deg horizontally (110 deg is the lens spec).
NUSCENES_RIG: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "CAM_FRONT_LEFT": (1.575, 0.500, 1.507, 55.0, 1272.6, 826.6, 479.8),
    "CAM_FRONT": (1.701, 0.016, 1.511, 0.0, 1266.4, 816.3, 491.5),
    "CAM_FRONT_RIGHT": (1.551, -0.493, 1.496, -55.0, 1260.8, 808.0, 495.3),
    "CAM_BACK_RIGHT": (1.015, -0.481, 1.562, -110.0, 1259.5, 807.3, 501.2),
    "CAM_BACK": (0.028, 0.003, 1.579, 180.0, 809.2, 829.2, 481.8),
    "CAM_BACK_LEFT": (1.036, 0.485, 1.591, 110.0, 1256.7, 792.1, 492.8),
}

#: LIDAR_TOP mounting: position in ego (m) and yaw (nuScenes: sensor x points to the right).
LIDAR_POSITION = (0.943713, 0.0, 1.84023)
LIDAR_YAW = -math.pi / 2

#: Camera axes (x right, y down, z forward) expressed in ego axes for a camera looking along +x.
_CAM_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def camera_to_ego(x: float, y: float, z: float, yaw_deg: float, pitch_deg: float = 0.0) -> np.ndarray:
    """4x4 cam_to_ego of a camera at (x, y, z) whose optical axis has ``yaw_deg`` (left positive)
    and ``pitch_deg`` (up positive)."""
    pitch = np.deg2rad(pitch_deg)
    tilt = np.array([[math.cos(pitch), 0.0, -math.sin(pitch)], [0.0, 1.0, 0.0], [math.sin(pitch), 0.0, math.cos(pitch)]])
    return make_transform(rotation_z(np.deg2rad(yaw_deg)) @ tilt @ _CAM_AXES, [x, y, z])


def intrinsics(focal: float, cx: float, cy: float, size: tuple[int, int]) -> np.ndarray:
    """K (3, 3) of a native 1600 x 900 calibration scaled to ``size`` = (H, W)."""
    sx, sy = size[1] / NATIVE_SIZE[0], size[0] / NATIVE_SIZE[1]
    return np.array([[focal * sx, 0.0, cx * sx], [0.0, focal * sy, cy * sy], [0.0, 0.0, 1.0]])


def camera_trigger_offset(yaw_deg: float, stamp_azimuth_deg: float, lidar_rate_hz: float) -> float:
    """When a camera is exposed relative to the LiDAR sweep timestamp, seconds in (-1 / rate, 0].

    The beam turns clockwise seen from above (ego azimuth decreasing, as the nuScenes LIDAR_TOP:
    its cameras fire front-left, front, front-right, back-right, back, back-left) at
    ``lidar_rate_hz`` revolutions per second and points along ``stamp_azimuth_deg`` at the
    timestamp; the camera fires when the beam crosses its optical axis ``yaw_deg`` during the
    revolution that ends then: ``-((yaw - stamp_azimuth) mod 360) / (360 * rate)``.
    """
    behind = (float(yaw_deg) - float(stamp_azimuth_deg)) % 360.0
    return -behind / (360.0 * lidar_rate_hz)


def lidar_to_ego() -> np.ndarray:
    """4x4 mounting of LIDAR_TOP."""
    return make_transform(rotation_z(LIDAR_YAW), LIDAR_POSITION)


def cabin_camera(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(K, cam_to_ego) of the driver-facing camera on the steering column, looking back at the
    driver's face (left seat), about 50 deg horizontal field of view."""
    h, w = size
    focal = (w / 2) / math.tan(math.radians(25))
    k = np.array([[focal, 0.0, w / 2], [0.0, focal, h / 2], [0.0, 0.0, 1.0]])
    return k, camera_to_ego(2.05, 0.37, 1.05, 180.0, pitch_deg=8.0)
