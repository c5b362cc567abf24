"""Ego-frame boxes -> KITTI label objects for one camera: 2D box, truncation, occlusion, alpha.

By default the camera frame (x right, y down, z forward) is KITTI's rectified reference frame, as
:meth:`sensors.kitti.calib.KittiCalib.from_camera` writes it; real KITTI frames pass their
rectified-reference -> camera 2 offset instead.
"""
from __future__ import annotations

import cv2
import numpy as np

from sensors.boxes import BOX_EDGES, Boxes3D
from sensors.classes import CLASS_TO_KITTI
from sensors.frame import Camera
from sensors.geometry import invert_transform, transform_points, wrap_angle
from sensors.kitti.labels import KittiObject, observation_angle
from sensors.projection import MIN_DEPTH, project_points

#: Occluded-pixel fractions that separate KITTI occlusion levels 0 | 1 | 2.
OCCLUSION_THRESHOLDS = (0.1, 0.5)
#: A depth sample counts as occluding when it is this much nearer than the box (metres).
OCCLUSION_MARGIN = 0.3
#: Fewer depth samples than this inside a box's outline give occlusion 3 (unknown).
MIN_DEPTH_SAMPLES = 5


def _clip_to_near_plane(corners_cam: np.ndarray) -> np.ndarray:
    """Vertices (M, 3) of the part of a box (8 camera-frame corners) with z >= MIN_DEPTH."""
    front = corners_cam[corners_cam[:, 2] >= MIN_DEPTH]
    a, b = corners_cam[BOX_EDGES[:, 0]], corners_cam[BOX_EDGES[:, 1]]
    crossing = (a[:, 2] - MIN_DEPTH) * (b[:, 2] - MIN_DEPTH) < 0
    t = (MIN_DEPTH - a[crossing, 2]) / (b[crossing, 2] - a[crossing, 2])
    cuts = a[crossing] + t[:, None] * (b[crossing] - a[crossing])
    return np.concatenate([front, cuts])


def lidar_depth_map(points_ego: np.ndarray, camera: Camera) -> np.ndarray:
    """(H, W) float32 sparse depth (metres, 0 = no point) of ego-frame points seen by ``camera``."""
    uv, depth, valid = project_points(points_ego, camera)
    out = np.full((camera.height, camera.width), np.inf, dtype=np.float32)
    pixels = uv[valid].astype(np.int64)
    np.minimum.at(out, (pixels[:, 1], pixels[:, 0]), depth[valid].astype(np.float32))
    out[np.isinf(out)] = 0.0
    return out


def _occlusion(hull_uv: np.ndarray, nearest: float, depth: np.ndarray | None, bbox: np.ndarray) -> int:
    """KITTI occlusion level from the depth samples inside the box's projected outline."""
    if depth is None:
        return 3
    left, top = int(np.floor(bbox[0])), int(np.floor(bbox[1]))
    right, bottom = int(np.ceil(bbox[2])) + 1, int(np.ceil(bbox[3])) + 1
    window = depth[top:bottom, left:right]
    mask = np.zeros(window.shape, np.uint8)
    hull = cv2.convexHull(np.round(hull_uv - [left, top]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    samples = window[(mask > 0) & (window > 0)]
    if len(samples) < MIN_DEPTH_SAMPLES:
        return 3
    fraction = float(np.mean(samples < nearest - OCCLUSION_MARGIN))
    return int(np.searchsorted(OCCLUSION_THRESHOLDS, fraction, side="right"))


def boxes_to_objects(
    boxes: Boxes3D,
    camera: Camera,
    depth: np.ndarray | None = None,
    with_score: bool = False,
    rect_to_camera: np.ndarray | None = None,
) -> list[KittiObject]:
    """KITTI objects of the ego-frame boxes that are at least partly in front of and inside ``camera``.

    Boxes whose class maps to None in :data:`sensors.classes.CLASS_TO_KITTI` are skipped.

    Args:
        boxes: ego-frame boxes.
        camera: the camera whose frame is the KITTI rectified reference frame and whose image is image 2.
        depth: optional (H, W) metric depth for occlusion (dense, or sparse with 0 = unknown);
            None gives occlusion 3 (unknown).
        with_score: write the boxes' scores (prediction files, 16 fields).
        rect_to_camera: (4, 4) KITTI rectified reference frame -> ``camera`` frame, the frame of
            the locations and rotation_y; None: identity (the writer's rig). For a frame read
            from real KITTI pass ``KittiCalib.rect_to_camera(2)``.
    """
    ego_to_cam = invert_transform(camera.cam_to_ego)
    ego_to_rect = ego_to_cam if rect_to_camera is None else invert_transform(rect_to_camera) @ ego_to_cam
    corners = boxes.corners()
    centers = transform_points(ego_to_rect, boxes.center)
    headings = np.stack([np.cos(boxes.yaw), np.sin(boxes.yaw), np.zeros(len(boxes))], axis=1) @ ego_to_rect[:3, :3].T
    width, height = camera.width - 1.0, camera.height - 1.0
    objects = []
    for i, name in enumerate(boxes.class_names()):
        kitti_type = CLASS_TO_KITTI[name]
        if kitti_type is None:
            continue
        solid = _clip_to_near_plane(transform_points(ego_to_cam, corners[i]))
        if len(solid) == 0:
            continue
        uv = solid @ camera.intrinsics.T
        uv = uv[:, :2] / uv[:, 2:3]
        full = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
        bbox = np.clip(full, 0.0, [width, height, width, height])
        if bbox[2] <= bbox[0] or bbox[3] <= bbox[1]:
            continue
        full_area = (full[2] - full[0]) * (full[3] - full[1])
        truncated = float(np.clip(1.0 - (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) / full_area, 0.0, 1.0))
        length, width_m, height_m = boxes.size[i]
        location = centers[i] + [0.0, height_m / 2.0, 0.0]
        rotation_y = float(wrap_angle(np.arctan2(-headings[i, 2], headings[i, 0])))
        objects.append(
            KittiObject(
                type=kitti_type,
                truncated=truncated,
                occluded=_occlusion(uv, float(solid[:, 2].min()), depth, bbox),
                alpha=observation_angle(rotation_y, location),
                bbox=tuple(float(v) for v in bbox),  # type: ignore[arg-type]
                dimensions=(float(height_m), float(width_m), float(length)),
                location=tuple(float(v) for v in location),  # type: ignore[arg-type]
                rotation_y=rotation_y,
                score=float(boxes.score[i]) if with_score else None,
            )
        )
    return objects
