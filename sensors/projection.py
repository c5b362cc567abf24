"""Projection of ego-frame points and boxes into pinhole cameras (numpy)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sensors.boxes import Boxes3D
from sensors.errors import InvalidValueError
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


def check_principal_point(size: tuple[int, int], intrinsics: np.ndarray, path: Path | str) -> None:
    """Raise :class:`InvalidValueError` naming ``path`` if an image of ``size`` (H, W) does not fit ``intrinsics``.

    The principal point ``(cx, cy)`` must lie in the central half of the image
    (``W/4 <= cx <= 3W/4``, ``H/4 <= cy <= 3H/4``). Real cameras have it near the centre (every
    KITTI frame within 4% of it: ``cx ~ 0.49 W``, ``cy ~ 0.46 H``; nuScenes within 4%), while an
    image resized or cropped after calibration moves it far off (half size: ``cx ~ 0.98 W``;
    double size: ``cx ~ 0.245 W``) and silently ruins projection, depth targets and fusion.
    Image sizes legitimately differ between KITTI frames (1224x370 to 1242x376), so a size shared
    with the other frames is not required.
    """
    height, width = size
    cx, cy = float(intrinsics[0, 2]), float(intrinsics[1, 2])
    if not (width / 4 <= cx <= 3 * width / 4 and height / 4 <= cy <= 3 * height / 4):
        raise InvalidValueError(
            path, f"image is {width}x{height} but the calibration's principal point ({cx:.1f}, {cy:.1f}) is not in "
            "its central half: the image was resized or cropped after calibration, or belongs to another camera"
        )
