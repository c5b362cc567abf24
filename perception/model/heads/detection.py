"""3D detection as CenterPoint (Yin, Zhou, Krähenbühl 2021): class heatmaps and box regression on
the BEV grid, its focal + L1 loss, and box decoding (:func:`decode_detections`: heatmap peaks, the
regression read with :func:`perception.model.box_coding.decode_boxes`, rotated NMS), which inverts
:func:`perception.model.targets.build_detection_targets`."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import kernels
from perception.config import DetectionHeadConfig, ModelConfig
from perception.data.batch import Batch
from perception.model import losses as L
from perception.model.box_coding import REGRESSION_CHANNELS, decode_boxes
from perception.model.heads.base import BEV, Features, TaskHead
from perception.model.layers import conv_bn_relu
from perception.model.prediction import Prediction
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
        """``boxes``: ego-frame boxes by :func:`decode_detections`; none
        for a sample without BEV input."""
        out = outputs[cls.name]
        decoded = decode_detections(out["heatmap"], out["regression"], config.bev.grid, config.heads.detection)
        for p, boxes in zip(predictions, decoded):
            p.boxes = boxes if p.bev_input else Boxes3D.empty()


def decode_detections(
    heatmap: torch.Tensor, regression: torch.Tensor, grid: BevGrid, config: DetectionHeadConfig
) -> list[Boxes3D]:
    """Boxes per sample from heatmap logits (B, K, X, Y) and regression (B, 10, X, Y).

    Local maxima (3x3) of the sigmoid heatmap, top ``max_objects`` over all classes, score
    >= ``score_threshold``, then ``kernels.rotated_nms`` per class at ``nms_iou`` and the best
    ``max_boxes``. Boxes are in the ego frame, scores in [0, 1].

    One bad cell never loses the batch: sizes are clamped to [``MIN_BOX_SIZE``, e^6] metres
    (:func:`perception.model.box_coding.decode_boxes`), and a peak whose regression or centre is not
    finite is dropped.
    """
    heat = torch.sigmoid(heatmap.detach().float())
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    b, k, nx, ny = heat.shape
    reg = regression.detach().float().flatten(2)  # (B, 10 regression channels, X*Y)
    topk = min(config.max_objects, k * nx * ny)
    scores, flat = peaks.flatten(1).topk(topk, dim=1)
    labels = flat // (nx * ny)
    cell = flat % (nx * ny)
    ix, iy = cell // ny, cell % ny
    results = []
    for s in range(b):
        keep = scores[s] >= config.score_threshold
        r = reg[s][:, cell[s][keep]].T.double()  # (n, 10)
        center, size, yaw, velocity = decode_boxes(ix[s][keep], iy[s][keep], r, grid.xmin, grid.ymin, grid.resolution)
        finite = torch.isfinite(r).all(dim=1) & torch.isfinite(center[:, :2]).all(dim=1)
        center, size, yaw, velocity = center[finite], size[finite], yaw[finite], velocity[finite]
        sc, lab = scores[s][keep][finite].double(), labels[s][keep][finite]
        chosen = []
        for c in torch.unique(lab).tolist():
            idx = (lab == c).nonzero().squeeze(1)
            bev = torch.stack([center[idx, 0], center[idx, 1], size[idx, 0], size[idx, 1], yaw[idx]], dim=1).cpu()
            kept = kernels.rotated_nms(bev, sc[idx].cpu(), config.nms_iou)
            chosen.append(idx.cpu()[kept])
        order = torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.long)
        order = order[torch.argsort(sc.cpu()[order], descending=True, stable=True)][: config.max_boxes]
        o = order.to(r.device)
        results.append(
            Boxes3D(
                center=center[o].cpu().numpy(),
                size=size[o].cpu().numpy(),
                yaw=yaw[o].cpu().numpy(),
                velocity=velocity[o].cpu().numpy(),
                label=lab[o].cpu().numpy(),
                score=sc[o].clamp(0, 1).cpu().numpy(),
            )
        )
    return results
