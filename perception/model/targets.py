"""CenterPoint detection targets: Gaussian class heatmaps and per-object regression targets.

Boxes are ego-frame tensors (N, 9): x, y, z (centre, metres), length, width, height (metres),
yaw (rad), vx, vy (m/s, NaN where unknown), with labels (N,). The heatmap grid is the model's
BEV grid: cell (ix, iy) covers x in [xmin + ix * res, xmin + (ix + 1) * res), likewise y.

Regression channels, in order (:data:`REGRESSION_CHANNELS`): offset of the centre inside its
cell (dx, dy, in cells, [0, 1)), z, log length, log width, log height, sin yaw, cos yaw, vx, vy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from perception.config import GridConfig

REGRESSION_CHANNELS: tuple[str, ...] = ("dx", "dy", "z", "log_l", "log_w", "log_h", "sin", "cos", "vx", "vy")


def gaussian_radius(height: float, width: float, min_overlap: float) -> float:
    """CenterNet radius (cells) within which a shifted box keeps IoU >= ``min_overlap``.

    The smallest root of the three cases of CornerNet/CenterNet (both corners shifted inward,
    outward, or one each), with ``height`` and ``width`` the box extents in cells.
    """
    a1, b1 = 1.0, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4.0, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def draw_gaussian(heatmap: torch.Tensor, ix: int, iy: int, radius: int) -> None:
    """Max-splat a Gaussian (sigma = (2r + 1) / 6, peak 1 at (ix, iy)) into a (X, Y) heatmap in place."""
    sigma = (2 * radius + 1) / 6.0
    offsets = torch.arange(-radius, radius + 1, dtype=heatmap.dtype, device=heatmap.device)
    g = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    nx, ny = heatmap.shape
    x0, x1 = max(0, ix - radius), min(nx, ix + radius + 1)
    y0, y1 = max(0, iy - radius), min(ny, iy + radius + 1)
    patch = g[x0 - ix + radius : x1 - ix + radius, y0 - iy + radius : y1 - iy + radius]
    heatmap[x0:x1, y0:y1] = torch.maximum(heatmap[x0:x1, y0:y1], patch)


@dataclass
class DetectionTargets:
    """Targets of a batch.

    heatmap: (B, K, X, Y) float in [0, 1]; index: (B, M) long flat cell ``ix * Y + iy``;
    regression: (B, M, 10); mask: (B, M) bool (real objects); velocity_mask: (B, M) bool
    (objects with a known velocity); labels: (B, M) long.
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
    grid: GridConfig,
    num_classes: int,
    min_radius: int,
    min_overlap: float,
) -> DetectionTargets:
    """Encode the GT boxes of each sample (centre outside the grid: ignored)."""
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
    res = grid.resolution
    for s, (bx, lb) in enumerate(zip(boxes, labels)):
        bx = bx.detach().double().cpu()
        for j, (row, label) in enumerate(zip(bx.tolist(), lb.tolist())):
            x, y, z, length, width, height, yaw, vx, vy = row
            fx, fy = (x - grid.xmin) / res, (y - grid.ymin) / res
            ix, iy = math.floor(fx), math.floor(fy)
            if not (0 <= ix < nx and 0 <= iy < ny):
                continue
            radius = gaussian_radius(length / res, width / res, min_overlap)
            draw_gaussian(heatmap[s, label], ix, iy, max(min_radius, int(radius)))
            index[s, j] = ix * ny + iy
            known = math.isfinite(vx) and math.isfinite(vy)
            regression[s, j] = torch.tensor(
                [fx - ix, fy - iy, z, math.log(length), math.log(width), math.log(height),
                 math.sin(yaw), math.cos(yaw), vx if known else 0.0, vy if known else 0.0]
            )
            mask[s, j] = True
            vmask[s, j] = known
            lab[s, j] = label
    return DetectionTargets(
        heatmap.to(device), index.to(device), regression.to(device), mask.to(device), vmask.to(device), lab.to(device)
    )
