"""Driver monitoring on the cabin camera: eye state, gaze zone, head pose and phone use, their
summed loss, and decoding to probabilities and degrees."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from perception.config import DriverHeadConfig, ModelConfig
from perception.data.batch import Batch
from perception.model import losses as L
from perception.model.heads.base import CABIN, Features, TaskHead
from perception.model.prediction import Prediction
from perception.mtl.task import TaskLoss
from sensors.classes import EYE_STATES, GAZE_ZONES


class DriverHead(TaskHead):
    """Pooled cabin-image features (B, C) -> {"eye": (B, 2) logits, "gaze": (B, 8) logits,
    "pose": (B, 3) head pose (yaw, pitch, roll) in units of ``pose_scale_deg`` degrees,
    "phone": (B,) logit}."""

    name = "driver"
    reads = CABIN

    def __init__(self, in_channels: int, config: DriverHeadConfig) -> None:
        super().__init__()
        self.pose_scale_deg = config.pose_scale_deg
        self.mlp = nn.Sequential(nn.Linear(in_channels, config.hidden), nn.ReLU(inplace=True))
        self.eye = nn.Linear(config.hidden, len(EYE_STATES))
        self.gaze = nn.Linear(config.hidden, len(GAZE_ZONES))
        self.pose = nn.Linear(config.hidden, 3)
        self.phone = nn.Linear(config.hidden, 1)

    def forward(self, features: Features) -> dict[str, torch.Tensor]:
        assert features.cabin is not None
        h = self.mlp(features.cabin)
        return {"eye": self.eye(h), "gaze": self.gaze(h), "pose": self.pose(h), "phone": self.phone(h).squeeze(1)}

    def loss(self, outputs: Mapping[str, Any], batch: Batch) -> TaskLoss:
        """CE(eye) + CE(gaze) + L1(pose / scale) + BCE(phone); present where the sample has driver
        labels and a cabin image."""
        per = L.driver_loss(outputs[self.name], batch.eye_state, batch.gaze_zone, batch.head_pose, batch.phone,
                            self.pose_scale_deg)
        return TaskLoss(per, batch.has_driver & batch.cabin_valid)

    @classmethod
    def decode(cls, outputs: Mapping[str, Any], predictions: list[Prediction], config: ModelConfig) -> None:
        """``eye_closed``, ``phone``: probabilities; ``gaze``: (8,) probabilities; ``head_pose``:
        (yaw, pitch, roll) degrees."""
        out = outputs[cls.name]
        eye = torch.softmax(out["eye"].detach().float(), 1)[:, 1].cpu().numpy()
        gaze = torch.softmax(out["gaze"].detach().float(), 1).cpu().numpy()
        pose = (out["pose"].detach().float() * config.heads.driver.pose_scale_deg).cpu().numpy()
        phone = torch.sigmoid(out["phone"].detach().float()).cpu().numpy()
        for i, p in enumerate(predictions):
            p.eye_closed, p.gaze, p.head_pose, p.phone = float(eye[i]), gaze[i], pose[i], float(phone[i])
