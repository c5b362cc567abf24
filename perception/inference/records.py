"""Per-frame evaluation records: what the scoring needs of one frame's predictions and ground truth.

A :class:`FrameRecord` is small, picklable plain numpy, so that ranks can gather them to rank 0
(``torch.distributed.gather_object``) and the scoring replays them in dataset order, giving
exactly the numbers of a single process. Frames: boxes in the **ego** frame of the frame, with
``ego_to_global`` (4, 4) to place them in the global frame; BEV maps on the model's
segmentation grid (ego frame); depth in metres along each camera's optical axis at the model
input size.

BEV probabilities are stored as threshold levels: ``level = #{t in thresholds : p >= t}``
(uint8), which keeps every ``p >= t`` decision of the threshold sweep exactly (see
:func:`encode_levels`). Depth is stored only at pixels with ground truth (> 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from perception.data.batch import Sample
from perception.model.prediction import Prediction
from sensors.boxes import Boxes3D
from sensors.classes import EYE_STATES, GAZE_ZONES
from sensors.frame import DriverLabels, Frame


def encode_levels(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """uint8 levels of probabilities: the number of (increasing) ``thresholds`` each value reaches."""
    return np.searchsorted(np.asarray(thresholds, np.float64), np.asarray(probabilities, np.float64),
                           side="right").astype(np.uint8)


def decode_levels(levels: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Probabilities that take the same ``p >= t`` decisions as the encoded ones (level 0 -> 0)."""
    thresholds = np.asarray(thresholds, np.float64)
    return np.where(levels > 0, thresholds[np.maximum(levels.astype(np.int64) - 1, 0)], 0.0)


@dataclass
class DriverObservation:
    """Driver-head output and ground truth of one cabin image.

    Attributes:
        stream: name of the continuous cabin stream (scene) the image belongs to.
        timestamp_s: capture time in seconds.
        eye_closed_p, phone_p: predicted probabilities; gaze_p (8,) zone probabilities;
            head_pose_deg (3,) predicted yaw, pitch, roll in degrees.
        gt: the ground-truth labels.
    """

    stream: str
    timestamp_s: float
    eye_closed_p: float
    gaze_p: np.ndarray
    head_pose_deg: np.ndarray
    phone_p: float
    gt: DriverLabels

    @property
    def gaze_zone(self) -> int:
        """Predicted gaze zone index (argmax)."""
        return int(np.argmax(self.gaze_p))

    def predicted_zone_name(self) -> str:
        """Predicted gaze zone name."""
        return GAZE_ZONES[self.gaze_zone]


@dataclass
class FrameRecord:
    """Everything the scoring needs of one evaluated frame.

    Attributes:
        index: position of the frame in the evaluated dataset (ranks gather out of order).
        token, scene, timestamp_us: identity of the frame.
        ego_to_global: (4, 4) pose of the ego frame.
        pred_boxes, gt_boxes: ego-frame boxes (None where the head / the labels are absent).
        bev_levels: (C, X, Y) uint8 threshold levels of the predicted map (see :func:`encode_levels`).
        bev_gt: (C, X, Y) bool ground-truth map on the segmentation grid, or None.
        depth: camera name -> (predicted, ground truth) float32 metres at the pixels with ground truth.
        driver: the driver-head observation of the frame's cabin image, or None.
        timings_s: stage -> seconds spent on this frame (its batch's time divided by the batch size).
        bev_input: False when the frame had neither a street camera nor LiDAR (no detections, no map).
    """

    index: int
    token: str
    scene: str
    timestamp_us: int
    ego_to_global: np.ndarray
    pred_boxes: Boxes3D | None = None
    gt_boxes: Boxes3D | None = None
    bev_levels: np.ndarray | None = None
    bev_gt: np.ndarray | None = None
    depth: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    driver: DriverObservation | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    bev_input: bool = True


def make_record(index: int, frame: Frame, sample: Sample, prediction: Prediction, cameras: tuple[str, ...],
                thresholds: np.ndarray) -> FrameRecord:
    """The record of one frame from its model inputs/targets (``sample``) and decoded ``prediction``."""
    ann = frame.annotations
    record = FrameRecord(index, frame.token, frame.scene, frame.timestamp, frame.ego_to_global.copy(),
                         pred_boxes=prediction.boxes, gt_boxes=ann.boxes if ann is not None else None,
                         bev_input=prediction.bev_input)
    if prediction.bev_map is not None:
        record.bev_levels = encode_levels(prediction.bev_map, thresholds)
        if sample.has_bev_map:
            record.bev_gt = sample.bev_map.numpy() > 0.5
    if prediction.depth is not None and sample.has_depth:
        for i, name in enumerate(cameras):
            gt = sample.depth[i].numpy()
            known = gt > 0
            if bool(sample.camera_valid[i]) and known.any():
                record.depth[name] = (np.asarray(prediction.depth[name], np.float32)[known], gt[known])
    if prediction.eye_closed is not None and sample.has_driver and ann is not None and ann.driver is not None:
        # the driver labels belong to the cabin image, which has its own time (docs/conventions.md)
        seen = frame.cabin.timestamp if frame.cabin is not None else frame.timestamp
        record.driver = DriverObservation(frame.scene, seen * 1e-6, float(prediction.eye_closed),
                                          np.asarray(prediction.gaze), np.asarray(prediction.head_pose, np.float64),
                                          float(prediction.phone), ann.driver)
    return record


def ground_truth_prediction(frame: Frame, sample: Sample, cameras: tuple[str, ...]) -> Prediction:
    """A perfect :class:`Prediction` of ``frame``: its own ground truth (boxes with LiDAR points,
    the map on the segmentation grid, depth targets, driver labels); tests the scoring plumbing."""
    ann = frame.annotations
    boxes = None
    if ann is not None and ann.boxes is not None:
        boxes = ann.boxes.select(ann.boxes.num_lidar_points != 0)
    depth = {name: sample.depth[i].numpy() for i, name in enumerate(cameras)}
    driver = ann.driver if ann is not None else None
    gaze = None if driver is None else np.eye(len(GAZE_ZONES))[driver.gaze_zone]
    return Prediction(
        boxes=boxes,
        bev_map=sample.bev_map.numpy().astype(np.float32),
        depth=depth,
        eye_closed=None if driver is None else float(driver.eye_state == EYE_STATES.index("closed")),
        gaze=gaze,
        head_pose=None if driver is None else np.asarray(driver.head_pose),
        phone=None if driver is None else float(driver.phone),
    )
