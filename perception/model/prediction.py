"""Decoded model outputs: the per-sample :class:`Prediction`, and the CenterPoint decoding of
heatmaps + regression to ego-frame :class:`Boxes3D` that the detection head's ``decode`` uses.
(Each head fills its own fields of a :class:`Prediction`: ``perception.model.heads``.)

Decoding inverts :func:`perception.model.targets.build_detection_targets`: the regression values
at a heatmap peak are read with :func:`perception.model.box_coding.decode_boxes`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import kernels
from perception.config import DetectionHeadConfig
from perception.model.box_coding import decode_boxes
from sensors.boxes import Boxes3D
from sensors.frame import BevGrid


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
