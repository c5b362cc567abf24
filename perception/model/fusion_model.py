"""The multi-task camera + LiDAR BEV fusion model, assembled from :class:`ModelConfig`.

    street cameras -> ImageEncoder (timm + FPN) -> LiftSplat (depth bins x context, bev_pool) -> camera BEV
    LiDAR points  -> PillarEncoder (voxelize, PFN, scatter, downsample)                 -> LiDAR BEV
    Fuser(camera BEV, LiDAR BEV, presence flags) -> BevBackbone -> DetectionHead, SegmentationHead
                                          (the map head also reads the fine LiDAR pillar canvas)
    FPN features + LiftSplat depth distribution + image -> DepthHead (dense depth per camera)
    cabin camera -> the same ImageEncoder backbone (hard sharing) -> DriverHead

A head switched off in the config is not built (single-task baselines); a missing modality
enters the fuser as zeros with its flag off, and training drops a modality per sample with
probability ``modality_dropout`` so that the model answers from either one alone.
"""
from __future__ import annotations

import torch
from torch import nn

from perception.config import ModelConfig
from perception.data.batch import Batch
from perception.model import losses as L
from perception.model.bev import BevBackbone, Fuser
from perception.model.camera import ImageEncoder, LiftSplat
from perception.model.heads import DepthHead, DetectionHead, DriverHead, SegmentationHead
from perception.model.lidar import PillarEncoder
from perception.model.targets import build_detection_targets
from perception.mtl.task import TaskLoss

#: Task names, in the order of the keys of :meth:`FusionModel.losses`.
TASKS: tuple[str, ...] = ("detection", "segmentation", "depth", "driver")


class FusionModel(nn.Module):
    """Camera + LiDAR BEV fusion with detection, segmentation, depth and driver heads."""

    #: What runs the network (``perception.export.Network``; ``OnnxRunner`` says "onnxruntime").
    runtime = "torch"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        heads = config.heads
        grid = config.bev.grid
        needs_images = config.use_camera or heads.driver.enabled
        # street and cabin images are different domains: one set of BatchNorm statistics each
        self.image_encoder = (
            ImageEncoder(config.image, separate_cabin_statistics=config.use_camera and heads.driver.enabled)
            if needs_images else None
        )
        self.view_transform = None
        if config.use_camera:
            assert self.image_encoder is not None
            self.view_transform = LiftSplat(
                self.image_encoder.out_channels, config.view_transform, grid, self.image_encoder.stride
            )
        self.lidar_encoder = PillarEncoder(config.lidar, grid) if config.use_lidar else None
        needs_bev = heads.detection.enabled or heads.segmentation.enabled
        self.fuser = self.bev_backbone = None
        if needs_bev:
            cam_c = config.view_transform.channels if config.use_camera else 0
            lid_c = config.lidar.channels if config.use_lidar else 0
            self.fuser = Fuser(cam_c, lid_c, config.bev.fuser_channels)
            self.bev_backbone = BevBackbone(config.bev.fuser_channels, config.bev)
        bev_c = self.bev_backbone.out_channels if self.bev_backbone is not None else 0
        self.heads = nn.ModuleDict()
        if heads.detection.enabled:
            self.heads["detection"] = DetectionHead(bev_c, heads.detection)
        if heads.segmentation.enabled:
            lidar = self.lidar_encoder
            self.heads["segmentation"] = SegmentationHead(
                bev_c, heads.segmentation, grid,
                lidar_channels=lidar.out_channels if lidar is not None else 0,
                lidar_grid=lidar.canvas_grid if lidar is not None else None,
            )
        if heads.depth.enabled:
            assert self.image_encoder is not None
            self.heads["depth"] = DepthHead(self.image_encoder.out_channels, heads.depth)
        if heads.driver.enabled:
            assert self.image_encoder is not None
            self.heads["driver"] = DriverHead(self.image_encoder.pooled_channels, heads.driver)
        self.register_buffer(
            "regression_weights", torch.tensor(heads.detection.regression_weights, dtype=torch.float32), persistent=False
        )

    @property
    def tasks(self) -> tuple[str, ...]:
        """Names of the heads that are built, in :data:`TASKS` order."""
        return tuple(t for t in TASKS if t in self.heads)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters every task's gradient may reach: image encoder, view transform, LiDAR
        encoder, fuser and BEV backbone."""
        parts = (self.image_encoder, self.view_transform, self.lidar_encoder, self.fuser, self.bev_backbone)
        return [p for m in parts if m is not None for p in m.parameters()]

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Parameters of each built head, by task name."""
        return {name: list(self.heads[name].parameters()) for name in self.tasks}

    def _modality_flags(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(camera_present, lidar_present) (B,) bool after training-time modality dropout."""
        cam = batch.camera_valid.any(dim=1) if self.config.use_camera else torch.zeros_like(batch.lidar_valid)
        lid = batch.lidar_valid.clone() if self.config.use_lidar else torch.zeros_like(batch.lidar_valid)
        p = self.config.modality_dropout
        if self.training and p > 0 and self.config.use_camera and self.config.use_lidar:
            r = torch.rand(batch.size, device=cam.device)
            both = cam & lid
            cam = cam & ~(both & (r < p))
            lid = lid & ~(both & (r >= p) & (r < 2 * p))
        return cam, lid

    def _encode_cameras(self, batch: Batch) -> torch.Tensor | None:
        """FPN features (B, N, C, h, w) of the valid street cameras (zeros elsewhere), or None."""
        valid = batch.camera_valid.flatten()
        if self.view_transform is None or not bool(valid.any()):
            return None
        assert self.image_encoder is not None
        b, n = batch.camera_valid.shape
        idx = valid.nonzero().squeeze(1)
        feats = self.image_encoder(batch.images.flatten(0, 1)[idx])
        full = feats.new_zeros((b * n, *feats.shape[1:])).index_copy(0, idx, feats)
        return full.view(b, n, *feats.shape[1:])

    def forward(self, batch: Batch) -> dict[str, object]:
        """Run every built head.

        Returns a dict with, where built:
            ``detection``: {"heatmap": (B, K, X, Y) logits, "regression": (B, 10, X, Y)};
            ``segmentation``: (B, len(MAP_CLASSES), Xs, Ys) logits on the segmentation grid;
            ``depth``: (B, N, H, W) metres; ``depth_logits``: (B, N, D, h, w);
            ``driver``: {"eye": (B, 2), "gaze": (B, 8), "pose": (B, 3) scaled, "phone": (B,) logits};
            ``camera_present``, ``lidar_present``: (B,) bool, the inputs the BEV heads used.
        """
        cam_present, lid_present = self._modality_flags(batch)
        out: dict[str, object] = {"camera_present": cam_present, "lidar_present": lid_present}
        features = self._encode_cameras(batch)
        camera_bev = depth_logits = None
        grid_shape = self.config.bev.grid.shape
        if self.view_transform is not None:
            if features is not None:
                camera_bev, depth_logits = self.view_transform(
                    features, batch.intrinsics, batch.cam_to_ego, batch.camera_valid
                )
            else:
                camera_bev = batch.images.new_zeros((batch.size, self.config.view_transform.channels, *grid_shape))
        if self.fuser is not None and self.bev_backbone is not None:
            lidar_bev = lidar_canvas = None
            if self.lidar_encoder is not None:
                lidar_bev, lidar_canvas = self.lidar_encoder(batch.points, lid_present)
            bev = self.bev_backbone(self.fuser(camera_bev, lidar_bev, cam_present, lid_present))
            if "detection" in self.heads:
                out["detection"] = self.heads["detection"](bev)
            if "segmentation" in self.heads:
                out["segmentation"] = self.heads["segmentation"](bev, lidar_canvas)
        if "depth" in self.heads:
            b, n, _, h, w = batch.images.shape
            if features is not None and depth_logits is not None and self.view_transform is not None:
                expected = self.view_transform.expected_depth(depth_logits.flatten(0, 1))
                depth = self.heads["depth"](features.flatten(0, 1), expected, batch.images.flatten(0, 1))
                out["depth"] = depth.view(b, n, h, w)
                out["depth_logits"] = depth_logits
            else:
                out["depth"] = batch.images.new_zeros((b, n, h, w))
        if "driver" in self.heads:
            assert self.image_encoder is not None
            idx = batch.cabin_valid.nonzero().squeeze(1)
            pooled = batch.cabin.new_zeros((batch.size, self.image_encoder.pooled_channels))
            if idx.numel():
                pooled = pooled.index_copy(0, idx, self.image_encoder.pooled(batch.cabin[idx]).to(pooled.dtype))
            out["driver"] = self.heads["driver"](pooled)
        return out

    def driver(self, cabin: torch.Tensor) -> dict[str, torch.Tensor]:
        """Driver-head outputs (as in :meth:`forward`) of cabin images (B, 3, Hc, Wc), without the
        street branches.

        Raises:
            ValueError: the model has no driver head.
        """
        if "driver" not in self.heads or self.image_encoder is None:
            raise ValueError("the model has no driver-monitoring head")
        return self.heads["driver"](self.image_encoder.pooled(cabin))

    def losses(self, outputs: dict[str, object], batch: Batch) -> dict[str, TaskLoss]:
        """Per-sample loss and presence mask of every built head (see :mod:`perception.model.losses`).

        Presence: detection / segmentation need their labels and at least one BEV input;
        depth needs a depth target and camera input; driver needs labels and a cabin image.
        """
        heads = self.config.heads
        cam, lid = outputs["camera_present"], outputs["lidar_present"]
        bev_input = cam | lid  # type: ignore[operator]
        result: dict[str, TaskLoss] = {}
        if "detection" in self.heads:
            det = outputs["detection"]
            targets = build_detection_targets(
                batch.gt_boxes, batch.gt_labels, self.config.bev.grid, self.heads["detection"].num_classes,
                heads.detection.min_radius, heads.detection.min_overlap,
            )
            per = heads.detection.heatmap_weight * L.centernet_focal_loss(det["heatmap"], targets.heatmap)
            per = per + heads.detection.regression_weight * L.regression_l1(
                det["regression"], targets, self.regression_weights
            )
            result["detection"] = TaskLoss(per, batch.has_boxes & bev_input)
        if "segmentation" in self.heads:
            per = L.segmentation_loss(outputs["segmentation"], batch.bev_map, heads.segmentation.dice_weight)
            result["segmentation"] = TaskLoss(per, batch.has_bev_map & bev_input)
        if "depth" in self.heads:
            result["depth"] = self._depth_loss(outputs, batch)
        if "driver" in self.heads:
            per = L.driver_loss(
                outputs["driver"], batch.eye_state, batch.gaze_zone, batch.head_pose, batch.phone,
                heads.driver.pose_scale_deg,
            )
            result["driver"] = TaskLoss(per, batch.has_driver & batch.cabin_valid)
        return result

    def _depth_loss(self, outputs: dict[str, object], batch: Batch) -> TaskLoss:
        cfg = self.config.heads.depth
        target = batch.depth
        valid = (target > 0) & (target < cfg.max_depth) & batch.camera_valid[:, :, None, None]
        per = L.depth_l1_log(outputs["depth"], target, valid)
        logits = outputs.get("depth_logits")
        if logits is not None and cfg.bin_weight > 0 and self.view_transform is not None:
            coarse = L.min_pool_depth(target * batch.camera_valid[:, :, None, None], self.view_transform.stride)
            h, w = logits.shape[-2:]
            bins = self.view_transform.bin_index(coarse[..., :h, :w])
            bins = torch.where(coarse[..., :h, :w] > 0, bins, torch.full_like(bins, -1))
            per = per + cfg.bin_weight * L.depth_bin_ce(logits, bins)
        present = batch.has_depth & valid.flatten(1).any(1)
        return TaskLoss(per, present)
