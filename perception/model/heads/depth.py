"""Dense metric depth per street camera: the expected depth of a depth distribution (the view
transform's, or the head's own) refined with image guidance, its log-L1 + depth-bin loss (the bin
term on the view transform's distribution supervises the lift step as in BEVDepth, Li et al.
2023), and decoding to per-camera depth maps."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from perception.config import DepthHeadConfig, ModelConfig
from perception.data.batch import Batch
from perception.model import losses as L
from perception.model.camera import DepthBins
from perception.model.heads.base import STREET_CAMERAS, Features, TaskHead
from perception.model.layers import conv_bn_relu
from perception.model.prediction import Prediction
from perception.mtl.task import TaskLoss

#: Key of the depth head's own depth-bin logits in the forward dict (``model.sharing.depth_distribution: own``).
OWN_LOGITS = "depth_head_logits"


class DepthHead(TaskHead):
    """Dense metric depth per camera: the expected depth of a distribution over the view
    transform's depth bins, refined in log space, first at the feature stride, then at half the
    image resolution guided by the image itself.

    The distribution is the view transform's (``own_distribution`` False: the lift step and the
    depth task share one distribution, and the BEV losses shape it too) or the head's own, a
    conv + 1x1 conv on the image features with the view transform's structure (True,
    ``model.sharing.depth_distribution: own``: the BEV losses then reach the depth estimate only
    through the image encoder; without ``lift_supervision`` the depth loss does not reach the view
    transform either).

    ``forward(features)`` -> ``{"depth": (B, N, H, W)}`` metres along the optical axis (zeros when no
    street camera is valid), plus the own logits (B, N, D, h, w) under :data:`OWN_LOGITS` where
    there are some; :meth:`outputs` is that dict (through ``__call__``, so module hooks see the head).
    :meth:`refine_depth` does the refinement: stage 1 adds a residual to ``log(expected)`` from the
    features; stage 2 upsamples that log depth to (H/2, W/2), adds a residual from [log depth,
    projected features, a stride-2 conv of the image] (object edges are sharper in the image than
    in the features), and the result is bilinearly upsampled to (H, W). Both residual convs start
    at zero, so an untrained head returns the expected depth.

    Args:
        in_channels: channels of the image features.
        bins: the view transform's depth bins (expected depth, bin targets).
        stride: image pixels per feature pixel.
        own_distribution: predict a depth distribution of its own instead of refining the view
            transform's.
        lift_supervision: the loss's bin cross-entropy also supervises the view transform's
            distribution (always, without a distribution of its own).
    """

    name = "depth"
    reads = STREET_CAMERAS

    def __init__(self, in_channels: int, config: DepthHeadConfig, bins: DepthBins, stride: int,
                 own_distribution: bool = False, lift_supervision: bool = True) -> None:
        super().__init__()
        self.config = config
        self.bins = bins
        self.stride = stride
        self.lift_supervision = lift_supervision or not own_distribution
        self.distribution = (
            nn.Sequential(conv_bn_relu(in_channels, in_channels), nn.Conv2d(in_channels, bins.count, 1))
            if own_distribution else None
        )
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

    def outputs(self, features: Features) -> dict[str, torch.Tensor]:
        return self(features)

    @torch.no_grad()
    def copy_distribution_from(self, lift: nn.Sequential) -> None:
        """Start the own distribution as a copy of the view transform's depth branch (``lift``:
        ``LiftSplat.net``, a conv-BN-ReLU then a 1 x 1 conv whose first D output channels are the
        depth logits), so that the head first predicts exactly what it did when it refined the
        view transform's distribution (fine-tuning a model trained with the shared one).

        Raises:
            ValueError: the head has no distribution of its own.
        """
        if self.distribution is None:
            raise ValueError("the depth head has no depth distribution of its own to initialise")
        self.distribution[0].load_state_dict(lift[0].state_dict())
        d = self.bins.count
        self.distribution[1].weight.copy_(lift[1].weight[:d])
        self.distribution[1].bias.copy_(lift[1].bias[:d])

    def forward(self, features: Features) -> dict[str, torch.Tensor]:
        """``depth`` (B, N, H, W) metres and, with a distribution of its own, :data:`OWN_LOGITS`
        (B, N, D, h, w) (absent when no street camera is valid)."""
        assert features.images is not None
        b, n, _, h, w = features.images.shape
        if features.image_features is None or features.depth_logits is None:
            return {self.name: features.images.new_zeros((b, n, h, w))}
        image_features = features.image_features.flatten(0, 1)
        logits = (features.depth_logits.flatten(0, 1) if self.distribution is None
                  else self.distribution(image_features))
        depth = self.refine_depth(image_features, self.bins.expected(logits), features.images.flatten(0, 1))
        out = {self.name: depth.view(b, n, h, w)}
        if self.distribution is not None:
            out[OWN_LOGITS] = logits.view(b, n, *logits.shape[1:])
        return out

    def refine_depth(self, features: torch.Tensor, expected: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """features (M, C, h, w), expected depth (M, 1, h, w) metres, images (M, 3, H, W) -> (M, H, W) metres."""
        log_depth = torch.log(expected.clamp(min=1e-3))
        coarse = log_depth + self.net(torch.cat([features, log_depth], dim=1))
        guide = self.guide(images)
        half = guide.shape[-2:]
        up = F.interpolate(coarse, size=half, mode="bilinear", align_corners=False)
        context = F.interpolate(self.project(features), size=half, mode="bilinear", align_corners=False)
        refined = up + self.refine(torch.cat([up, context, guide], dim=1))
        full = F.interpolate(refined, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return torch.exp(full).squeeze(1)

    def loss(self, outputs: Mapping[str, Any], batch: Batch) -> TaskLoss:
        """Mean |log depth error| over pixels with a target in (0, ``max_depth``) of valid cameras,
        plus ``bin_weight`` * the cross-entropy of depth bins against the nearest target depth per
        feature pixel, of the view transform's distribution (``depth_logits``, unless
        ``lift_supervision`` is off) and of the head's own (:data:`OWN_LOGITS`), each where present;
        present where the sample has such pixels."""
        cfg = self.config
        target = batch.depth
        camera_valid = batch.camera_valid[:, :, None, None]
        valid = (target > 0) & (target < cfg.max_depth) & camera_valid
        per = L.depth_l1_log(outputs[self.name], target, valid)
        supervised = (OWN_LOGITS, "depth_logits") if self.lift_supervision else (OWN_LOGITS,)
        bins = None
        for logits in (outputs.get(key) for key in supervised):
            if logits is None or cfg.bin_weight <= 0:
                continue
            if bins is None:
                bins = self.target_bins(target * camera_valid, logits.shape[-2:])
            per = per + cfg.bin_weight * L.depth_bin_ce(logits, bins)
        return TaskLoss(per, batch.has_depth & valid.flatten(1).any(1))

    def target_bins(self, target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Depth-bin targets (B, N, h, w) long of depth maps (B, N, H, W) metres (0: none): the bin
        of the nearest target per feature pixel, -1 where there is none or it is outside the bins."""
        h, w = size
        coarse = L.min_pool_depth(target, self.stride)[..., :h, :w]
        bins = self.bins.index(coarse)
        return torch.where(coarse > 0, bins, torch.full_like(bins, -1))

    @classmethod
    def decode(cls, outputs: Mapping[str, Any], predictions: list[Prediction], config: ModelConfig) -> None:
        """``depth``: camera name -> (H, W) float32 metres at the model input size; None for a
        sample the model saw without any street camera."""
        depth = outputs[cls.name].detach().float().cpu().numpy()
        seen = outputs["camera_present"].cpu().numpy()
        for p, d, cameras in zip(predictions, depth, seen):
            p.depth = dict(zip(config.cameras, d)) if cameras else None
