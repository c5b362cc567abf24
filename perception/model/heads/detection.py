"""3D detection as CenterPoint (Yin, Zhou, Krähenbühl 2021): class heatmaps and box regression on
the BEV grid, its focal + L1 loss, and box decoding."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from perception.config import DetectionHeadConfig, ModelConfig
from perception.data.batch import Batch
from perception.model import losses as L
from perception.model.box_coding import REGRESSION_CHANNELS
from perception.model.heads.base import BEV, Features, TaskHead
from perception.model.layers import conv_bn_relu
from perception.model.prediction import Prediction, decode_detections
from perception.model.targets import build_detection_targets
from perception.mtl.task import TaskLoss
from sensors.boxes import Boxes3D
from sensors.classes import DETECTION_CLASSES
from sensors.frame import BevGrid


class DetectionHead(TaskHead):
    """BEV features -> {"heatmap": (B, K, X, Y) class logits, "regression": (B, 10, X, Y)} with
    K = len(DETECTION_CLASSES) and the regression layout of :mod:`perception.model.box_coding`."""

    name = "detection"
    reads = BEV

    def __init__(self, in_channels: int, config: DetectionHeadConfig, grid: BevGrid) -> None:
        super().__init__()
        self.config = config
        self.grid = grid
        self.num_classes = len(DETECTION_CLASSES)
        self.shared = conv_bn_relu(in_channels, config.channels)
        self.heatmap = nn.Sequential(conv_bn_relu(config.channels, config.channels), nn.Conv2d(config.channels, self.num_classes, 3, padding=1))
        self.regression = nn.Sequential(conv_bn_relu(config.channels, config.channels), nn.Conv2d(config.channels, len(REGRESSION_CHANNELS), 3, padding=1))
        nn.init.constant_(self.heatmap[-1].bias, -math.log((1 - 0.01) / 0.01))  # prior 0.01 (focal loss)
        self.register_buffer(
            "regression_weights", torch.tensor(config.regression_weights, dtype=torch.float32), persistent=False
        )

    def forward(self, features: Features) -> dict[str, torch.Tensor]:
        x = self.shared(features.bev_for(self.name))
        return {"heatmap": self.heatmap(x), "regression": self.regression(x)}

    def loss(self, outputs: Mapping[str, Any], batch: Batch) -> TaskLoss:
        """``heatmap_weight`` * CenterNet focal loss + ``regression_weight`` * weighted L1 at the
        object cells; present where the sample has box labels and at least one BEV input."""
        cfg = self.config
        out = outputs[self.name]
        targets = build_detection_targets(
            batch.gt_boxes, batch.gt_labels, self.grid, self.num_classes, cfg.min_radius, cfg.min_overlap
        )
        per = cfg.heatmap_weight * L.centernet_focal_loss(out["heatmap"], targets.heatmap)
        per = per + cfg.regression_weight * L.regression_l1(out["regression"], targets, self.regression_weights)
        return TaskLoss(per, batch.has_boxes & (outputs["camera_present"] | outputs["lidar_present"]))

    @classmethod
    def decode(cls, outputs: Mapping[str, Any], predictions: list[Prediction], config: ModelConfig) -> None:
        """``boxes``: ego-frame boxes by :func:`perception.model.prediction.decode_detections`; none
        for a sample without BEV input."""
        out = outputs[cls.name]
        decoded = decode_detections(out["heatmap"], out["regression"], config.bev.grid, config.heads.detection)
        for p, boxes in zip(predictions, decoded):
            p.boxes = boxes if p.bev_input else Boxes3D.empty()
