"""Projection of ego-frame points and boxes into pinhole cameras (numpy)."""
from __future__ import annotations

import numpy as np

from sensors.boxes import Boxes3D
from sensors.frame import Camera
from sensors.geometry import invert_transform

#: Points closer than this to the image plane (metres along the optical axis) are not projected.
MIN_DEPTH = 0.1


def project_points(points_ego: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project ego-frame points (N, >=3) into ``camera``.

    Returns:
        uv: (N, 2) float64 pixel coordinates (u right, v down); meaningless where not ``valid``.
        depth: (N,) float64 z in the camera frame, metres.
        valid: (N,) bool, in front of the camera (depth > MIN_DEPTH) and inside the image.
    """
    ego_to_cam = invert_transform(camera.cam_to_ego)
    xyz = np.asarray(points_ego)[:, :3].astype(np.float64) @ ego_to_cam[:3, :3].T + ego_to_cam[:3, 3]
    depth = xyz[:, 2]
    safe = np.where(depth > MIN_DEPTH, depth, 1.0)
    pixels = xyz @ camera.intrinsics.T
    uv = pixels[:, :2] / safe[:, None]
    valid = (
        (depth > MIN_DEPTH)
        & (uv[:, 0] >= 0) & (uv[:, 0] < camera.width)
        & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
    )
    return uv, depth, valid


def project_boxes(boxes: Boxes3D, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Project box corners into ``camera``.

    Returns:
        corners_uv: (N, 8, 2) pixel coordinates of the corners (order of ``Boxes3D.corners``).
        visible: (N,) bool, every corner in front of the camera and at least one inside the image.
    """
    corners = boxes.corners().reshape(-1, 3)
    uv, depth, inside = project_points(corners, camera)
    uv = uv.reshape(len(boxes), 8, 2)
    in_front = (depth > MIN_DEPTH).reshape(len(boxes), 8).all(axis=1)
    visible = in_front & inside.reshape(len(boxes), 8).any(axis=1)
    return uv, visible
