"""Model inputs and targets as tensors: one :class:`Sample` per frame, a :class:`Batch` of them.

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
from dataclasses import dataclass
from collections.abc import Sequence

import torch


@dataclass
class Sample:
    """One frame as tensors (see the module docstring for units and frames).

    N is the number of configured street cameras (missing ones are zeros with
    ``camera_valid`` False); ``has_*`` say which task labels the frame carries.
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
class Batch:
    """A collated batch of B samples: stacked tensors, plus lists where sizes differ.

    images (B, N, 3, H, W), camera_valid (B, N), intrinsics (B, N, 3, 3), cam_to_ego
    (B, N, 4, 4), points list of (P_b, 5), lidar_valid (B,), cabin (B, 3, Hc, Wc),
    cabin_valid (B,), gt_boxes list of (n_b, 9), gt_labels list of (n_b,), has_boxes (B,),
    bev_map (B, C, Xs, Ys), has_bev_map (B,), depth (B, N, H, W), has_depth (B,),
    eye_state (B,), gaze_zone (B,), head_pose (B, 3), phone (B,) float, has_driver (B,).
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

    @property
    def size(self) -> int:
        """Number of samples B."""
        return len(self.tokens)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        """A copy with every tensor (also inside the lists) on ``device``."""

        def move(value: object) -> object:
            if isinstance(value, torch.Tensor):
                return value.to(device, non_blocking=non_blocking)
            if isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
                return [v.to(device, non_blocking=non_blocking) for v in value]
            return value

        return Batch(**{f.name: move(getattr(self, f.name)) for f in dataclasses.fields(self)})


def collate_frames(samples: Sequence[Sample]) -> Batch:
    """Collate :class:`Sample` s (from :class:`perception.data.FrameDataset`) into a :class:`Batch`.

    Usable as a ``DataLoader`` ``collate_fn``. All samples must come from the same config
    (same camera count and sizes).
    """
    if not samples:
        raise ValueError("collate_frames: no samples")
    shapes = {tuple(s.images.shape) for s in samples}
    if len(shapes) != 1:
        raise ValueError(f"collate_frames: samples have different image shapes {sorted(shapes)}")

    def stack(name: str) -> torch.Tensor:
        return torch.stack([getattr(s, name) for s in samples])

    def flags(name: str) -> torch.Tensor:
        return torch.tensor([bool(getattr(s, name)) for s in samples], dtype=torch.bool)

    return Batch(
        tokens=[s.token for s in samples],
        images=stack("images"),
        camera_valid=stack("camera_valid"),
        intrinsics=stack("intrinsics"),
        cam_to_ego=stack("cam_to_ego"),
        points=[s.points for s in samples],
        lidar_valid=flags("lidar_valid"),
        cabin=stack("cabin"),
        cabin_valid=flags("cabin_valid"),
        gt_boxes=[s.gt_boxes for s in samples],
        gt_labels=[s.gt_labels for s in samples],
        has_boxes=flags("has_boxes"),
        bev_map=stack("bev_map"),
        has_bev_map=flags("has_bev_map"),
        depth=stack("depth"),
        has_depth=flags("has_depth"),
        eye_state=torch.tensor([s.eye_state for s in samples], dtype=torch.long),
        gaze_zone=torch.tensor([s.gaze_zone for s in samples], dtype=torch.long),
        head_pose=stack("head_pose"),
        phone=torch.tensor([float(s.phone) for s in samples]),
        has_driver=flags("has_driver"),
    )
