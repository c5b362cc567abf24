"""BEV map segmentation: one sigmoid per :data:`sensors.classes.MAP_CLASSES` on the head's own
map grid, its BCE + dice loss, and decoding to probabilities."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from perception.config import ModelConfig, SegmentationHeadConfig
from perception.data.batch import Batch
from perception.model import losses as L
from perception.model.heads.base import BEV, Features, TaskHead
from perception.model.layers import conv_bn_relu
from perception.model.prediction import Prediction
from perception.mtl.task import TaskLoss
from sensors.classes import MAP_CLASSES
from sensors.frame import BevGrid


def grid_sample_points(src: BevGrid, dst: BevGrid, device: torch.device) -> torch.Tensor:
    """Sampling grid (1, Xd, Yd, 2) for ``F.grid_sample`` of a (C, Xs, Ys) map at the centres of ``dst``.

    ``grid_sample`` reads ``grid[..., 0]`` along the last input axis (Y) and ``grid[..., 1]``
    along the one before (X), normalised so -1 / 1 are the outer edges (align_corners=False).
    """
    xs, ys = dst.cell_centers()
    gx = torch.as_tensor((xs - src.xmin) / (src.xmax - src.xmin) * 2 - 1, dtype=torch.float32, device=device)
    gy = torch.as_tensor((ys - src.ymin) / (src.ymax - src.ymin) * 2 - 1, dtype=torch.float32, device=device)
    gxx, gyy = torch.meshgrid(gx, gy, indexing="ij")
    return torch.stack([gyy, gxx], dim=-1).unsqueeze(0)


def resample_bev(features: torch.Tensor, src: BevGrid, dst: BevGrid) -> torch.Tensor:
    """Bilinear resampling of (B, C, Xs, Ys) features on grid ``src`` at the cell centres of ``dst``
    -> (B, C, Xd, Yd); zeros outside ``src``. Identity when the grids are equal."""
    if src == dst:
        return features
    points = grid_sample_points(src, dst, features.device).expand(features.shape[0], -1, -1, -1)
    return F.grid_sample(features, points.to(features.dtype), mode="bilinear", align_corners=False)


class SegmentationHead(TaskHead):
    """BEV features -> map logits (B, len(MAP_CLASSES), X, Y) on the head's own map grid.

    Two stages: convs on the model's BEV grid (context), then the result is resampled onto the
    map grid (usually finer: 0.5 m for the standard 200 x 200 nuScenes map), concatenated with the
    LiDAR pillar canvas resampled there too (fine detail: painted lines are bright in the LiDAR
    intensity), and refined by ``fine_channels`` convs before the per-class 1x1 classifier.
    """

    name = "segmentation"
    reads = BEV

    def __init__(
        self,
        in_channels: int,
        config: SegmentationHeadConfig,
        bev_grid: BevGrid,
        lidar_channels: int = 0,
        lidar_grid: BevGrid | None = None,
    ) -> None:
        super().__init__()
        if lidar_channels and lidar_grid is None:
            raise ValueError("SegmentationHead: lidar_grid is required with lidar_channels > 0")
        self.config = config
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

    def forward(self, features: Features) -> torch.Tensor:
        """Reads its BEV features (B, Cin, X, Y) on the BEV grid (``features.bev_for``) and ``lidar_canvas`` (B, lidar_channels,
        Xc, Yc) on the LiDAR grid, or None (no LiDAR: zeros) -> logits (B, len(MAP_CLASSES), Xs, Ys)."""
        x = resample_bev(self.net(features.bev_for(self.name)), self.bev_grid, self.grid)
        if self.lidar_channels:
            if features.lidar_canvas is None:
                fine = x.new_zeros((x.shape[0], self.lidar_channels, *x.shape[-2:]))
            else:
                assert self.lidar_grid is not None
                fine = resample_bev(features.lidar_canvas.to(x.dtype), self.lidar_grid, self.grid)
            x = torch.cat([x, fine], dim=1)
        return self.fine(x)

    def loss(self, outputs: Mapping[str, Any], batch: Batch) -> TaskLoss:
        """Per-class BCE + ``dice_weight`` * soft dice; present where the sample has a map label and
        at least one BEV input."""
        per = L.segmentation_loss(outputs[self.name], batch.bev_map, self.config.dice_weight)
        return TaskLoss(per, batch.has_bev_map & (outputs["camera_present"] | outputs["lidar_present"]))

    @classmethod
    def decode(cls, outputs: Mapping[str, Any], predictions: list[Prediction], config: ModelConfig) -> None:
        """``bev_map``: (len(MAP_CLASSES), Xs, Ys) float32 probabilities; None for a sample without BEV input."""
        probs = torch.sigmoid(outputs[cls.name].detach().float()).cpu().numpy()
        for p, m in zip(predictions, probs):
            p.bev_map = m if p.bev_input else None
