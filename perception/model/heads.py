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


def resample_bev(features: torch.Tensor, src: GridConfig, dst: GridConfig) -> torch.Tensor:
    """Bilinear resampling of (B, C, Xs, Ys) features on grid ``src`` at the cell centres of ``dst``
    -> (B, C, Xd, Yd); zeros outside ``src``. Identity when the grids are equal."""
    if src == dst:
        return features
    points = grid_sample_points(src, dst, features.device).expand(features.shape[0], -1, -1, -1)
    return F.grid_sample(features, points.to(features.dtype), mode="bilinear", align_corners=False)


class SegmentationHead(nn.Module):
    """BEV features -> map logits (B, len(MAP_CLASSES), X, Y) on the head's own map grid.

    Two stages: convs on the model's BEV grid (context), then the result is resampled onto the
    map grid (usually finer: 0.5 m for the standard 200 x 200 nuScenes map), concatenated with the
    LiDAR pillar canvas resampled there too (fine detail: painted lines are bright in the LiDAR
    intensity), and refined by ``fine_channels`` convs before the per-class 1x1 classifier.
    """

    def __init__(
        self,
        in_channels: int,
        config: SegmentationHeadConfig,
        bev_grid: GridConfig,
        lidar_channels: int = 0,
        lidar_grid: GridConfig | None = None,
    ) -> None:
        super().__init__()
        if lidar_channels and lidar_grid is None:
            raise ValueError("SegmentationHead: lidar_grid is required with lidar_channels > 0")
        self.bev_grid = bev_grid
        self.grid = config.grid
        self.lidar_channels = lidar_channels
        self.lidar_grid = lidar_grid
        self.net = nn.Sequential(
            conv_bn_relu(in_channels, config.channels),
            conv_bn_relu(config.channels, config.channels),
        )
        self.fine = nn.Sequential(
            conv_bn_relu(config.channels + lidar_channels, config.fine_channels),
            conv_bn_relu(config.fine_channels, config.fine_channels),
            nn.Conv2d(config.fine_channels, len(MAP_CLASSES), 1),
        )

    def forward(self, bev: torch.Tensor, lidar_canvas: torch.Tensor | None = None) -> torch.Tensor:
        """bev (B, Cin, X, Y) on the BEV grid; lidar_canvas (B, lidar_channels, Xc, Yc) on the
        LiDAR grid, or None (no LiDAR: zeros) -> logits (B, len(MAP_CLASSES), Xs, Ys)."""
        x = resample_bev(self.net(bev), self.bev_grid, self.grid)
        if self.lidar_channels:
            if lidar_canvas is None:
                fine = x.new_zeros((x.shape[0], self.lidar_channels, *x.shape[-2:]))
            else:
                assert self.lidar_grid is not None
                fine = resample_bev(lidar_canvas.to(x.dtype), self.lidar_grid, self.grid)
            x = torch.cat([x, fine], dim=1)
        return self.fine(x)


class DepthHead(nn.Module):
    """Dense metric depth per camera: the view transform's expected depth refined in log space,
    first at the feature stride, then at half the image resolution guided by the image itself.

    ``forward(features (M, C, h, w), expected (M, 1, h, w), images (M, 3, H, W))`` -> (M, H, W)
    metres along the optical axis. Stage 1 adds a residual to ``log(expected)`` from the features;
    stage 2 upsamples that log depth to (H/2, W/2), adds a residual from [log depth, projected
    features, a stride-2 conv of the image] (object edges are sharper in the image than in the
    features), and the result is bilinearly upsampled to (H, W). Both residual convs start at zero,
    so an untrained head returns the expected depth.
    """

    def __init__(self, in_channels: int, config: DepthHeadConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            conv_bn_relu(in_channels + 1, config.channels),
            conv_bn_relu(config.channels, config.channels),
            nn.Conv2d(config.channels, 1, 3, padding=1),
        )
        g = config.guide_channels
        self.guide = conv_bn_relu(3, g, stride=2)
        self.project = nn.Conv2d(in_channels, g, 1)
        self.refine = nn.Sequential(conv_bn_relu(2 * g + 1, g), nn.Conv2d(g, 1, 3, padding=1))
        for residual in (self.net[-1], self.refine[-1]):
            nn.init.zeros_(residual.weight)
            nn.init.zeros_(residual.bias)

    def forward(self, features: torch.Tensor, expected: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        log_depth = torch.log(expected.clamp(min=1e-3))
        coarse = log_depth + self.net(torch.cat([features, log_depth], dim=1))
        guide = self.guide(images)
        half = guide.shape[-2:]
        up = F.interpolate(coarse, size=half, mode="bilinear", align_corners=False)
        context = F.interpolate(self.project(features), size=half, mode="bilinear", align_corners=False)
        refined = up + self.refine(torch.cat([up, context, guide], dim=1))
        full = F.interpolate(refined, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return torch.exp(full).squeeze(1)


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
