"""Which boxes the nuScenes detection metric evaluates (the devkit's ``filter_eval_boxes``).

Applied identically to ground truth and predictions, in this order:

1. distance: the BEV distance between the box centre and the ego position of its sample must be
   strictly below the class range;
2. points: boxes with exactly 0 LiDAR + radar points are dropped (predictions carry -1, so they stay);
3. bike racks: bicycles and motorcycles whose centre lies inside a ``static_object.bicycle_rack``
   annotation of the same sample (closed faces) are dropped.
"""
from __future__ import annotations

import numpy as np

from evaluation.nuscenes_det.boxes import DetectionBoxes, GroundTruth
from evaluation.nuscenes_det.config import DetectionConfig
from sensors.classes import DETECTION_CLASSES
from sensors.geometry import quaternion_to_matrix

_CYCLES = np.array([DETECTION_CLASSES.index("bicycle"), DETECTION_CLASSES.index("motorcycle")])


def in_bike_rack(boxes: DetectionBoxes, racks: DetectionBoxes) -> np.ndarray:
    """(N,) bool: the centre of each box lies inside a rack of its own sample (closed faces)."""
    inside = np.zeros(len(boxes), bool)
    if len(racks) == 0 or len(boxes) == 0:
        return inside
    box_idx, rack_idx = np.nonzero(boxes.sample[:, None] == racks.sample[None, :])
    rotations = quaternion_to_matrix(racks.rotation)[rack_idx]
    offset = boxes.translation[box_idx] - racks.translation[rack_idx]
    local = np.einsum("pi,pij->pj", offset, rotations)  # rotation^T @ offset
    # nuScenes size is (w, l, h): the box's local x extent is l, y is w.
    half = racks.size[rack_idx][:, [1, 0, 2]] / 2.0
    inside[box_idx[np.all(np.abs(local) <= half, axis=1)]] = True
    return inside


def evaluated_mask(boxes: DetectionBoxes, ground_truth: GroundTruth, config: DetectionConfig) -> np.ndarray:
    """(N,) bool mask of the boxes (ground truth or predictions of ``ground_truth``'s samples) that are evaluated."""
    if len(boxes) == 0:
        return np.zeros(0, bool)
    offset = boxes.translation[:, :2] - ground_truth.ego_translation[boxes.sample, :2]
    ego_dist = np.sqrt(np.sum(offset**2, axis=1))
    max_dist = np.array([config.class_range[name] for name in DETECTION_CLASSES])[boxes.label]
    keep = (ego_dist < max_dist) & (boxes.num_pts != 0)
    cycles = keep & np.isin(boxes.label, _CYCLES)
    if cycles.any():
        idx = np.flatnonzero(cycles)
        keep[idx[in_bike_rack(boxes.select(idx), ground_truth.bike_racks)]] = False
    return keep
