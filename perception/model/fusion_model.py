"""The multi-task camera + LiDAR BEV fusion model, assembled from :class:`ModelConfig`.

    street cameras -> ImageEncoder (timm + FPN) [-> adapter] -> LiftSplat (depth bins x context, bev_pool) -> camera BEV
    LiDAR points  -> PillarEncoder (voxelize, PFN, scatter, downsample)                 -> LiDAR BEV
    Fuser(camera BEV, LiDAR BEV, presence flags) -> BEV backbone -> DetectionHead, SegmentationHead
                                          (one backbone, or a branch per BEV task: model.sharing)
                                          (the map head also reads the fine LiDAR pillar canvas)
    FPN features [-> adapter] + LiftSplat depth distribution + image -> DepthHead (dense depth per camera)
                                          (or a distribution of its own: model.sharing.depth_distribution)
                                          (adapters per consumer: model.sharing.image_adapters)
    cabin camera -> the same ImageEncoder backbone (hard sharing) -> DriverHead

A head switched off in the config is not built (single-task baselines); a missing modality
enters the fuser as zeros with its flag off, and training drops a modality per sample with
probability ``modality_dropout`` so that the model answers from either one alone.
"""
from __future__ import annotations

from collections.abc import Collection

import torch
from torch import nn

from perception.config import ModelConfig
from perception.data.batch import Batch, Inputs, cabin_inputs
from perception.model.adapters import ImageAdapters
from perception.model.bev import Fuser
from perception.model.camera import ImageEncoder, LiftSplat
from perception.model.heads import (
    BEV,
    CABIN,
    STREET_CAMERAS,
    DepthHead,
    DetectionHead,
    DriverHead,
    Features,
    SegmentationHead,
    TaskHead,
)
from perception.model.heads.depth import OWN_LOGITS
from perception.model.lidar import PillarEncoder
from perception.model.prediction import Prediction
from perception.model.sharing import build_bev_backbone
from perception.mtl.task import TaskLoss

#: The task heads, in order.
HEADS: tuple[type[TaskHead], ...] = (DetectionHead, SegmentationHead, DepthHead, DriverHead)
#: Task names, in the order of the heads (and of the keys of :meth:`FusionModel.losses`).
TASKS: tuple[str, ...] = tuple(head.name for head in HEADS)
#: Entries of the forward dict only the losses read (depth-bin logits); an exported graph has none.
LOSS_ONLY_OUTPUTS: tuple[str, ...] = ("depth_logits", OWN_LOGITS)


class FusionModel(nn.Module):
    """Camera + LiDAR BEV fusion with detection, segmentation, depth and driver heads.

    ``forward(inputs)`` = :meth:`forward_heads` (:meth:`forward_features` (inputs)); the trunk
    computes only what the requested heads read. :meth:`losses` and :meth:`decode` loop over the
    heads (each a :class:`perception.model.heads.TaskHead`).
    """

    #: What runs the network (``perception.model.network.Network``; ``OnnxRunner`` says "onnxruntime").
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
        self.image_adapters = None
        if config.sharing.image_adapters and self.view_transform is not None:
            assert self.image_encoder is not None
            consumers = ("view_transform", "depth") if heads.depth.enabled else ("view_transform",)
            self.image_adapters = ImageAdapters(self.image_encoder.out_channels, consumers)
        self.lidar_encoder = PillarEncoder(config.lidar, grid) if config.use_lidar else None
        needs_bev = heads.detection.enabled or heads.segmentation.enabled
        self.fuser = self.bev_backbone = None
        if needs_bev:
            cam_c = config.view_transform.channels if config.use_camera else 0
            lid_c = config.lidar.channels if config.use_lidar else 0
            self.fuser = Fuser(cam_c, lid_c, config.bev.fuser_channels)
            bev_tasks = tuple(t for t in ("detection", "segmentation") if getattr(heads, t).enabled)
            self.bev_backbone = build_bev_backbone(config.bev.fuser_channels, config.bev, config.sharing, bev_tasks)
        bev_c = self.bev_backbone.out_channels if self.bev_backbone is not None else 0
        self.heads = nn.ModuleDict()
        if heads.detection.enabled:
            self.heads["detection"] = DetectionHead(bev_c, heads.detection, grid)
        if heads.segmentation.enabled:
            lidar = self.lidar_encoder
            self.heads["segmentation"] = SegmentationHead(
                bev_c, heads.segmentation, grid,
                lidar_channels=lidar.out_channels if lidar is not None else 0,
                lidar_grid=lidar.canvas_grid if lidar is not None else None,
            )
        if heads.depth.enabled:
            assert self.image_encoder is not None and self.view_transform is not None
            self.heads["depth"] = DepthHead(self.image_encoder.out_channels, heads.depth, self.view_transform.bins,
                                            self.image_encoder.stride,
                                            own_distribution=config.sharing.depth_distribution == "own",
                                            lift_supervision=config.sharing.lift_supervision)
        if heads.driver.enabled:
            assert self.image_encoder is not None
            self.heads["driver"] = DriverHead(self.image_encoder.pooled_channels, heads.driver)

    def warm_start(self, fresh: Collection[str]) -> tuple[str, ...]:
        """After loading a checkpoint of a model that lacked some parts (``fresh``: the state-dict
        keys left at their new initialisation), start those that replace a part it had from that
        part: the depth head's own depth distribution (``model.sharing.depth_distribution: own``)
        from the view transform's depth branch, when the first is wholly fresh and the second was
        loaded, and the two read the same features (no ``model.sharing.image_adapters``: with
        them the head reads its own adapter's output, and a copy would predict something else).
        Returns the keys so initialised."""
        depth = self.heads["depth"] if "depth" in self.heads else None
        if depth is None or depth.distribution is None or self.view_transform is None or self.image_adapters is not None:
            return ()
        own = tuple(f"heads.depth.distribution.{k}" for k in depth.distribution.state_dict())
        lift = tuple(f"view_transform.net.{k}" for k in self.view_transform.net.state_dict())
        if not set(own) <= set(fresh) or set(lift) & set(fresh):
            return ()
        depth.copy_distribution_from(self.view_transform.net)
        return own

    @property
    def tasks(self) -> tuple[str, ...]:
        """Names of the heads that are built, in :data:`TASKS` order."""
        return tuple(t for t in TASKS if t in self.heads)

    def _trunk_task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Parameters of the trunk that one task alone reaches: per-task BEV branches and gates,
        the depth head's image adapter."""
        own: dict[str, list[nn.Parameter]] = {}
        if self.bev_backbone is not None:
            own.update(self.bev_backbone.task_parameters())  # type: ignore[operator]
        if self.image_adapters is not None and "depth" in self.image_adapters.adapters:
            own.setdefault("depth", []).extend(self.image_adapters.adapters["depth"].parameters())
        return own

    def shared_parts(self) -> dict[str, list[nn.Parameter]]:
        """:meth:`shared_parameters` by trunk part (parts without any left out): "image encoder"
        (with the view transform's image adapter), "view transform", "LiDAR encoder" and "fuser +
        BEV backbone" (less its per-task parts)."""
        own = {id(p) for ps in self._trunk_task_parameters().values() for p in ps}
        modules = {"image encoder": (self.image_encoder, self.image_adapters), "view transform": (self.view_transform,),
                   "LiDAR encoder": (self.lidar_encoder,), "fuser + BEV backbone": (self.fuser, self.bev_backbone)}
        parts = {name: [p for m in members if m is not None for p in m.parameters() if id(p) not in own]
                 for name, members in modules.items()}
        return {name: params for name, params in parts.items() if params}

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters more than one task's gradient may reach: image encoder, view transform (and
        its image adapter), LiDAR encoder, fuser and the BEV backbone less its per-task parts."""
        return [p for params in self.shared_parts().values() for p in params]

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Parameters only one task reaches, by task name: its head and its parts of the trunk."""
        trunk = self._trunk_task_parameters()
        return {name: [*trunk.get(name, []), *self.heads[name].parameters()] for name in self.tasks}

    def adapt_image_features(self, image_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(view transform input, depth head input) from the shared (B, N, C, h, w) image features:
        each through its adapter (``model.sharing.image_adapters``), else both the features themselves."""
        if self.image_adapters is None:
            return image_features, image_features
        adapted = self.image_adapters(image_features)
        return adapted["view_transform"], adapted.get("depth", image_features)

    def _heads(self, tasks: Collection[str] | None) -> list[TaskHead]:
        """The built heads named in ``tasks`` (None: all), in :data:`TASKS` order.

        Raises:
            ValueError: a task that is not built.
        """
        if tasks is None:
            return [self.heads[t] for t in self.tasks]  # type: ignore[misc]
        unknown = sorted(set(tasks) - set(self.tasks))
        if unknown:
            raise ValueError(f"the model has no {', '.join(unknown)} head; built: {', '.join(self.tasks)}")
        return [self.heads[t] for t in self.tasks if t in tasks]  # type: ignore[misc]

    def _modality_flags(self, inputs: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """(camera_present, lidar_present) (B,) bool after training-time modality dropout."""
        cam = inputs.camera_valid.any(dim=1) if self.config.use_camera else torch.zeros_like(inputs.lidar_valid)
        lid = inputs.lidar_valid.clone() if self.config.use_lidar else torch.zeros_like(inputs.lidar_valid)
        p = self.config.modality_dropout
        if self.training and p > 0 and self.config.use_camera and self.config.use_lidar:
            r = torch.rand(inputs.size, device=cam.device)
            both = cam & lid
            cam = cam & ~(both & (r < p))
            lid = lid & ~(both & (r >= p) & (r < 2 * p))
        return cam, lid

    def _encode_cameras(self, inputs: Inputs) -> torch.Tensor | None:
        """FPN features (B, N, C, h, w) of the valid street cameras (zeros elsewhere), or None."""
        valid = inputs.camera_valid.flatten()
        if self.view_transform is None or not bool(valid.any()):
            return None
        assert self.image_encoder is not None
        b, n = inputs.camera_valid.shape
        idx = valid.nonzero().squeeze(1)
        feats = self.image_encoder(inputs.images.flatten(0, 1)[idx])
        full = feats.new_zeros((b * n, *feats.shape[1:])).index_copy(0, idx, feats)
        return full.view(b, n, *feats.shape[1:])

    def _encode_cabin(self, inputs: Inputs) -> torch.Tensor:
        """Pooled features (B, C) of the cabin images (zeros where there is none)."""
        assert self.image_encoder is not None
        idx = inputs.cabin_valid.nonzero().squeeze(1)
        pooled = inputs.cabin.new_zeros((inputs.size, self.image_encoder.pooled_channels))
        if idx.numel():
            pooled = pooled.index_copy(0, idx, self.image_encoder.pooled(inputs.cabin[idx]).to(pooled.dtype))
        return pooled

    def forward_features(self, inputs: Inputs, tasks: Collection[str] | None = None) -> Features:
        """The shared trunk: what the heads of ``tasks`` (None: all built heads) read.

        Street cameras -> image encoder -> lift-splat (camera BEV, depth logits); LiDAR -> pillar
        encoder (LiDAR BEV, fine canvas); fuser -> BEV backbone; cabin -> pooled image features.
        A part no requested head reads is not run (a cabin-only call runs the image encoder on
        the cabin images alone; a depth-only call lifts the image features to depth logits without
        splatting them into BEV).

        Raises:
            ValueError: a task that is not built.
        """
        reads = {head.reads for head in self._heads(tasks)}
        cam_present, lid_present = self._modality_flags(inputs)
        features = Features(cam_present, lid_present, inputs.images)
        if reads & {BEV, STREET_CAMERAS}:
            features.image_features = self._encode_cameras(inputs)
        camera_bev = None
        if self.view_transform is not None and reads & {BEV, STREET_CAMERAS}:
            if features.image_features is not None:
                for_view, features.image_features = self.adapt_image_features(features.image_features)
                if BEV in reads:
                    camera_bev, features.depth_logits = self.view_transform(
                        for_view, inputs.intrinsics, inputs.cam_to_ego, inputs.camera_valid
                    )
                else:  # street-camera heads alone (depth): the lift's logits, no splat into a BEV nobody reads
                    features.depth_logits = self.view_transform.depth_logits(for_view)
            else:
                camera_bev = inputs.images.new_zeros((inputs.size, self.config.view_transform.channels,
                                                     *self.config.bev.grid.shape))
        if BEV in reads and self.fuser is not None and self.bev_backbone is not None:
            lidar_bev = None
            if self.lidar_encoder is not None:
                lidar_bev, features.lidar_canvas = self.lidar_encoder(inputs.points, lid_present)
            features.set_bev(self.bev_backbone(self.fuser(camera_bev, lidar_bev, cam_present, lid_present)))
        if CABIN in reads:
            features.cabin = self._encode_cabin(inputs)
        return features

    def forward_heads(self, features: Features, tasks: Collection[str] | None = None) -> dict[str, object]:
        """Run the heads of ``tasks`` (None: all built heads) on trunk ``features``.

        Returns a dict with, where run:
            ``detection``: {"heatmap": (B, K, X, Y) logits, "regression": (B, 10, X, Y)};
            ``segmentation``: (B, len(MAP_CLASSES), Xs, Ys) logits on the segmentation grid;
            ``depth``: (B, N, H, W) metres;
            ``depth_logits``: (B, N, D, h, w), the view transform's, whenever it ran on a street camera;
            ``depth_head_logits``: (B, N, D, h, w), the depth head's own distribution
            (``model.sharing.depth_distribution: own``), with ``depth_logits``;
            ``driver``: {"eye": (B, 2), "gaze": (B, 8), "pose": (B, 3) scaled, "phone": (B,) logits};
            ``camera_present``, ``lidar_present``: (B,) bool, the inputs the BEV heads used;
            ``sharing_loss``: scalar regulariser of the BEV sharing module, where it has one.
        """
        out: dict[str, object] = {"camera_present": features.camera_present, "lidar_present": features.lidar_present}
        if features.depth_logits is not None:
            out["depth_logits"] = features.depth_logits
        if features.sharing_loss is not None:
            out["sharing_loss"] = features.sharing_loss
        for head in self._heads(tasks):
            out.update(head.outputs(features))
        return out

    def forward(self, inputs: Inputs, tasks: Collection[str] | None = None) -> dict[str, object]:
        """Run the heads of ``tasks`` (None: every built head); see :meth:`forward_heads`."""
        return self.forward_heads(self.forward_features(inputs, tasks), tasks)

    def driver(self, cabin: torch.Tensor) -> dict[str, object]:
        """:meth:`forward` on cabin images (B, 3, Hc, Wc) alone (``tasks=("driver",)``): the street
        branches do not run; returns the forward dict (``camera_present``, ``lidar_present`` all False).

        Raises:
            ValueError: the model has no driver head.
        """
        return self(cabin_inputs(cabin), tasks=("driver",))

    def losses(self, outputs: dict[str, object], batch: Batch) -> dict[str, TaskLoss]:
        """Per-sample loss and presence mask of every head in ``outputs`` (see each head's ``loss``)."""
        return {head.name: head.loss(outputs, batch) for head in self._heads(None) if head.name in outputs}

    def regularization(self, outputs: dict[str, object]) -> torch.Tensor | None:
        """The scalar the trainer adds to the loss outside the multi-task strategy (the sharing
        module's penalty or balance term, already weighted), or None."""
        reg = outputs.get("sharing_loss")
        return reg if isinstance(reg, torch.Tensor) else None

    def decode(self, outputs: dict[str, object]) -> list[Prediction]:
        """One :class:`Prediction` per sample of a :meth:`forward` result (fields of the heads run).

        A sample the model saw without any BEV input (no street camera and no LiDAR: the BEV heads
        ran on a zero BEV) gets ``bev_input=False``, and the BEV heads give it no boxes and no map.
        """
        return decode_outputs(outputs, self.config)


def decode_outputs(outputs: dict[str, object], config: ModelConfig) -> list[Prediction]:
    """One :class:`Prediction` per sample of a forward dict (of any runtime), each head's fields by
    its ``decode``; a sample without any BEV input gets ``bev_input=False`` (no boxes, no map)."""
    bev_input = (outputs["camera_present"] | outputs["lidar_present"]).cpu().tolist()  # type: ignore[operator]
    predictions = [Prediction(bev_input=bool(seen)) for seen in bev_input]
    for head in HEADS:
        if head.name in outputs:
            head.decode(outputs, predictions, config)
    return predictions
