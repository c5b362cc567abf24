"""Frame -> model tensors: :func:`frame_to_inputs` (resize/crop images adjusting K, normalise,
stack cameras in config order; the cabin image by :func:`cabin_tensor`) and :func:`frame_to_sample`
(those inputs plus depth, map and driver targets with presence flags)."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import torch

import kernels
from perception.config import ImageConfig, ModelConfig
from perception.data.batch import Sample, SampleInputs
from sensors.classes import MAP_CLASSES
from sensors.frame import BevGrid, BevMap, Camera, Frame
from sensors.geometry import invert_transform


def resize_crop_params(height: int, width: int, out_h: int, out_w: int) -> tuple[int, int, int, int]:
    """Resize so the image covers (out_h, out_w) keeping the aspect ratio, then crop.

    Returns (resized_h, resized_w, crop_top, crop_left): the crop keeps the bottom rows (the
    road) and is centred horizontally.
    """
    scale = max(out_h / height, out_w / width)
    rh, rw = max(out_h, int(round(height * scale))), max(out_w, int(round(width * scale)))
    return rh, rw, rh - out_h, (rw - out_w) // 2


def adjust_intrinsics(k: np.ndarray, height: int, width: int, out_h: int, out_w: int) -> np.ndarray:
    """K (3, 3) after :func:`resize_crop_params` (OpenCV convention: pixel centres at integers)."""
    rh, rw, top, left = resize_crop_params(height, width, out_h, out_w)
    sx, sy = rw / width, rh / height
    out = np.array(k, dtype=np.float64)
    out[0, 0] *= sx
    out[1, 1] *= sy
    out[0, 1] *= sx
    out[0, 2] = (k[0, 2] + 0.5) * sx - 0.5 - left
    out[1, 2] = (k[1, 2] + 0.5) * sy - 0.5 - top
    return out


def resize_crop(image: np.ndarray, out_h: int, out_w: int, interpolation: int) -> np.ndarray:
    """Apply :func:`resize_crop_params` to an (H, W[, C]) array."""
    rh, rw, top, left = resize_crop_params(image.shape[0], image.shape[1], out_h, out_w)
    resized = cv2.resize(image, (rw, rh), interpolation=interpolation)
    return resized[top : top + out_h, left : left + out_w]


def normalise(image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> float32 (3, H, W), scaled to [0, 1] then standardised."""
    return normalise_uint8(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1), mean, std)


def normalise_uint8(image: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> float32: ``(image / 255 - mean) / std`` per channel."""
    x = image.float() / 255.0
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def to_uint8(image: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Inverse of :func:`normalise_uint8` for images it produced: float32 (..., 3, H, W) -> uint8."""
    x = (image * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1)) * 255.0
    return x.round().clamp(0, 255).to(torch.uint8)


def resample_bev_map(bev_map: BevMap, grid: BevGrid) -> np.ndarray:
    """Nearest resampling of map layers (C, Xs, Ys) onto ``grid``; outside the source: False."""
    xs, ys = grid.cell_centers()
    src = bev_map.grid
    ix = np.floor((xs - src.xmin) / src.resolution).astype(np.int64)
    iy = np.floor((ys - src.ymin) / src.resolution).astype(np.int64)
    nx, ny = src.shape
    vx, vy = (ix >= 0) & (ix < nx), (iy >= 0) & (iy < ny)
    out = bev_map.layers[:, np.clip(ix, 0, nx - 1)][:, :, np.clip(iy, 0, ny - 1)]
    return out & vx[None, :, None] & vy[None, None, :]


def depth_target(
    camera: Camera, dense: np.ndarray | None, points: np.ndarray | None, k: np.ndarray, out_h: int, out_w: int
) -> np.ndarray:
    """Depth (out_h, out_w) float32 metres, 0 = unknown.

    Dense depth (annotation, else ``camera.depth``) is resized with nearest neighbours; without
    it the LiDAR points are projected with ``kernels.points_to_depth`` (nearest point wins).
    """
    if dense is None:
        dense = camera.depth
    if dense is not None:
        return resize_crop(np.asarray(dense, dtype=np.float32), out_h, out_w, cv2.INTER_NEAREST)
    if points is None or len(points) == 0:
        return np.zeros((out_h, out_w), np.float32)
    ego_to_cam = torch.from_numpy(invert_transform(camera.cam_to_ego)).float()
    depth = kernels.points_to_depth(
        torch.from_numpy(np.ascontiguousarray(points[:, :3])), ego_to_cam, torch.from_numpy(k).float(), (out_h, out_w)
    )
    return depth.numpy().astype(np.float32, copy=False)


def _default_camera(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """K and cam_to_ego placeholders of a missing camera (its features are masked out)."""
    k = np.array([[width, 0.0, width / 2.0], [0.0, width, height / 2.0], [0.0, 0.0, 1.0]])
    return k, np.eye(4)


def cabin_tensor(image: np.ndarray, config: ImageConfig) -> torch.Tensor:
    """A cabin image (H, W, 3) uint8 RGB -> the model's normalised (3, cabin_height, cabin_width) float32
    (area resize, no crop: the cabin camera's whole view)."""
    resized = cv2.resize(image, (config.cabin_width, config.cabin_height), interpolation=cv2.INTER_AREA)
    return normalise(resized, config.mean, config.std)


def frame_to_inputs(frame: Frame, config: ModelConfig) -> SampleInputs:
    """The model inputs of one :class:`sensors.frame.Frame` (no targets: nothing is projected).

    Street cameras in ``config.cameras`` order, resized and cropped to the model input size with
    K adjusted (a missing camera is zeros with ``camera_valid`` False); LiDAR points as read; the
    cabin image by :func:`cabin_tensor`.
    """
    im = config.image
    h, w = im.height, im.width
    n = len(config.cameras)
    points = frame.lidar.points if frame.lidar is not None else None
    images = torch.zeros((n, 3, h, w))
    valid = torch.zeros(n, dtype=torch.bool)
    ks = np.zeros((n, 3, 3))
    poses = np.zeros((n, 4, 4))
    for i, name in enumerate(config.cameras):
        cam = frame.cameras.get(name)
        if cam is None:
            ks[i], poses[i] = _default_camera(h, w)
            continue
        ks[i] = adjust_intrinsics(cam.intrinsics, cam.height, cam.width, h, w)
        poses[i] = cam.cam_to_ego
        images[i] = normalise(resize_crop(cam.image, h, w, cv2.INTER_AREA), im.mean, im.std)
        valid[i] = True
    cabin = cabin_tensor(frame.cabin.image, im) if frame.cabin is not None else torch.zeros((3, im.cabin_height, im.cabin_width))
    return SampleInputs(
        token=frame.token,
        images=images,
        camera_valid=valid,
        intrinsics=torch.from_numpy(ks).float(),
        cam_to_ego=torch.from_numpy(poses).float(),
        points=torch.from_numpy(points.copy()) if points is not None else torch.zeros((0, 5)),
        lidar_valid=points is not None,
        cabin=cabin,
        cabin_valid=frame.cabin is not None,
    )


def frame_to_sample(frame: Frame, config: ModelConfig) -> Sample:
    """The model inputs (:func:`frame_to_inputs`) and training targets of one frame: boxes, the map
    resampled onto the segmentation grid, depth per camera (dense annotation or camera depth, else
    the LiDAR projected into the camera) and driver labels, each with its presence flag.

    Raises:
        ValueError: a dense depth annotation whose shape differs from its image (naming frame and camera).
    """
    inputs = frame_to_inputs(frame, config)
    im = config.image
    h, w = im.height, im.width
    ann = frame.annotations
    points = frame.lidar.points if frame.lidar is not None else None
    depth = torch.zeros((len(config.cameras), h, w))
    for i, name in enumerate(config.cameras):
        cam = frame.cameras.get(name)
        if cam is None:
            continue
        dense = ann.depth.get(name) if ann is not None else None
        if dense is not None and dense.shape != cam.image.shape[:2]:
            raise ValueError(f"frame {frame.token}: depth of {name} is {dense.shape}, image {cam.image.shape[:2]}")
        depth[i] = torch.from_numpy(depth_target(cam, dense, points, inputs.intrinsics[i].numpy(), h, w))

    boxes = ann.boxes if ann is not None else None
    if boxes is not None:
        gt = np.concatenate([boxes.center, boxes.size, boxes.yaw[:, None], boxes.velocity], axis=1)
        gt_boxes = torch.from_numpy(gt).float()
        gt_labels = torch.from_numpy(boxes.label).long()
    else:
        gt_boxes, gt_labels = torch.zeros((0, 9)), torch.zeros(0, dtype=torch.long)

    seg_grid = config.heads.segmentation.grid
    bev_map = torch.zeros((len(MAP_CLASSES), *seg_grid.shape))
    if ann is not None and ann.bev_map is not None:
        bev_map = torch.from_numpy(resample_bev_map(ann.bev_map, seg_grid)).float()

    # Training targets need every driver field; partly labelled frames (real datasets) train no driver head.
    driver = ann.driver if ann is not None and ann.driver is not None and ann.driver.complete else None
    return Sample(
        **{f.name: getattr(inputs, f.name) for f in dataclasses.fields(inputs)},
        gt_boxes=gt_boxes,
        gt_labels=gt_labels,
        has_boxes=boxes is not None,
        bev_map=bev_map,
        has_bev_map=ann is not None and ann.bev_map is not None,
        depth=depth,
        has_depth=bool((depth > 0).any()),
        eye_state=driver.eye_state if driver else 0,
        gaze_zone=driver.gaze_zone if driver else 0,
        head_pose=torch.tensor(driver.head_pose if driver else (0.0, 0.0, 0.0), dtype=torch.float32),
        phone=driver.phone if driver else False,
        has_driver=driver is not None and frame.cabin is not None,
    )
