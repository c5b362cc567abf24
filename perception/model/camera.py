"""Camera branch: a timm image encoder with an FPN neck, and the lift-splat view transform.

Image tensors are (B, 3, H, W) normalised RGB; camera geometry is OpenCV-style (x right,
y down, z forward) with ``cam_to_ego`` (4, 4) to the ego frame (x forward, y left, z up) and
intrinsics K (3, 3) already adjusted to the model's input resolution (see perception/data).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

import kernels
from perception.config import ImageConfig, ViewTransformConfig
from perception.model.layers import conv_bn_relu
from sensors.frame import BevGrid

#: The cabin features are averaged over a POOL_CELLS x POOL_CELLS grid of the deepest level.
POOL_CELLS = 2


def load_local_weights(module: nn.Module, path: str) -> None:
    """Load a LOCAL checkpoint file (a state dict, or a dict holding one under ``state_dict``)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"pretrained backbone weights: {file} is not a local file")
    state = torch.load(file, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    missing = module.load_state_dict(state, strict=False).missing_keys
    if len(missing) == len(module.state_dict()):
        raise ValueError(f"pretrained backbone weights: no parameter of {file} matches the backbone")


class BatchNormStatistics(nn.Module):
    """A second set of running statistics for every BatchNorm layer of ``module``.

    Inside :meth:`active` the layers use (in eval mode) and update (in train mode) these statistics
    instead of their own; the affine weights stay shared. For an encoder that serves two image
    domains through the same weights (street cameras and the infrared cabin camera): with one set
    of statistics, the running averages blend both domains (each training step updates them with
    street batches, then cabin batches) and fit neither at inference, while training itself, which
    normalises by batch statistics, never notices. Buffers: ``mean_<i>``, ``var_<i>``, ``count_<i>``
    for the i-th BatchNorm layer in ``module.modules()`` order.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self._layers = [
            m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        ]
        for i, bn in enumerate(self._layers):
            self.register_buffer(f"mean_{i}", bn.running_mean.detach().clone())
            self.register_buffer(f"var_{i}", bn.running_var.detach().clone())
            self.register_buffer(f"count_{i}", bn.num_batches_tracked.detach().clone())

    @contextmanager
    def active(self) -> Iterator[None]:
        """Swap these statistics into the layers for the duration of the block."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def _swap(self) -> None:
        for i, bn in enumerate(self._layers):
            for mine, theirs in (("mean", "running_mean"), ("var", "running_var"), ("count", "num_batches_tracked")):
                here, there = getattr(self, f"{mine}_{i}"), getattr(bn, theirs)
                setattr(self, f"{mine}_{i}", there)
                setattr(bn, theirs, here)


class ImageEncoder(nn.Module):
    """timm backbone (``features_only``) + FPN; returns features at the finest chosen level.

    ``forward`` gives (B, fpn_channels, H / s, W / s) with s = :attr:`stride`; ``pooled`` gives
    (B, 4 * C_last), the deepest backbone level averaged over a 2 x 2 grid (for the driver head:
    gaze and head pose depend on where things are in the image, which a global average loses).
    With ``separate_cabin_statistics`` the backbone keeps its BatchNorm running statistics for
    ``pooled`` (the cabin camera) apart from those of ``forward`` (street cameras), see
    :class:`BatchNormStatistics`.
    """

    def __init__(self, config: ImageConfig, separate_cabin_statistics: bool = False) -> None:
        super().__init__()
        self.backbone = timm.create_model(
            config.backbone, pretrained=False, features_only=True, out_indices=config.out_indices
        )
        if config.pretrained:
            load_local_weights(self.backbone, config.pretrained)
        channels = self.backbone.feature_info.channels()
        reductions = self.backbone.feature_info.reduction()
        self.stride = int(reductions[0])
        self.pooled_channels = int(channels[-1]) * POOL_CELLS**2
        self.out_channels = config.fpn_channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, config.fpn_channels, 1) for c in channels)
        self.smooth = conv_bn_relu(config.fpn_channels, config.fpn_channels)
        self.cabin_statistics = BatchNormStatistics(self.backbone) if separate_cabin_statistics else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> FPN features (B, fpn_channels, H / s, W / s) at stride s."""
        feats = self.backbone(images)
        top = self.lateral[-1](feats[-1])
        for level in range(len(feats) - 2, -1, -1):
            lateral = self.lateral[level](feats[level])
            top = lateral + F.interpolate(top, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
        return self.smooth(top)

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 4 * C_last): 2 x 2 average pooling of the deepest level (no FPN work)."""
        statistics = self.cabin_statistics.active() if self.cabin_statistics is not None else nullcontext()
        with statistics:
            deepest = self.backbone(images)[-1]
        return F.adaptive_avg_pool2d(deepest, POOL_CELLS).flatten(1)


def pool_geometry(grid: BevGrid, config: ViewTransformConfig) -> kernels.BevPoolGeometry:
    """The BEV pooling geometry: ``grid``'s cells, frustum points kept between ``config.zmin`` and ``zmax``."""
    return kernels.BevPoolGeometry(grid.xmin, grid.ymin, config.zmin, grid.xmax, grid.ymax, config.zmax,
                                   grid.resolution, grid.resolution)


def depth_bin_centres(config: ViewTransformConfig) -> torch.Tensor:
    """(D,) float32 centres (metres) of the ``depth_bins`` equal bins over [depth_min, depth_max)."""
    step = (config.depth_max - config.depth_min) / config.depth_bins
    return config.depth_min + (torch.arange(config.depth_bins, dtype=torch.float32) + 0.5) * step


def frustum_points(intrinsics: torch.Tensor, cam_to_ego: torch.Tensor, bin_centres: torch.Tensor,
                   stride: int, h: int, w: int) -> torch.Tensor:
    """Ego-frame positions (N, D, h, w, 3) float32 (metres) of the depth bins of each feature pixel.

    Args:
        intrinsics: (N, 3, 3) K at the model input resolution; cam_to_ego: (N, 4, 4).
        bin_centres: (D,) depth (metres along the optical axis) of each bin.
        stride: image pixels per feature pixel; h, w: the feature map size.

    Feature pixel (i, j) at stride s covers image pixels [j*s, (j+1)*s) so its centre is
    at u = j*s + (s-1)/2 in OpenCV pixel coordinates (pixel centres at integers).
    """
    dev = intrinsics.device
    k = intrinsics.double()
    s = stride
    u = torch.arange(w, device=dev, dtype=torch.float64) * s + (s - 1) / 2.0
    v = torch.arange(h, device=dev, dtype=torch.float64) * s + (s - 1) / 2.0
    d = bin_centres.to(dev, torch.float64)
    fx, fy = k[:, 0, 0].view(-1, 1, 1, 1), k[:, 1, 1].view(-1, 1, 1, 1)
    cx, cy = k[:, 0, 2].view(-1, 1, 1, 1), k[:, 1, 2].view(-1, 1, 1, 1)
    dd = d.view(1, -1, 1, 1)
    x = (u.view(1, 1, 1, -1) - cx) / fx * dd
    y = (v.view(1, 1, -1, 1) - cy) / fy * dd
    z = dd.expand_as(x + y)
    cam = torch.stack(torch.broadcast_tensors(x, y, z), dim=-1)  # (N, D, h, w, 3)
    t = cam_to_ego.double()
    ego = torch.einsum("nij,ndhwj->ndhwi", t[:, :3, :3], cam) + t[:, None, None, None, :3, 3]
    return ego.float()


class DepthBins(nn.Module):
    """The view transform's D uniform depth bins over [depth_min, depth_max) (metres): their
    centres, the expected depth of a distribution over them, and the bin of a metric depth.

    Shared by :class:`LiftSplat` (which predicts the distribution) and the depth head (which
    refines its expectation and supervises it); holds no parameters.
    """

    def __init__(self, config: ViewTransformConfig) -> None:
        super().__init__()
        self.depth_min, self.depth_max, self.count = config.depth_min, config.depth_max, config.depth_bins
        self.register_buffer("centres", depth_bin_centres(config), persistent=False)

    def expected(self, logits: torch.Tensor) -> torch.Tensor:
        """Expected depth (metres) of a depth distribution: logits (..., D, h, w) -> (..., 1, h, w)."""
        probs = logits.softmax(dim=-3)
        return (probs * self.centres.view(-1, 1, 1)).sum(dim=-3, keepdim=True)

    def index(self, depth: torch.Tensor) -> torch.Tensor:
        """Depth bin (long) of metric depths; -1 outside [depth_min, depth_max) or invalid (<= 0)."""
        step = (self.depth_max - self.depth_min) / self.count
        idx = torch.floor((depth - self.depth_min) / step).long()
        return torch.where((depth >= self.depth_min) & (depth < self.depth_max), idx, torch.full_like(idx, -1))


class LiftSplat(nn.Module):
    """Lift image features to a depth distribution x context, splat them into BEV.

    A 1x1 conv predicts D depth logits and C context channels per feature pixel; the
    softmax over D times the context is summed per BEV cell by ``kernels.bev_pool`` (which
    never materialises the frustum features). Ranks are cached per rig.
    """

    def __init__(self, in_channels: int, config: ViewTransformConfig, grid: BevGrid, stride: int) -> None:
        super().__init__()
        self.config = config
        self.stride = stride
        self.depth_bins = config.depth_bins
        self.channels = config.channels
        self.net = nn.Sequential(
            conv_bn_relu(in_channels, in_channels),
            nn.Conv2d(in_channels, config.depth_bins + config.channels, 1),
        )
        self.bins = DepthBins(config)
        self.pool_grid = pool_geometry(grid, config)
        self.grid_shape = grid.shape
        self.ranks_cache = kernels.BevPoolRanksCache(max_entries=8)

    def lift(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M, Cin, h, w) -> depth logits (M, D, h, w) and context (M, C, h, w)."""
        out = self.net(features)
        return out[:, : self.depth_bins], out[:, self.depth_bins :]

    def depth_logits(self, features: torch.Tensor) -> torch.Tensor:
        """The lift's depth logits alone, without splatting into BEV (a call whose heads read no
        BEV): features (B, N, Cin, h, w) -> (B, N, D, h, w), the ``depth_logits`` of :meth:`forward`."""
        b, n, _, h, w = features.shape
        logits, _ = self.lift(features.flatten(0, 1))
        return logits.view(b, n, self.depth_bins, h, w)

    def distributions(self, features: torch.Tensor, camera_valid: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What the splat pools: features (B, N, Cin, h, w), camera_valid (B, N) bool -> depth logits
        (B, N, D, h, w), depth probabilities (B, N, D, h, w) (zero for invalid cameras) and context
        (B, N, h, w, C) (channel last)."""
        b, n, _, h, w = features.shape
        logits, context = self.lift(features.flatten(0, 1))
        logits = logits.view(b, n, self.depth_bins, h, w)
        probs = logits.softmax(dim=2) * camera_valid.view(b, n, 1, 1, 1).to(logits.dtype)
        context = context.view(b, n, self.channels, h, w).permute(0, 1, 3, 4, 2).contiguous()
        return logits, probs, context

    def frustum(self, intrinsics: torch.Tensor, cam_to_ego: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Ego-frame positions (N, D, h, w, 3) float32 of this transform's depth bins, see :func:`frustum_points`."""
        return frustum_points(intrinsics, cam_to_ego, self.bins.centres, self.stride, h, w)

    def forward(
        self,
        features: torch.Tensor,
        intrinsics: torch.Tensor,
        cam_to_ego: torch.Tensor,
        camera_valid: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool camera features into BEV.

        Args:
            features: (B, N, Cin, h, w) image features.
            intrinsics: (B, N, 3, 3) K at the model input resolution.
            cam_to_ego: (B, N, 4, 4).
            camera_valid: (B, N) bool; invalid cameras contribute nothing.

        Returns:
            bev: (B, C, X, Y) camera BEV features.
            depth_logits: (B, N, D, h, w).
        """
        b, h, w = features.shape[0], features.shape[-2], features.shape[-1]
        logits, probs, context = self.distributions(features, camera_valid)
        bev = features.new_zeros((b, self.channels, *self.grid_shape))
        with torch.no_grad():
            ranks = [
                self.ranks_cache.get(self.frustum(intrinsics[i], cam_to_ego[i], h, w), self.pool_grid)
                for i in range(b)
            ]
        groups: dict[int, list[int]] = {}
        for i, r in enumerate(ranks):
            groups.setdefault(id(r), []).append(i)
        parts = []
        for members in groups.values():
            idx = torch.tensor(members, device=features.device)
            pooled = kernels.bev_pool(probs[idx].float(), context[idx].float(), ranks[members[0]])
            parts.append((idx, pooled))
        if len(parts) == 1:
            return parts[0][1].to(features.dtype), logits
        for idx, pooled in parts:
            bev = bev.index_copy(0, idx, pooled.to(bev.dtype))
        return bev, logits
