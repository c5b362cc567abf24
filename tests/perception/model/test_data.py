"""Frame -> tensors: resize/crop keeps the projection, depth targets, map resampling, flags, collate."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from model_frames import make_frame

import kernels
from perception.data import FrameDataset, collate_frames, frame_to_sample
from perception.data.transforms import (
    adjust_intrinsics,
    resample_bev_map,
    resize_crop_params,
)
from sensors.classes import MAP_CLASSES
from sensors.frame import BevGrid, BevMap
from sensors.geometry import invert_transform


def test_adjusted_intrinsics_follow_resize_and_crop() -> None:
    k = np.array([[800.0, 0, 812.0], [0, 800.0, 450.0], [0, 0, 1]])
    rh, rw, top, left = resize_crop_params(900, 1600, 256, 704)
    assert (rw, rh - top) == (704, 256) and left == 0
    k2 = adjust_intrinsics(k, 900, 1600, 256, 704)
    s = 704 / 1600
    # a point at original pixel (u, v) (pixel centres at integers) lands at (u + .5) * s - .5 - crop
    uv = np.array([1000.0, 700.0, 1.0])
    cam_point = np.linalg.solve(k, uv)
    projected = k2 @ cam_point
    np.testing.assert_allclose(projected[:2], [(1000.5) * s - 0.5, (700.5) * (rh / 900) - 0.5 - top], atol=1e-9)


def test_sample_shapes_and_flags(config) -> None:
    m = config.model
    sample = frame_to_sample(make_frame(0), m)
    h, w = m.image.height, m.image.width
    assert sample.images.shape == (2, 3, h, w)
    assert sample.camera_valid.tolist() == [True, True]
    assert sample.depth.shape == (2, h, w)
    assert sample.cabin.shape == (3, m.image.cabin_height, m.image.cabin_width)
    assert sample.gt_boxes.shape == (3, 9) and sample.gt_labels.tolist() == [0, 1, 5]
    assert torch.isnan(sample.gt_boxes[1, 7:]).all()  # unknown velocity stays NaN
    assert sample.bev_map.shape == (len(MAP_CLASSES), *m.heads.segmentation.grid.shape)
    assert sample.has_boxes and sample.has_bev_map and sample.has_depth and sample.has_driver
    # images are normalised: roughly zero mean for uniform random pixels
    assert abs(float(sample.images.mean())) < 0.5


def test_partial_frames_set_presence_flags(config) -> None:
    cabin_only = frame_to_sample(make_frame(1, cameras=False, lidar=False, street_labels=False), config.model)
    assert not cabin_only.camera_valid.any() and not cabin_only.lidar_valid
    assert not (cabin_only.has_boxes or cabin_only.has_bev_map or cabin_only.has_depth)
    assert cabin_only.has_driver and cabin_only.cabin_valid
    street = frame_to_sample(make_frame(2, cabin=False, driver_labels=False), config.model)
    assert not street.has_driver and not street.cabin_valid and street.has_boxes


def test_depth_target_equals_points_to_depth(config) -> None:
    m = config.model
    frame = make_frame(3)
    sample = frame_to_sample(frame, m)
    for i, name in enumerate(m.cameras):
        cam = frame.cameras[name]
        expected = kernels.points_to_depth(
            torch.from_numpy(frame.lidar.points[:, :3]),
            torch.from_numpy(invert_transform(cam.cam_to_ego)).float(),
            sample.intrinsics[i],
            (m.image.height, m.image.width),
        )
        assert torch.equal(sample.depth[i], expected)
        assert (expected > 0).sum() > 20


def test_dense_depth_annotation_wins(config) -> None:
    frame = make_frame(4)
    cam = frame.cameras["CAM_FRONT"]
    frame.annotations.depth["CAM_FRONT"] = np.full((cam.height, cam.width), 7.5, np.float32)
    sample = frame_to_sample(frame, config.model)
    assert torch.all(sample.depth[0] == 7.5)


def test_bev_map_nearest_resampling() -> None:
    src = BevGrid(-10.0, 10.0, -10.0, 10.0, 0.5)
    layers = np.zeros((len(MAP_CLASSES), *src.shape), bool)
    layers[0, :20, :] = True  # x < 0
    layers[1, :, 30:] = True  # y >= 5
    dst = BevGrid(-20.0, 20.0, -20.0, 20.0, 1.0)
    out = resample_bev_map(BevMap(layers, src), dst)
    xs, ys = dst.cell_centers()
    inside_x, inside_y = np.abs(xs) < 10, np.abs(ys) < 10
    np.testing.assert_array_equal(out[0], (inside_x & (xs < 0))[:, None] & inside_y[None, :])
    np.testing.assert_array_equal(out[1], inside_x[:, None] & (inside_y & (ys >= 5))[None, :])


def test_collate_and_to(config) -> None:
    ds = FrameDataset([make_frame(0), make_frame(1, lidar=False)], config.model)
    batch = collate_frames([ds[0], ds[1]])
    assert batch.size == 2 and batch.images.shape[:2] == (2, 2)
    assert batch.lidar_valid.tolist() == [True, False]
    assert len(batch.gt_boxes) == 2 and batch.gt_boxes[0].shape == (3, 9)
    moved = batch.to("cpu")
    assert moved.tokens == ["f0", "f1"] and moved.points[0].shape == batch.points[0].shape


def test_collate_rejects_mixed_shapes(config) -> None:
    import dataclasses

    other = dataclasses.replace(config.model, image=dataclasses.replace(config.model.image, height=96))
    with pytest.raises(ValueError, match="different image shapes"):
        collate_frames([frame_to_sample(make_frame(0), config.model), frame_to_sample(make_frame(0), other)])
