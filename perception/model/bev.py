"""BEV stages: the camera/LiDAR fuser, a SECOND-like BEV backbone and its upsample-concat neck.

All BEV tensors are (B, C, X, Y): X along ego +x (forward), Y along ego +y (left).
"""
from __future__ import annotations

import torch
from torch import nn

from perception.config import BevConfig
from perception.model.layers import conv_bn_relu


class Fuser(nn.Module):
    """BEVFusion-style fuser: concat(camera BEV, LiDAR BEV, presence flags) -> conv.

    A missing modality enters as zeros with its flag channel at 0, so the conv can learn to
    answer from the other modality alone (trained with modality dropout).
    """

    def __init__(self, camera_channels: int, lidar_channels: int, out_channels: int) -> None:
        super().__init__()
        self.camera_channels = camera_channels
        self.lidar_channels = lidar_channels
        flags = int(camera_channels > 0) + int(lidar_channels > 0)
        self.conv = nn.Sequential(
            conv_bn_relu(camera_channels + lidar_channels + flags, out_channels),
            conv_bn_relu(out_channels, out_channels),
        )

    def forward(
        self,
        camera_bev: torch.Tensor | None,
        lidar_bev: torch.Tensor | None,
        camera_present: torch.Tensor,
        lidar_present: torch.Tensor,
    ) -> torch.Tensor:
        """Fuse; ``*_present`` (B,) bool zero out a sample's missing branch."""
        parts = []
        for bev, present in ((camera_bev, camera_present), (lidar_bev, lidar_present)):
            if bev is None:
                continue
            flag = present.to(bev.dtype).view(-1, 1, 1, 1)
            parts += [bev * flag, flag.expand(-1, 1, *bev.shape[-2:])]
        return self.conv(torch.cat(parts, dim=1))


class BevBackbone(nn.Module):
    """Conv stages (stride 1 or 2 each) and a neck that upsamples every stage to stride 1 and
    concatenates them; output (B, neck_channels * stages, X, Y)."""

    def __init__(self, in_channels: int, config: BevConfig) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        self.ups = nn.ModuleList()
        cin, total = in_channels, 1
        for layers, channels, stride in zip(config.layers, config.channels, config.strides):
            blocks = [conv_bn_relu(cin, channels, stride=stride)]
            blocks += [conv_bn_relu(channels, channels) for _ in range(layers - 1)]
            self.stages.append(nn.Sequential(*blocks))
            total *= stride
            if total == 1:
                up = nn.Conv2d(channels, config.neck_channels, 1, bias=False)
            else:
                up = nn.ConvTranspose2d(channels, config.neck_channels, total, stride=total, bias=False)
            self.ups.append(nn.Sequential(up, nn.BatchNorm2d(config.neck_channels), nn.ReLU(inplace=True)))
            cin = channels
        self.out_channels = config.neck_channels * len(config.layers)

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """None: one backbone read by every BEV task (hard sharing)."""
        return {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for stage, up in zip(self.stages, self.ups):
            x = stage(x)
            outs.append(up(x))
        return torch.cat(outs, dim=1)
