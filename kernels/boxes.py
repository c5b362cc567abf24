"""Rotated box overlap for postprocessing and evaluation: BEV IoU, 3D IoU and rotated NMS.

Boxes follow docs/conventions.md: BEV boxes are (x, y, length, width, yaw) with length along the
heading and yaw in radians about +z from +x; 3D boxes are (x, y, z_center, length, width,
height, yaw). CPU tensors use Numba kernels; CUDA tensors use the vectorized torch reference
(the ops are small next to the network).
"""

from __future__ import annotations

import torch

from kernels import _boxes_numba as nb
from kernels._checks import check_tensor
from kernels._dispatch import choose_backend, numba_threads
from kernels.reference import boxes as ref

_BACKENDS = ("reference", "numba")
_FLOATS = (torch.float32, torch.float64)


def _check_boxes(op: str, name: str, boxes: object, width: int, size_cols: tuple[int, ...]) -> torch.Tensor:
    check_tensor(op, name, boxes, 2, _FLOATS, last_dim=width)
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{op}: {name} contains NaN or Inf")
    if boxes.shape[0] and not (boxes[:, list(size_cols)] > 0).all():
        raise ValueError(f"{op}: {name} has a non-positive size (columns {size_cols})")
    return boxes


def _numpy_pair(a: torch.Tensor, b: torch.Tensor):
    return a.detach().double().contiguous().numpy(), b.detach().double().contiguous().numpy()


def rotated_iou_bev(a: torch.Tensor, b: torch.Tensor, backend: str | None = None) -> torch.Tensor:
    """(N, M) IoU in bird's-eye view of boxes a (N, 5) and b (M, 5) = (x, y, l, w, yaw)."""
    op = "rotated_iou_bev"
    _check_boxes(op, "a", a, 5, (2, 3))
    _check_boxes(op, "b", b, 5, (2, 3))
    which = choose_backend(op, a.device, backend, _BACKENDS)
    if which == "reference" or a.device.type != "cpu":
        return ref.rotated_iou_bev(a, b)
    na, nb_ = _numpy_pair(a, b)
    out = torch.zeros((a.shape[0], b.shape[0]), dtype=torch.float64)
    if out.numel():
        with numba_threads(out.numel() * 400):  # ~400 flops per clipped pair
            nb.iou_bev(na, nb_, out.numpy())
    return out.to(a.dtype)


def iou_3d(a: torch.Tensor, b: torch.Tensor, backend: str | None = None) -> torch.Tensor:
    """(N, M) 3D IoU of boxes (x, y, z_center, l, w, h, yaw), for KITTI-style evaluation."""
    op = "iou_3d"
    _check_boxes(op, "a", a, 7, (3, 4, 5))
    _check_boxes(op, "b", b, 7, (3, 4, 5))
    which = choose_backend(op, a.device, backend, _BACKENDS)
    if which == "reference" or a.device.type != "cpu":
        return ref.iou_3d(a, b)
    na, nb_ = _numpy_pair(a, b)
    out = torch.zeros((a.shape[0], b.shape[0]), dtype=torch.float64)
    if out.numel():
        with numba_threads(out.numel() * 400):
            nb.iou_3d(na, nb_, out.numpy())
    return out.to(a.dtype)


def rotated_nms(
    boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, backend: str | None = None
) -> torch.Tensor:
    """Greedy rotated NMS in BEV.

    Args:
        boxes: (N, 5) (x, y, l, w, yaw).
        scores: (N,) finite scores.
        iou_threshold: a box is suppressed when its IoU with a kept box is > this value.

    Returns:
        (K,) int64 indices of kept boxes, by score descending; equal scores keep the lower
        index first (deterministic).
    """
    op = "rotated_nms"
    _check_boxes(op, "boxes", boxes, 5, (2, 3))
    check_tensor(op, "scores", scores, 1, _FLOATS)
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"{op}: {scores.shape[0]} scores for {boxes.shape[0]} boxes")
    if not torch.isfinite(scores).all():
        raise ValueError(f"{op}: scores contain NaN or Inf")
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"{op}: iou_threshold must be in [0, 1], got {iou_threshold}")
    which = choose_backend(op, boxes.device, backend, _BACKENDS)
    if which == "reference" or boxes.device.type != "cpu":
        return ref.rotated_nms(boxes, scores, float(iou_threshold))
    order = torch.sort(scores.detach(), descending=True, stable=True).indices
    keep = nb.nms(boxes.detach().double().contiguous().numpy(), order.numpy(), float(iou_threshold))
    return torch.from_numpy(keep)
