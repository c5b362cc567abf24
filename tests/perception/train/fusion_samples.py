"""Random but well-formed :class:`perception.data.Sample` s for fast trainer tests of the real model."""
from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset

from perception.config import ModelConfig
from perception.data import Sample
from sensors.classes import MAP_CLASSES


def _cam_to_ego(yaw: float) -> torch.Tensor:
    """Camera (x right, y down, z forward) looking along ego yaw ``yaw``, 1.5 m up."""
    c, s = math.cos(yaw), math.sin(yaw)
    forward, left, up = torch.tensor([c, s, 0.0]), torch.tensor([-s, c, 0.0]), torch.tensor([0.0, 0.0, 1.0])
    pose = torch.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = -left, -up, forward
    pose[:3, 3] = torch.tensor([1.0, 0.0, 1.5])
    return pose


class RandomSamples(Dataset[Sample]):
    """``size`` samples with every task labelled, except the driver labels of every third sample."""

    def __init__(self, config: ModelConfig, size: int = 6, seed: int = 0) -> None:
        self.config, self.size, self.seed = config, size, seed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Sample:
        g = torch.Generator().manual_seed(self.seed * 1000 + index)
        cfg = self.config
        n, h, w = len(cfg.cameras), cfg.image.height, cfg.image.width
        seg = cfg.heads.segmentation.grid.shape
        k = torch.tensor([[w / 2.0, 0.0, w / 2.0], [0.0, w / 2.0, h / 2.0], [0.0, 0.0, 1.0]])
        points = torch.rand(500, 5, generator=g) * torch.tensor([50.0, 50.0, 4.0, 255.0, 0.0]) - torch.tensor(
            [25.0, 25.0, 2.0, 0.0, 0.0]
        )
        depth = torch.rand(n, h, w, generator=g) * 40.0 * (torch.rand(n, h, w, generator=g) < 0.1)
        boxes = torch.tensor([[8.0, 2.0, 0.8, 4.5, 1.9, 1.6, 0.3, 2.0, 0.0], [-6.0, -3.0, 0.9, 0.7, 0.7, 1.8, 0.0, 0.5, 0.5]])
        return Sample(
            token=f"random-{index}",
            images=torch.randn(n, 3, h, w, generator=g),
            camera_valid=torch.ones(n, dtype=torch.bool),
            intrinsics=k.expand(n, 3, 3).clone(),
            cam_to_ego=torch.stack([_cam_to_ego(2 * math.pi * i / n) for i in range(n)]),
            points=points,
            lidar_valid=True,
            cabin=torch.randn(3, cfg.image.cabin_height, cfg.image.cabin_width, generator=g),
            cabin_valid=True,
            gt_boxes=boxes,
            gt_labels=torch.tensor([0, 5]),
            has_boxes=True,
            bev_map=(torch.rand(len(MAP_CLASSES), *seg, generator=g) < 0.3).float(),
            has_bev_map=True,
            depth=depth,
            has_depth=True,
            eye_state=index % 2,
            gaze_zone=index % 8,
            head_pose=torch.randn(3, generator=g) * 10.0,
            phone=index % 4 == 0,
            has_driver=index % 3 != 2,
        )
