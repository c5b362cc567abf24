"""Per-sample task losses with presence masks (:class:`perception.mtl.task.TaskLoss`).

Each function returns (B,) losses; the caller pairs them with a (B,) presence mask so that a
sample without labels for a task (or without the sensor input the task needs) is left out.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from perception.model.box_coding import VELOCITY
from perception.model.targets import DetectionTargets


def centernet_focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Penalty-reduced focal loss of CenterNet (alpha 2, beta 4) per sample, normalised by the
    sample's number of peaks (at least 1). logits, target: (B, K, X, Y) -> (B,)."""
    logits = logits.float()
    pos = target.eq(1).float()
    log_p = F.logsigmoid(logits)
    log_1mp = F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    pos_loss = log_p * (1 - p) ** 2 * pos
    neg_loss = log_1mp * p**2 * (1 - target) ** 4 * (1 - pos)
    num_pos = pos.flatten(1).sum(1).clamp(min=1)
    return -(pos_loss + neg_loss).flatten(1).sum(1) / num_pos


def regression_l1(
    regression: torch.Tensor, targets: DetectionTargets, weights: torch.Tensor
) -> torch.Tensor:
    """Weighted L1 of the regression map (B, 10, X, Y) at the object cells, per sample, divided
    by the sample's object count (at least 1); the :data:`~perception.model.box_coding.VELOCITY`
    channels only where the velocity is known. ``weights``: (10,) per channel."""
    b, c = regression.shape[:2]
    pred = regression.float().flatten(2).gather(2, targets.index.unsqueeze(1).expand(-1, c, -1)).transpose(1, 2)
    mask = targets.mask.unsqueeze(-1).float().expand(-1, -1, c).clone()
    mask[..., VELOCITY] *= targets.velocity_mask.unsqueeze(-1).float()
    err = (pred - targets.regression).abs() * mask * weights.view(1, 1, -1)
    return err.flatten(1).sum(1) / targets.mask.float().sum(1).clamp(min=1)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float) -> torch.Tensor:
    """Per-class sigmoid BCE (mean over cells and classes) + ``dice_weight`` * (1 - mean soft
    dice over classes). logits, target: (B, C, X, Y) -> (B,)."""
    logits = logits.float()
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).mean(1)
    p = torch.sigmoid(logits).flatten(2)
    t = target.flatten(2)
    dice = (2 * (p * t).sum(2) + 1) / (p.sum(2) + t.sum(2) + 1)
    return bce + dice_weight * (1 - dice.mean(1))


def depth_l1_log(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean |log pred - log target| over valid pixels per sample. (B, N, H, W) -> (B,)."""
    v = valid.float()
    err = (torch.log(pred.float().clamp(min=1e-3)) - torch.log(target.clamp(min=1e-3))).abs() * v
    return err.flatten(1).sum(1) / v.flatten(1).sum(1).clamp(min=1)


def depth_bin_ce(logits: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of depth-bin logits (B, N, D, h, w) against bin indices (B, N, h, w)
    (-1 = ignore), mean over labelled pixels per sample -> (B,)."""
    b, n, d, h, w = logits.shape
    ce = F.cross_entropy(
        logits.float().flatten(0, 1), bins.clamp(min=0).flatten(0, 1), reduction="none"
    ).view(b, n, h, w)
    v = (bins >= 0).float()
    return (ce * v).flatten(1).sum(1) / v.flatten(1).sum(1).clamp(min=1)


def min_pool_depth(depth: torch.Tensor, stride: int) -> torch.Tensor:
    """Nearest valid depth in each stride x stride block: (B, N, H, W) -> (B, N, ceil(H/s), ceil(W/s)); 0 = none."""
    b, n, h, w = depth.shape
    inf = torch.full_like(depth, float("inf"))
    d = torch.where(depth > 0, depth, inf).flatten(0, 1).unsqueeze(1)
    pooled = -F.max_pool2d(-d, stride, stride, ceil_mode=True)
    pooled = torch.where(torch.isfinite(pooled), pooled, torch.zeros_like(pooled))
    return pooled.view(b, n, *pooled.shape[-2:])


def driver_loss(
    outputs: dict[str, torch.Tensor],
    eye_state: torch.Tensor,
    gaze_zone: torch.Tensor,
    head_pose: torch.Tensor,
    phone: torch.Tensor,
    pose_scale_deg: float,
) -> torch.Tensor:
    """CE(eye) + CE(gaze) + L1(head pose / scale, mean of 3) + BCE(phone), per sample -> (B,)."""
    eye = F.cross_entropy(outputs["eye"].float(), eye_state, reduction="none")
    gaze = F.cross_entropy(outputs["gaze"].float(), gaze_zone, reduction="none")
    pose = (outputs["pose"].float() - head_pose / pose_scale_deg).abs().mean(1)
    ph = F.binary_cross_entropy_with_logits(outputs["phone"].float(), phone, reduction="none")
    return eye + gaze + pose + ph
