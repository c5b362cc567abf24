"""Model inputs and training targets as tensors, kept apart; moving any batch to a device (:func:`move_to`).

Per frame, :class:`SampleInputs` is what the model reads and :class:`Sample` adds the targets;
collated, :class:`Inputs` is what :meth:`perception.model.FusionModel.forward` reads and
:class:`Batch` (an :class:`Inputs` with targets) what training and scoring read. Inference
builds inputs only (:func:`perception.data.frame_to_inputs`).

Conventions: images are normalised RGB (3, H, W) float32 at the model input size; intrinsics
K are adjusted to that size (OpenCV pixel centres at integers); ``cam_to_ego`` (4, 4) maps the
camera frame (x right, y down, z forward) to the ego frame (x forward, y left, z up); points
are (P, 5) float32 ego-frame x, y, z (m), intensity (0-255), time offset (s); boxes are (n, 9)
float32 x, y, z, length, width, height (m), yaw (rad), vx, vy (m/s, NaN if unknown); depth is
metres along the optical axis at the model input size, 0 where unknown. Every task has a
presence flag so that partially labelled samples train only the tasks they have labels for.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import torch


@dataclass
class SampleInputs:
    """One frame as model inputs (see the module docstring for units and frames).

    N is the number of configured street cameras (missing ones are zeros with ``camera_valid`` False).
    """

    token: str
    images: torch.Tensor  # (N, 3, H, W)
    camera_valid: torch.Tensor  # (N,) bool
    intrinsics: torch.Tensor  # (N, 3, 3)
    cam_to_ego: torch.Tensor  # (N, 4, 4)
    points: torch.Tensor  # (P, 5)
    lidar_valid: bool
    cabin: torch.Tensor  # (3, Hc, Wc)
    cabin_valid: bool


@dataclass
class Sample(SampleInputs):
    """One frame as model inputs plus training targets; ``has_*`` say which task labels it carries."""

    gt_boxes: torch.Tensor  # (n, 9)
    gt_labels: torch.Tensor  # (n,) long
    has_boxes: bool
    bev_map: torch.Tensor  # (len(MAP_CLASSES), Xs, Ys) float 0/1
    has_bev_map: bool
    depth: torch.Tensor  # (N, H, W)
    has_depth: bool
    eye_state: int
    gaze_zone: int
    head_pose: torch.Tensor  # (3,) degrees yaw, pitch, roll
    phone: bool
    has_driver: bool


@dataclass
class Inputs:
    """Collated model inputs of B samples: stacked tensors, plus lists where sizes differ.

    images (B, N, 3, H, W), camera_valid (B, N), intrinsics (B, N, 3, 3), cam_to_ego
    (B, N, 4, 4), points list of (P_b, 5), lidar_valid (B,), cabin (B, 3, Hc, Wc), cabin_valid (B,).
    """

    tokens: list[str]
    images: torch.Tensor
    camera_valid: torch.Tensor
    intrinsics: torch.Tensor
    cam_to_ego: torch.Tensor
    points: list[torch.Tensor]
    lidar_valid: torch.Tensor
    cabin: torch.Tensor
    cabin_valid: torch.Tensor

    @property
    def size(self) -> int:
        """Number of samples B."""
        return len(self.tokens)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Self:
        """A copy with every tensor (also inside the lists) on ``device``."""

        def move(value: object) -> object:
            if isinstance(value, torch.Tensor):
                return value.to(device, non_blocking=non_blocking)
            if isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
                return [v.to(device, non_blocking=non_blocking) for v in value]
            return value

        return type(self)(**{f.name: move(getattr(self, f.name)) for f in dataclasses.fields(self)})


@dataclass
class Batch(Inputs):
    """Collated inputs plus targets of B samples: gt_boxes list of (n_b, 9), gt_labels list of
    (n_b,), has_boxes (B,), bev_map (B, C, Xs, Ys), has_bev_map (B,), depth (B, N, H, W),
    has_depth (B,), eye_state (B,), gaze_zone (B,), head_pose (B, 3), phone (B,) float, has_driver (B,).
    """

    gt_boxes: list[torch.Tensor]
    gt_labels: list[torch.Tensor]
    has_boxes: torch.Tensor
    bev_map: torch.Tensor
    has_bev_map: torch.Tensor
    depth: torch.Tensor
    has_depth: torch.Tensor
    eye_state: torch.Tensor
    gaze_zone: torch.Tensor
    head_pose: torch.Tensor
    phone: torch.Tensor
    has_driver: torch.Tensor


def _stack(samples: Sequence[SampleInputs], name: str) -> torch.Tensor:
    return torch.stack([getattr(s, name) for s in samples])


def _flags(samples: Sequence[SampleInputs], name: str) -> torch.Tensor:
    return torch.tensor([bool(getattr(s, name)) for s in samples], dtype=torch.bool)


def collate_inputs(samples: Sequence[SampleInputs]) -> Inputs:
    """Collate per-frame inputs into :class:`Inputs`; all from the same config (same camera count
    and image sizes).

    Raises:
        ValueError: no samples, or samples of different image shapes.
    """
    if not samples:
        raise ValueError("collate_frames: no samples")
    shapes = {tuple(s.images.shape) for s in samples}
    if len(shapes) != 1:
        raise ValueError(f"collate_frames: samples have different image shapes {sorted(shapes)}")
    return Inputs(
        tokens=[s.token for s in samples],
        images=_stack(samples, "images"),
        camera_valid=_stack(samples, "camera_valid"),
        intrinsics=_stack(samples, "intrinsics"),
        cam_to_ego=_stack(samples, "cam_to_ego"),
        points=[s.points for s in samples],
        lidar_valid=_flags(samples, "lidar_valid"),
        cabin=_stack(samples, "cabin"),
        cabin_valid=_flags(samples, "cabin_valid"),
    )


def collate_frames(samples: Sequence[Sample]) -> Batch:
    """Collate :class:`Sample` s (from :class:`perception.data.FrameDataset`) into a :class:`Batch`.

    Usable as a ``DataLoader`` ``collate_fn``; raises as :func:`collate_inputs`.
    """
    inputs = collate_inputs(samples)
    return Batch(
        **{f.name: getattr(inputs, f.name) for f in dataclasses.fields(inputs)},
        gt_boxes=[s.gt_boxes for s in samples],
        gt_labels=[s.gt_labels for s in samples],
        has_boxes=_flags(samples, "has_boxes"),
        bev_map=_stack(samples, "bev_map"),
        has_bev_map=_flags(samples, "has_bev_map"),
        depth=_stack(samples, "depth"),
        has_depth=_flags(samples, "has_depth"),
        eye_state=torch.tensor([s.eye_state for s in samples], dtype=torch.long),
        gaze_zone=torch.tensor([s.gaze_zone for s in samples], dtype=torch.long),
        head_pose=_stack(samples, "head_pose"),
        phone=torch.tensor([float(s.phone) for s in samples]),
        has_driver=_flags(samples, "has_driver"),
    )


def cabin_inputs(cabin: torch.Tensor) -> Inputs:
    """Inputs of B cabin images (B, 3, Hc, Wc) alone: no street camera (N = 0), no LiDAR.

    For the driver head only (``FusionModel.forward(inputs, tasks=("driver",))``).
    """
    b = cabin.shape[0]
    return Inputs(
        tokens=[f"cabin-{i}" for i in range(b)],
        images=cabin.new_zeros((b, 0, 3, 1, 1)),
        camera_valid=torch.zeros((b, 0), dtype=torch.bool, device=cabin.device),
        intrinsics=cabin.new_zeros((b, 0, 3, 3)),
        cam_to_ego=cabin.new_zeros((b, 0, 4, 4)),
        points=[cabin.new_zeros((0, 5)) for _ in range(b)],
        lidar_valid=torch.zeros(b, dtype=torch.bool, device=cabin.device),
        cabin=cabin,
        cabin_valid=torch.ones(b, dtype=torch.bool, device=cabin.device),
    )


def move_to(batch: Any, device: torch.device) -> Any:
    """A copy of ``batch`` with every tensor on ``device`` (non-blocking); other leaves unchanged.

    Objects with their own ``to(device)`` method (a data ``Batch``) use it.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if callable(getattr(batch, "to", None)) and not isinstance(batch, torch.nn.Module):
        return batch.to(device)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        changes = {f.name: move_to(getattr(batch, f.name), device) for f in dataclasses.fields(batch) if f.init}
        return dataclasses.replace(batch, **changes)
    if isinstance(batch, Mapping):
        return type(batch)({k: move_to(v, device) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, (list, tuple)):
        moved = [move_to(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch
