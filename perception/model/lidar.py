"""LiDAR branch: hard voxelization into pillars, a PointPillars-style pillar feature net, and
a scatter to a BEV canvas that is downsampled to the model's BEV grid.

Points are (N, 5) float32 in the ego frame: x, y, z (metres), intensity (0-255), time offset (s).
"""
from __future__ import annotations

import math

import torch
from torch import nn

import kernels
from perception.config import LidarConfig
from perception.model.layers import conv_bn_relu
from sensors.frame import BevGrid

#: Raw point columns (x, y, z, intensity / 255, time) + offsets to the pillar mean (3) and centre (3).
POINT_FEATURES = 5 + 3 + 3


def voxelize_clouds(points: list[torch.Tensor], lidar_valid: torch.Tensor, config: LidarConfig) -> kernels.Voxels:
    """Hard voxelization (pillars) of a batch of clouds: B tensors (N_b, 5) and ``lidar_valid`` (B,) bool
    (a sample without LiDAR gives no pillar) -> :class:`kernels.Voxels` with (M, 4) (b, ix, iy, iz) coords."""
    empty = torch.zeros((0, 5), dtype=torch.float32, device=lidar_valid.device)
    clouds = [p.float() if bool(v) else empty for p, v in zip(points, lidar_valid)]
    return kernels.hard_voxelize_batch(clouds, config.voxel_size, config.point_range, config.max_points,
                                       config.max_voxels)


class PillarEncoder(nn.Module):
    """Points -> pillars -> (B, C, X, Y) BEV features on the model's BEV grid.

    :meth:`forward` also returns the pillar canvas itself, on :attr:`canvas_grid` (the voxel grid,
    finer than the BEV grid), for heads that need fine detail (the map head reads paint from the
    LiDAR intensity there).
    """

    def __init__(self, config: LidarConfig, grid: BevGrid) -> None:
        super().__init__()
        self.config = config
        dx, dy, dz = config.voxel_size
        pr = config.point_range
        self.canvas = (round((pr[3] - pr[0]) / dx), round((pr[4] - pr[1]) / dy))
        if not math.isclose(dx, dy):
            raise ValueError(f"lidar.voxel_size: pillars must be square in x and y, got {dx} x {dy}")
        #: The pillar canvas as a grid (ego frame, metres): cell size = the voxel size.
        self.canvas_grid = BevGrid(pr[0], pr[3], pr[1], pr[4], dx)
        self.out_channels = config.channels
        self.pfn = nn.Sequential(nn.Linear(POINT_FEATURES, config.channels, bias=False), nn.BatchNorm1d(config.channels))
        levels = int(round(math.log2(grid.resolution / dx)))
        self.down = nn.Sequential(
            *(conv_bn_relu(config.channels, config.channels, stride=2) for _ in range(levels)),
            conv_bn_relu(config.channels, config.channels),
        )

    def pillar_features(self, voxels: kernels.Voxels) -> torch.Tensor:
        """Per-pillar features (M, C): decorated points -> linear + BN + ReLU -> max over points."""
        feats, coords, num = voxels.features, voxels.coords, voxels.num_points
        m, p, _ = feats.shape
        mask = (torch.arange(p, device=feats.device)[None, :] < num[:, None].long()).unsqueeze(-1).to(feats.dtype)
        xyz = feats[..., :3]
        mean = (xyz * mask).sum(dim=1, keepdim=True) / num.view(-1, 1, 1).to(feats.dtype).clamp(min=1)
        dx, dy, dz = self.config.voxel_size
        pr = self.config.point_range
        size = feats.new_tensor([dx, dy, dz])
        origin = feats.new_tensor(pr[:3])
        centre = origin + (coords[:, 1:4].to(feats.dtype) + 0.5) * size
        decorated = torch.cat(
            [xyz, feats[..., 3:4] / 255.0, feats[..., 4:5], xyz - mean, xyz - centre[:, None, :]], dim=-1
        ) * mask
        x = self.pfn[0](decorated.view(m * p, -1))
        x = torch.relu(self.pfn[1](x)).view(m, p, -1) * mask
        return x.max(dim=1).values

    def forward(self, points: list[torch.Tensor], lidar_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a batch of clouds; samples with ``lidar_valid`` False give a zero canvas.

        Args:
            points: B tensors (N_b, 5) float32 on the model device.
            lidar_valid: (B,) bool.

        Returns:
            bev: (B, C, X, Y) features on the BEV grid.
            canvas: (B, C, Xc, Yc) pillar features on :attr:`canvas_grid` (zeros where no pillar).
        """
        b = len(points)
        device = lidar_valid.device
        c = self.config
        voxels = voxelize_clouds(points, lidar_valid, c)
        if voxels.features.shape[0] < 2:  # BatchNorm needs two values; such a batch has no LiDAR
            canvas = torch.zeros((b, c.channels, *self.canvas), device=device)
        else:
            pillars = self.pillar_features(voxels)  # fp16/bf16 under autocast: the kernels take fp32/fp64
            canvas = kernels.pillar_scatter(pillars.float(), voxels.coords, b, self.canvas)
        return self.down(canvas), canvas
