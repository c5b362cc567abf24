"""Rigid transforms, quaternions and rotations (numpy, float64; quaternion algebra by
``scipy.spatial.transform.Rotation``).

Conventions: quaternions are ``(w, x, y, z)`` (nuScenes / pyquaternion order) and rotate
vectors actively; a transform ``T_a_to_b`` is a 4x4 homogeneous matrix mapping points in frame
``a`` to frame ``b``: ``p_b = T[:3, :3] @ p_a + T[:3, 3]``.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

ORTHONORMAL_TOLERANCE = 1e-4


def _rotations(q: np.ndarray | list[float]) -> Rotation:
    """scipy rotations of quaternions ``(w, x, y, z)`` (4,) or (N, 4), normalised by scipy.

    Raises:
        ValueError: not 4 finite numbers per quaternion, or a zero quaternion.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1:] != (4,) or q.ndim > 2 or not np.all(np.isfinite(q)):
        raise ValueError(f"quaternion must be 4 finite numbers (w, x, y, z), got {q!r}")
    if np.any(np.linalg.norm(q, axis=-1) < 1e-12):
        raise ValueError("quaternion has zero norm")
    return Rotation.from_quat(q, scalar_first=True)


def quaternion_to_matrix(q: np.ndarray | list[float]) -> np.ndarray:
    """Rotation matrix (3, 3) of a quaternion ``(w, x, y, z)``, or (N, 3, 3) of (N, 4); normalises first."""
    if np.shape(q) == (0, 4):
        return np.zeros((0, 3, 3))
    return _rotations(q).as_matrix()


def matrix_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(w, x, y, z)`` with ``w >= 0`` of a rotation matrix (3, 3)."""
    m = np.asarray(rotation, dtype=np.float64)
    check_rotation(m)
    return Rotation.from_matrix(m).as_quat(canonical=True, scalar_first=True)


def yaw_to_quaternion(yaw: float) -> np.ndarray:
    """Quaternion ``(w, x, y, z)`` of a rotation by ``yaw`` radians about +z."""
    return Rotation.from_rotvec([0.0, 0.0, yaw]).as_quat(scalar_first=True)


def quaternion_to_yaw(q: np.ndarray | list[float]) -> float | np.ndarray:
    """Yaw (radians, about +z from +x) of the heading +x rotated by quaternion ``q`` (4,), or (N,)
    yaws of quaternions (N, 4); the quaternions need not be unit."""
    heading = quaternion_to_matrix(q)[..., :, 0]
    yaw = np.arctan2(heading[..., 1], heading[..., 0])
    return float(yaw) if np.ndim(yaw) == 0 else yaw


def rotation_z(yaw: float) -> np.ndarray:
    """Rotation matrix (3, 3) about +z by ``yaw`` radians."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def make_transform(rotation: np.ndarray, translation: np.ndarray | list[float]) -> np.ndarray:
    """4x4 homogeneous transform from a rotation (3, 3) and a translation (3,) in metres."""
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = np.asarray(translation, dtype=np.float64)
    return transform


def transform_from_quaternion(q: np.ndarray | list[float], translation: np.ndarray | list[float]) -> np.ndarray:
    """4x4 transform from a quaternion ``(w, x, y, z)`` and a translation (3,)."""
    return make_transform(quaternion_to_matrix(q), translation)


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform (uses the transpose of the rotation)."""
    rotation = transform[:3, :3]
    inverse = np.eye(4)
    inverse[:3, :3] = rotation.T
    inverse[:3, 3] = -rotation.T @ transform[:3, 3]
    return inverse


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to points ``(N, 3)`` (extra columns are passed through unchanged)."""
    points = np.asarray(points)
    out = points.copy()
    xyz = points[:, :3].astype(np.float64)
    out[:, :3] = xyz @ transform[:3, :3].T + transform[:3, 3]
    return out


def check_rotation(rotation: np.ndarray, name: str = "rotation") -> None:
    """Raise ValueError unless ``rotation`` is a finite proper rotation matrix (3, 3)."""
    rotation = np.asarray(rotation)
    if rotation.shape != (3, 3) or not np.all(np.isfinite(rotation)):
        raise ValueError(f"{name} must be a finite 3x3 matrix, got shape {rotation.shape}")
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=ORTHONORMAL_TOLERANCE):
        raise ValueError(f"{name} is not orthonormal (R @ R.T != I)")
    if np.linalg.det(rotation) < 0:
        raise ValueError(f"{name} is a reflection (det < 0), not a rotation")


def check_transform(transform: np.ndarray, name: str = "transform") -> None:
    """Raise ValueError unless ``transform`` is a finite rigid 4x4 transform."""
    transform = np.asarray(transform)
    if transform.shape != (4, 4) or not np.all(np.isfinite(transform)):
        raise ValueError(f"{name} must be a finite 4x4 matrix, got shape {transform.shape}")
    if not np.allclose(transform[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError(f"{name} last row must be [0, 0, 0, 1]")
    check_rotation(transform[:3, :3], f"{name} rotation")


def wrap_angle(angle: np.ndarray | float) -> np.ndarray | float:
    """Angle(s) wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi


def sensor_to_reference_ego(
    sensor_to_ego: np.ndarray, ego_to_global_at_sensor: np.ndarray, ego_to_global_at_reference: np.ndarray
) -> np.ndarray:
    """Pose (4, 4) of a sensor in the ego frame at a reference time (motion compensation).

    A camera is exposed at its own time while the car moves; its calibration ``sensor_to_ego``
    places it in the ego frame *at its capture time*. To use it with the LiDAR sweep, express it
    in the ego frame at the LiDAR (reference) time:
    ``inv(ego_to_global_at_reference) @ ego_to_global_at_sensor @ sensor_to_ego``
    (the chain the nuScenes devkit's ``map_pointcloud_to_image`` follows). Every reader and the
    bag replay use this one function (docs/conventions.md, "Time").

    Args:
        sensor_to_ego: (4, 4) calibration, sensor frame to ego frame at the sensor's time.
        ego_to_global_at_sensor: (4, 4) ego pose at the sensor's capture time.
        ego_to_global_at_reference: (4, 4) ego pose at the reference (LiDAR) time.
    """
    return invert_transform(np.asarray(ego_to_global_at_reference, dtype=np.float64)) @ (
        np.asarray(ego_to_global_at_sensor, dtype=np.float64) @ np.asarray(sensor_to_ego, dtype=np.float64)
    )
