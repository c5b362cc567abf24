"""The four task heads: detection (CenterPoint), BEV segmentation, depth, driver monitoring."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from perception.config import (
    DepthHeadConfig,
    DetectionHeadConfig,
    DriverHeadConfig,
    GridConfig,
    SegmentationHeadConfig,
)
from perception.model.camera import conv_bn_relu
from perception.model.targets import REGRESSION_CHANNELS
from sensors.classes import DETECTION_CLASSES, GAZE_ZONES, EYE_STATES, MAP_CLASSES


class DetectionHead(nn.Module):
    """BEV features -> class heatmap logits (B, K, X, Y) and regression (B, 10, X, Y)."""

    def __init__(self, in_channels: int, config: DetectionHeadConfig) -> None:
        super().__init__()
        self.num_classes = len(DETECTION_CLASSES)
        self.shared = conv_bn_relu(in_channels, config.channels)
        self.heatmap = nn.Sequential(conv_bn_relu(config.channels, config.channels), nn.Conv2d(config.channels, self.num_classes, 3, padding=1))
        self.regression = nn.Sequential(conv_bn_relu(config.channels, config.channels), nn.Conv2d(config.channels, len(REGRESSION_CHANNELS), 3, padding=1))
        nn.init.constant_(self.heatmap[-1].bias, -math.log((1 - 0.01) / 0.01))  # prior 0.01 (focal loss)

    def forward(self, bev: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.shared(bev)
        return {"heatmap": self.heatmap(x), "regression": self.regression(x)}


def grid_sample_points(src: GridConfig, dst: GridConfig, device: torch.device) -> torch.Tensor:
    """Sampling grid (1, Xd, Yd, 2) for ``F.grid_sample`` of a (C, Xs, Ys) map at the centres of ``dst``.

    ``grid_sample`` reads ``grid[..., 0]`` along the last input axis (Y) and ``grid[..., 1]``
    along the one before (X), normalised so -1 / 1 are the outer edges (align_corners=False).
    """
    xs, ys = dst.to_bev_grid().cell_centers()
    gx = torch.as_tensor((xs - src.xmin) / (src.xmax - src.xmin) * 2 - 1, dtype=torch.float32, device=device)
    gy = torch.as_tensor((ys - src.ymin) / (src.ymax - src.ymin) * 2 - 1, dtype=torch.float32, device=device)
    gxx, gyy = torch.meshgrid(gx, gy, indexing="ij")
    return torch.stack([gyy, gxx], dim=-1).unsqueeze(0)


class SegmentationHead(nn.Module):
    """BEV features -> map logits (B, len(MAP_CLASSES), X, Y) on the head's own map grid."""

    def __init__(self, in_channels: int, config: SegmentationHeadConfig, bev_grid: GridConfig) -> None:
        super().__init__()
        self.bev_grid = bev_grid
        self.grid = config.grid
        self.net = nn.Sequential(
            conv_bn_relu(in_channels, config.channels),
            conv_bn_relu(config.channels, config.channels),
            nn.Conv2d(config.channels, len(MAP_CLASSES), 1),
        )

    def forward(self, bev: torch.Tensor) -> torch.Tensor:
        logits = self.net(bev)
        if self.grid == self.bev_grid:
            return logits
        points = grid_sample_points(self.bev_grid, self.grid, bev.device).expand(bev.shape[0], -1, -1, -1)
        return F.grid_sample(logits, points.to(logits.dtype), mode="bilinear", align_corners=False)


class DepthHead(nn.Module):
    """Dense metric depth per camera: the view transform's expected depth refined in log space.

    ``forward(features (M, C, h, w), expected (M, 1, h, w), size (H, W))`` -> (M, H, W) metres:
    ``expected * exp(residual)``, bilinearly upsampled to the image size.
    """

    def __init__(self, in_channels: int, config: DepthHeadConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            conv_bn_relu(in_channels + 1, config.channels),
            conv_bn_relu(config.channels, config.channels),
            nn.Conv2d(config.channels, 1, 3, padding=1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, features: torch.Tensor, expected: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        log_depth = torch.log(expected.clamp(min=1e-3))
        refined = log_depth + self.net(torch.cat([features, log_depth], dim=1))
        up = F.interpolate(refined, size=size, mode="bilinear", align_corners=False)
        return torch.exp(up).squeeze(1)


class DriverHead(nn.Module):
    """Pooled cabin-image features (B, C) -> eye-state logits (B, 2), gaze logits (B, 8),
    head pose (B, 3) in units of ``pose_scale_deg`` degrees (yaw, pitch, roll), phone logit (B,)."""

    def __init__(self, in_channels: int, config: DriverHeadConfig) -> None:
        super().__init__()
        self.pose_scale_deg = config.pose_scale_deg
        self.mlp = nn.Sequential(nn.Linear(in_channels, config.hidden), nn.ReLU(inplace=True))
        self.eye = nn.Linear(config.hidden, len(EYE_STATES))
        self.gaze = nn.Linear(config.hidden, len(GAZE_ZONES))
        self.pose = nn.Linear(config.hidden, 3)
        self.phone = nn.Linear(config.hidden, 1)

    def forward(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.mlp(pooled)
        return {"eye": self.eye(h), "gaze": self.gaze(h), "pose": self.pose(h), "phone": self.phone(h).squeeze(1)}
