"""Decoded model outputs: the per-sample :class:`Prediction` (each head fills its own fields by
its ``decode``: ``perception.model.heads``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.boxes import Boxes3D


@dataclass
class Prediction:
    """Decoded outputs of one sample (None where the head is not built).

    boxes: ego-frame boxes; bev_map: (len(MAP_CLASSES), Xs, Ys) float32 probabilities on the
    segmentation grid; depth: camera name -> (H, W) float32 metres at the model input size;
    eye_closed, phone: probabilities; gaze: (8,) probabilities; head_pose: (yaw, pitch, roll) degrees.
    bev_input: False when the model saw neither a street camera nor LiDAR for this sample: it then
    has no detections (empty ``boxes``) and no ``bev_map``.
    """

    bev_input: bool = True
    boxes: Boxes3D | None = None
    bev_map: np.ndarray | None = None
    depth: dict[str, np.ndarray] | None = None
    eye_closed: float | None = None
    gaze: np.ndarray | None = None
    head_pose: np.ndarray | None = None
    phone: float | None = None
