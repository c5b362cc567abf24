"""Decoding never loses a batch to one bad cell, and a frame without BEV input has no boxes or map
(issue: real data and bad input, parts 3 and 6)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from model_frames import frames_batch, make_frame

import kernels
from perception.config import DetectionHeadConfig
from perception.model import FusionModel
from perception.model.box_coding import MIN_BOX_SIZE
from perception.model.prediction import decode_detections
from sensors.frame import BevGrid

GRID = BevGrid(-51.2, 51.2, -51.2, 51.2, 0.8)
CONFIG = DetectionHeadConfig(score_threshold=0.3, nms_iou=0.2)


def _two_peaks() -> tuple[torch.Tensor, torch.Tensor]:
    """Two cars 16 m apart (cells (70, 70) and (90, 70)), 4 x 2 x 1.5 m, yaw 0."""
    nx, ny = GRID.shape
    heat = torch.full((1, 10, nx, ny), -10.0)
    heat[0, 0, 70, 70] = 3.0
    heat[0, 0, 90, 70] = 2.0
    reg = torch.zeros(1, 10, nx, ny)
    reg[:, 3] = math.log(4.0)
    reg[:, 4] = math.log(2.0)
    reg[:, 5] = math.log(1.5)
    reg[:, 7] = 1.0
    return heat, reg


def test_log_size_of_minus_800_gives_the_minimum_size_not_a_lost_batch():
    heat, reg = _two_peaks()
    reg[0, 3:6, 90, 70] = -800.0  # exp(-800) == 0 in float64: rotated_nms would refuse the box
    with pytest.raises(ValueError, match="non-positive size"):  # the kernel's contract is unchanged
        kernels.rotated_nms(torch.tensor([[0.0, 0.0, math.exp(-800.0), 1.0, 0.0]]), torch.ones(1), 0.5)
    (boxes,) = decode_detections(heat, reg, GRID, CONFIG)
    assert len(boxes) == 2
    np.testing.assert_allclose(boxes.size[0], [4.0, 2.0, 1.5], rtol=1e-6)
    np.testing.assert_allclose(boxes.size[1], [0.01, 0.01, 0.01], rtol=1e-9)  # MIN_BOX_SIZE, hand value
    assert MIN_BOX_SIZE == 0.01


@pytest.mark.parametrize("channel, value", [(0, float("nan")), (3, float("nan")), (6, float("inf")),
                                            (8, float("nan")), (1, float("-inf"))])
def test_a_non_finite_cell_is_dropped_and_the_other_box_kept(channel, value):
    heat, reg = _two_peaks()
    reg[0, channel, 90, 70] = value
    (boxes,) = decode_detections(heat, reg, GRID, CONFIG)
    assert len(boxes) == 1
    # cell (70, 70) with offset 0: x = -51.2 + 70 * 0.8 = 4.8, likewise y
    np.testing.assert_allclose(boxes.center[0, :2], [4.8, 4.8], atol=1e-9)


def test_huge_but_finite_offset_decodes_far_away_without_error():
    heat, reg = _two_peaks()
    reg[0, 0, 90, 70] = 1e9  # 8e8 m away
    (boxes,) = decode_detections(heat, reg, GRID, CONFIG)
    assert len(boxes) == 2 and boxes.center[1, 0] == pytest.approx(-51.2 + (90 + 1e9) * 0.8)


def test_frame_without_cameras_and_lidar_has_no_boxes_and_no_map():
    from model_frames import small_config

    config = small_config()
    # every peak kept, so that the untrained heads' output on a zero BEV decodes to boxes
    heads = dataclasses.replace(config.model.heads,
                                detection=dataclasses.replace(config.model.heads.detection, score_threshold=0.0))
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, heads=heads))
    torch.manual_seed(0)
    model = FusionModel(config.model).eval()
    frames = [make_frame(0, cameras=False, lidar=False), make_frame(1, cameras=False), make_frame(2, lidar=False)]
    with torch.no_grad():
        out = model(frames_batch(frames, config.model))
    # the heads still run on a zero BEV for the empty frame and their raw output decodes to boxes
    raw = decode_detections(out["detection"]["heatmap"], out["detection"]["regression"], config.model.bev.grid,
                            config.model.heads.detection)
    empty, lidar_only, camera_only = model.decode(out)
    assert not empty.bev_input and len(empty.boxes) == 0 and empty.bev_map is None and empty.depth is None
    assert len(raw[0]) > 0  # what the empty frame yielded before
    for i, p in ((1, lidar_only), (2, camera_only)):
        assert p.bev_input and p.bev_map is not None and len(p.boxes) == len(raw[i])
    assert camera_only.depth is not None and lidar_only.depth is None
