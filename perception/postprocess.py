"""Decode model outputs: CenterPoint heatmaps + regression to ego-frame :class:`Boxes3D`,
and the other heads to plain per-sample numpy results.

Decoding inverts :func:`perception.model.targets.build_detection_targets`: a peak at cell
(ix, iy) with offset (dx, dy) is a box centred at x = xmin + (ix + dx) * res, likewise y.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import kernels
from perception.config import DetectionHeadConfig, GridConfig, ModelConfig
from sensors.boxes import Boxes3D

#: Smallest decoded box length, width or height (metres).
MIN_BOX_SIZE = 0.01


def decode_detections(
    heatmap: torch.Tensor, regression: torch.Tensor, grid: GridConfig, config: DetectionHeadConfig
) -> list[Boxes3D]:
    """Boxes per sample from heatmap logits (B, K, X, Y) and regression (B, 10, X, Y).

    Local maxima (3x3) of the sigmoid heatmap, top ``max_objects`` over all classes, score
    >= ``score_threshold``, then ``kernels.rotated_nms`` per class at ``nms_iou`` and the best
    ``max_boxes``. Boxes are in the ego frame, scores in [0, 1].

    One bad cell never loses the batch: sizes are clamped to [:data:`MIN_BOX_SIZE`, e^6] metres
    (a log-size of -800 gives a 1 cm box, not a 0 m one that NMS refuses), and a peak whose
    regression or centre is not finite is dropped.
    """
    heat = torch.sigmoid(heatmap.detach().float())
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    b, k, nx, ny = heat.shape
    reg = regression.detach().float().flatten(2)  # (B, 10, X*Y)
    topk = min(config.max_objects, k * nx * ny)
    scores, flat = peaks.flatten(1).topk(topk, dim=1)
    labels = flat // (nx * ny)
    cell = flat % (nx * ny)
    ix, iy = (cell // ny).float(), (cell % ny).float()
    res = grid.resolution
    results = []
    for s in range(b):
        keep = scores[s] >= config.score_threshold
        r = reg[s][:, cell[s][keep]].T.double()  # (n, 10)
        x = grid.xmin + (ix[s][keep].double() + r[:, 0]) * res
        y = grid.ymin + (iy[s][keep].double() + r[:, 1]) * res
        finite = torch.isfinite(r).all(dim=1) & torch.isfinite(x) & torch.isfinite(y)
        r, x, y = r[finite], x[finite], y[finite]
        sc, lab = scores[s][keep][finite].double(), labels[s][keep][finite]
        size = torch.exp(r[:, 3:6].clamp(min=math.log(MIN_BOX_SIZE), max=6.0))
        yaw = torch.atan2(r[:, 6], r[:, 7])
        chosen = []
        for c in torch.unique(lab).tolist():
            idx = (lab == c).nonzero().squeeze(1)
            bev = torch.stack([x[idx], y[idx], size[idx, 0], size[idx, 1], yaw[idx]], dim=1).cpu()
            kept = kernels.rotated_nms(bev, sc[idx].cpu(), config.nms_iou)
            chosen.append(idx.cpu()[kept])
        order = torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.long)
        order = order[torch.argsort(sc.cpu()[order], descending=True, stable=True)][: config.max_boxes]
        o = order.to(r.device)
        results.append(
            Boxes3D(
                center=torch.stack([x[o], y[o], r[o, 2]], dim=1).cpu().numpy(),
                size=size[o].cpu().numpy(),
                yaw=yaw[o].cpu().numpy(),
                velocity=r[o, 8:10].cpu().numpy(),
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


def decode_outputs(outputs: dict[str, object], config: ModelConfig) -> list[Prediction]:
    """Per-sample :class:`Prediction` s of a :meth:`FusionModel.forward` result.

    A sample the model saw without any BEV input (no street camera and no LiDAR: the heads ran on a
    zero BEV) gets ``bev_input=False``, no boxes and no map, as a sample without cameras gets no depth.
    """
    b = int(outputs["camera_present"].shape[0])  # type: ignore[union-attr]
    preds = [Prediction() for _ in range(b)]
    if "lidar_present" in outputs:
        bev_input = (outputs["camera_present"] | outputs["lidar_present"]).cpu().numpy()  # type: ignore[operator]
        for p, seen in zip(preds, bev_input):
            p.bev_input = bool(seen)
    if "detection" in outputs:
        det = outputs["detection"]
        for p, boxes in zip(preds, decode_detections(det["heatmap"], det["regression"], config.bev.grid, config.heads.detection)):  # type: ignore[index]
            p.boxes = boxes if p.bev_input else Boxes3D.empty()
    if "segmentation" in outputs:
        probs = torch.sigmoid(outputs["segmentation"].detach().float()).cpu().numpy()  # type: ignore[union-attr]
        for p, m in zip(preds, probs):
            p.bev_map = m if p.bev_input else None
    if "depth" in outputs:  # a frame the model saw without any street camera has no depth prediction
        depth = outputs["depth"].detach().float().cpu().numpy()  # type: ignore[union-attr]
        seen = outputs["camera_present"].cpu().numpy()  # type: ignore[union-attr]
        for p, d, cameras in zip(preds, depth, seen):
            p.depth = dict(zip(config.cameras, d)) if cameras else None
    if "driver" in outputs:
        drv = outputs["driver"]
        eye = torch.softmax(drv["eye"].detach().float(), 1)[:, 1].cpu().numpy()  # type: ignore[index]
        gaze = torch.softmax(drv["gaze"].detach().float(), 1).cpu().numpy()  # type: ignore[index]
        pose = (drv["pose"].detach().float() * config.heads.driver.pose_scale_deg).cpu().numpy()  # type: ignore[index]
        phone = torch.sigmoid(drv["phone"].detach().float()).cpu().numpy()  # type: ignore[index]
        for i, p in enumerate(preds):
            p.eye_closed, p.gaze, p.head_pose, p.phone = float(eye[i]), gaze[i], pose[i], float(phone[i])
    return preds
