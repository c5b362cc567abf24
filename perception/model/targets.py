"""CenterPoint detection targets: Gaussian class heatmaps and per-object regression targets.

Boxes are ego-frame tensors (N, 9): x, y, z (centre, metres), length, width, height (metres),
yaw (rad), vx, vy (m/s, NaN where unknown), with labels (N,). The heatmap grid is the model's
BEV grid; the regression values follow :mod:`perception.model.box_coding`. Every box of the
batch is encoded at once (no Python loop over boxes).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from perception.model.box_coding import REGRESSION_CHANNELS, encode_boxes
from sensors.frame import BevGrid


def gaussian_radius(height: torch.Tensor, width: torch.Tensor, min_overlap: float) -> torch.Tensor:
    """CenterNet radius (cells) within which a shifted box keeps IoU >= ``min_overlap``, per box.

    The smallest root of the three cases of CornerNet/CenterNet (both corners shifted inward,
    outward, or one each), with ``height`` and ``width`` (n,) the box extents in cells, as
    CenterNet and CenterPoint compute it (roots halved, not divided by 2a).
    """
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + torch.sqrt(b2**2 - 4 * 4 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return torch.minimum(torch.minimum(r1, r2), r3)


def splat_gaussians(heatmap: torch.Tensor, sample: torch.Tensor, label: torch.Tensor, ix: torch.Tensor,
                    iy: torch.Tensor, radius: torch.Tensor) -> None:
    """Max-splat one Gaussian per object into ``heatmap`` (B, K, X, Y) in place: peak 1 at cell
    (ix, iy) of map (sample, label), sigma = (2r + 1) / 6, cut to the (2r + 1)^2 square and the grid.
    All index tensors are (n,) long."""
    if not len(ix):
        return
    b, k, nx, ny = heatmap.shape
    reach = int(radius.max())
    offsets = torch.arange(-reach, reach + 1)
    dx, dy = offsets.view(1, -1, 1), offsets.view(1, 1, -1)
    r = radius.view(-1, 1, 1)
    sigma = (2 * r + 1).double() / 6.0
    values = torch.exp(-(dx**2 + dy**2).to(heatmap.dtype) / (2 * sigma**2).to(heatmap.dtype))
    x, y = ix.view(-1, 1, 1) + dx, iy.view(-1, 1, 1) + dy
    keep = (dx.abs() <= r) & (dy.abs() <= r) & (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    flat = ((sample.view(-1, 1, 1) * k + label.view(-1, 1, 1)) * nx + x) * ny + y
    heatmap.view(-1).scatter_reduce_(0, flat[keep], values.expand_as(keep)[keep], reduce="amax")


@dataclass
class DetectionTargets:
    """Targets of a batch.

    heatmap: (B, K, X, Y) float in [0, 1]; index: (B, M) long flat cell ``ix * Y + iy``;
    regression: (B, M, 10) (:mod:`perception.model.box_coding`); mask: (B, M) bool (real objects);
    velocity_mask: (B, M) bool (objects with a known velocity); labels: (B, M) long.
    """

    heatmap: torch.Tensor
    index: torch.Tensor
    regression: torch.Tensor
    mask: torch.Tensor
    velocity_mask: torch.Tensor
    labels: torch.Tensor


def build_detection_targets(
    boxes: list[torch.Tensor],
    labels: list[torch.Tensor],
    grid: BevGrid,
    num_classes: int,
    min_radius: int,
    min_overlap: float,
) -> DetectionTargets:
    """Encode the GT boxes of each sample (centre outside the grid: ignored); object ``j`` of
    sample ``s`` is slot ``j``. Computed on the CPU in float64, returned on the boxes' device."""
    nx, ny = grid.shape
    b = len(boxes)
    device = boxes[0].device if b else torch.device("cpu")
    m = max([1] + [len(x) for x in boxes])
    heatmap = torch.zeros((b, num_classes, nx, ny))
    index = torch.zeros((b, m), dtype=torch.long)
    regression = torch.zeros((b, m, len(REGRESSION_CHANNELS)))
    mask = torch.zeros((b, m), dtype=torch.bool)
    vmask = torch.zeros((b, m), dtype=torch.bool)
    lab = torch.zeros((b, m), dtype=torch.long)
    if b and sum(len(x) for x in boxes):
        all_boxes = torch.cat([x.detach().reshape(-1, 9) for x in boxes]).double().cpu()
        all_labels = torch.cat([x.detach().reshape(-1) for x in labels]).long().cpu()
        sample = torch.cat([torch.full((len(x),), s, dtype=torch.long) for s, x in enumerate(boxes)])
        slot = torch.cat([torch.arange(len(x)) for x in boxes])
        ix, iy, values = encode_boxes(all_boxes, grid.xmin, grid.ymin, grid.resolution)
        inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        sample, slot, ix, iy = sample[inside], slot[inside], ix[inside], iy[inside]
        kept, label = all_boxes[inside], all_labels[inside]
        res = grid.resolution
        radius = gaussian_radius(kept[:, 3] / res, kept[:, 4] / res, min_overlap).long().clamp(min=min_radius)
        splat_gaussians(heatmap, sample, label, ix, iy, radius)
        index[sample, slot] = ix * ny + iy
        regression[sample, slot] = values[inside].float()
        mask[sample, slot] = True
        vmask[sample, slot] = torch.isfinite(kept[:, 7:9]).all(dim=1)
        lab[sample, slot] = label
    return DetectionTargets(
        heatmap.to(device), index.to(device), regression.to(device), mask.to(device), vmask.to(device), lab.to(device)
    )
