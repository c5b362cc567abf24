"""Ground truth and predictions from the sensor data model (:class:`sensors.frame.Frame`, :class:`Boxes3D`).

For data that is not on disk as nuScenes tables (a simulated drive, a KITTI-like recording):
ego-frame boxes (length, width, height; yaw) become global-frame nuScenes boxes (width, length,
height; quaternion) through each frame's ``ego_to_global``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from evaluation.nuscenes_det.boxes import DetectionBoxes, GroundTruth
from sensors.boxes import Boxes3D
from sensors.frame import Frame


def ego_boxes_to_global(boxes_per_sample: Sequence[Boxes3D], ego_to_global: Sequence[np.ndarray],
                        scores: bool = True) -> DetectionBoxes:
    """Concatenate per-sample ego-frame boxes as global-frame :class:`DetectionBoxes` (``sample`` = list position).

    Args:
        boxes_per_sample: boxes of sample i in its ego frame (velocity: m/s, ego axes).
        ego_to_global: (4, 4) pose of sample i.
        scores: keep the boxes' scores (predictions); False writes -1 (ground truth).
    """
    if len(boxes_per_sample) != len(ego_to_global):
        raise ValueError(f"{len(boxes_per_sample)} box sets for {len(ego_to_global)} poses")
    parts = []
    for i, (boxes, pose) in enumerate(zip(boxes_per_sample, ego_to_global)):
        world = boxes.transform(np.asarray(pose, np.float64))
        n = len(world)
        parts.append(DetectionBoxes(
            sample=np.full(n, i), translation=world.center, size=world.size[:, [1, 0, 2]],
            rotation=np.stack([np.cos(world.yaw / 2), np.zeros(n), np.zeros(n), np.sin(world.yaw / 2)], axis=1),
            velocity=world.velocity, label=world.label, score=world.score if scores else -np.ones(n),
            attribute=world.attribute, num_pts=world.num_lidar_points,
        ))
    return DetectionBoxes.concatenate(parts)


def ground_truth_from_frames(frames: Sequence[Frame]) -> GroundTruth:
    """Ground truth of annotated frames (sample tokens = frame tokens, no bike racks).

    ``num_lidar_points`` of the boxes is the point count (0 excludes a box, -1 = unknown keeps it).

    Raises:
        ValueError: a frame without box annotations.
    """
    boxes = []
    for frame in frames:
        if frame.annotations is None or frame.annotations.boxes is None:
            raise ValueError(f"frame {frame.token!r} has no box annotations to evaluate against")
        boxes.append(frame.annotations.boxes)
    poses = [frame.ego_to_global for frame in frames]
    return GroundTruth(
        sample_tokens=[frame.token for frame in frames],
        ego_translation=np.array([pose[:3, 3] for pose in poses]).reshape(len(frames), 3),
        boxes=ego_boxes_to_global(boxes, poses, scores=False),
        bike_racks=DetectionBoxes.empty(),
    )
