"""The exported graph's inputs: which tensors it takes, and how a preprocessed batch becomes them.

The graph starts after the two steps that are data-dependent loops rather than tensor algebra,
as in deployed BEVFusion implementations:

- LiDAR hard voxelization (``kernels.hard_voxelize_batch``, the model's own code) -> pillars;
- the lift-splat pooling ranks: for each sample's camera rig (intrinsics, cam_to_ego) the frustum
  points and the BEV cell each falls in (``kernels.precompute_bev_pool``, cached per rig, as the
  model does), flattened over the batch so that samples with different rigs share one graph call.

:class:`GraphInputBuilder` runs both on a :class:`perception.data.Batch`; the same code feeds the
PyTorch reference of the graph and ONNX Runtime.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

import kernels
from perception.config import ModelConfig
from perception.data.batch import Inputs
from perception.model.camera import depth_bin_centres, frustum_points, pool_geometry
from perception.model.lidar import voxelize_clouds

#: Every input name, in graph order; a graph takes the subset its model needs (:attr:`GraphSpec.input_names`).
CAMERA_INPUTS = ("images", "depth_index", "feat_index", "bev_index")
LIDAR_INPUTS = ("voxels", "voxel_coords", "voxel_num_points")
CABIN_INPUTS = ("cabin", "cabin_valid")
FLAG_INPUTS = ("camera_valid", "lidar_valid")


@dataclass(frozen=True)
class GraphSpec:
    """What the exported graph of a model takes.

    Attributes:
        config: the model configuration.
        stride: image pixels per camera feature pixel (the image encoder's finest level).
        feature_size: (h, w) of the camera feature map at the model's input size.
    """

    config: ModelConfig
    stride: int
    feature_size: tuple[int, int]

    @property
    def has_cameras(self) -> bool:
        """Street cameras enter the graph (the model has a view transform)."""
        return self.config.use_camera

    @property
    def has_lidar(self) -> bool:
        """Pillars enter the graph (the model has a LiDAR branch and a BEV head that reads it)."""
        heads = self.config.heads
        return self.config.use_lidar and (heads.detection.enabled or heads.segmentation.enabled)

    @property
    def has_cabin(self) -> bool:
        """The cabin camera enters the graph (the model has a driver head)."""
        return self.config.heads.driver.enabled

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the graph's inputs, in order."""
        names = FLAG_INPUTS
        if self.has_cameras:
            names += CAMERA_INPUTS
        if self.has_lidar:
            names += LIDAR_INPUTS
        if self.has_cabin:
            names += CABIN_INPUTS
        return names

    @property
    def bev_shape(self) -> tuple[int, int]:
        """(X, Y) cells of the model's BEV grid."""
        return self.config.bev.grid.shape


class GraphInputBuilder:
    """Preprocessed batch -> the graph's input tensors (CPU), by name.

    Inputs (B samples, N street cameras, K pooled frustum points, M pillars of at most P points):
        camera_valid (B, N) bool; lidar_valid (B,) bool;
        images (B, N, 3, H, W) float32 normalised RGB;
        depth_index (K,) int64 into the depth probabilities flattened over (B, N, D, h, w);
        feat_index (K,) int64 into the context flattened over (B, N, h, w);
        bev_index (K,) int64 BEV cell ``(b * X + ix) * Y + iy``, sorted within each sample;
        voxels (M, P, 5) float32 ego-frame x, y, z (m), intensity (0-255), time (s), zero-padded;
        voxel_coords (M, 4) int64 (b, ix, iy, iz); voxel_num_points (M,) int64;
        cabin (B, 3, Hc, Wc) float32; cabin_valid (B,) bool.

    The ranks of each rig are cached (at most ``cache_entries`` rigs), as in the model.
    """

    def __init__(self, spec: GraphSpec, cache_entries: int = 8) -> None:
        self.spec = spec
        vt = spec.config.view_transform
        self.bin_centres = depth_bin_centres(vt)
        self.geometry = pool_geometry(spec.config.bev.grid, vt)
        self.ranks_cache = kernels.BevPoolRanksCache(max_entries=cache_entries)

    def __call__(self, batch: Inputs) -> dict[str, torch.Tensor]:
        spec = self.spec
        batch = batch.to("cpu")
        inputs = {"camera_valid": batch.camera_valid, "lidar_valid": batch.lidar_valid}
        if spec.has_cameras:
            inputs["images"] = batch.images.float()
            inputs.update(self.ranks(batch.intrinsics, batch.cam_to_ego))
        if spec.has_lidar:
            voxels = voxelize_clouds(batch.points, batch.lidar_valid, spec.config.lidar)
            inputs.update(voxels=voxels.features, voxel_coords=voxels.coords.long(),
                          voxel_num_points=voxels.num_points.long())
        if spec.has_cabin:
            inputs.update(cabin=batch.cabin.float(), cabin_valid=batch.cabin_valid)
        return {name: inputs[name].contiguous() for name in spec.input_names}

    def ranks(self, intrinsics: torch.Tensor, cam_to_ego: torch.Tensor) -> dict[str, torch.Tensor]:
        """depth_index, feat_index, bev_index (K,) int64 of a batch of rigs: intrinsics (B, N, 3, 3),
        cam_to_ego (B, N, 4, 4); each sample's ranks offset by its position in the batch."""
        h, w = self.spec.feature_size
        b, n = intrinsics.shape[:2]
        d = self.bin_centres.numel()
        nx, ny = self.spec.bev_shape
        parts: dict[str, list[torch.Tensor]] = {"depth_index": [], "feat_index": [], "bev_index": []}
        for i in range(b):
            frustum = frustum_points(intrinsics[i], cam_to_ego[i], self.bin_centres, self.spec.stride, h, w)
            r = self.ranks_cache.get(frustum, self.geometry)
            parts["depth_index"].append(r.depth_index.long() + i * n * d * h * w)
            parts["feat_index"].append(r.feat_index.long() + i * n * h * w)
            parts["bev_index"].append(r.bev_index.long() + i * nx * ny)
        return {name: torch.cat(values) for name, values in parts.items()}
