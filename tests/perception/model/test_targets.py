"""Detection targets: Gaussian peaks, the CenterNet radius, and decode(encode(boxes)) == boxes."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from perception.config import DetectionHeadConfig
from perception.model.heads.detection import decode_detections
from perception.model.targets import (
    build_detection_targets,
    gaussian_radius,
    splat_gaussians,
)
from sensors.frame import BevGrid

GRID = BevGrid(-51.2, 51.2, -51.2, 51.2, 0.8)


def _boxes() -> tuple[torch.Tensor, torch.Tensor]:
    boxes = torch.tensor(
        [
            [10.3, 3.1, 0.8, 4.5, 1.9, 1.6, 0.3, 5.0, 0.5],
            [-15.0, -6.2, 1.5, 10.0, 2.5, 3.0, -1.2, -2.0, 1.0],
            [20.1, -10.7, 0.9, 0.8, 0.7, 1.7, 2.9, 1.0, -1.0],
            [-30.5, 25.9, 0.5, 0.4, 0.4, 0.9, 0.0, 0.0, 0.0],
        ]
    )
    return boxes, torch.tensor([0, 1, 5, 8])


def test_gaussian_peak_at_box_centre_cell() -> None:
    boxes, labels = _boxes()
    t = build_detection_targets([boxes], [labels], GRID, 10, min_radius=2, min_overlap=0.1)
    for box, label in zip(boxes, labels):
        ix = math.floor((box[0] - GRID.xmin) / GRID.resolution)
        iy = math.floor((box[1] - GRID.ymin) / GRID.resolution)
        heat = t.heatmap[0, label]
        assert heat[ix, iy] == 1.0
        assert int(heat.flatten().argmax()) == ix * GRID.shape[1] + iy
        # strictly decreasing away from the peak along both axes
        assert heat[ix + 1, iy] < 1.0 and heat[ix, iy - 1] < 1.0 and heat[ix + 1, iy] > heat[ix + 2, iy]
    assert t.mask[0].tolist() == [True] * 4
    assert int(t.heatmap.eq(1).sum()) == 4


def test_gaussian_radius_matches_centernet_formula() -> None:
    # CenterNet / CenterPoint convention (roots halved, not divided by 2a): for a 10 x 10 cell
    # box at overlap 0.1 the three cases give 14.26, 26.32 and 4.325; the smallest wins.
    b3 = -2 * 0.1 * 20
    expected = (b3 + math.sqrt(b3**2 + 4 * 0.4 * 0.9 * 100)) / 2
    radius = gaussian_radius(torch.tensor([10.0, 2.0, 20.0], dtype=torch.float64),
                             torch.tensor([10.0, 2.0, 20.0], dtype=torch.float64), 0.1)
    assert math.isclose(float(radius[0]), expected, rel_tol=1e-12)
    assert math.isclose(expected, 4.325, abs_tol=1e-3)
    assert 0 < radius[1] < radius[2]


def test_splat_gaussians_clips_at_border_and_keeps_the_maximum() -> None:
    heat = torch.zeros(1, 2, 5, 5)
    one = torch.tensor([1])
    splat_gaussians(heat, torch.tensor([0, 0]), torch.tensor([1, 1]), torch.tensor([0, 2]), torch.tensor([4, 4]),
                    torch.tensor([3, 1]))
    assert heat[0, 1, 0, 4] == 1.0 and heat[0, 1, 2, 4] == 1.0 and float(heat.min()) >= 0
    assert heat[0, 0].sum() == 0
    # sigma = (2r + 1) / 6 of each object; the larger value wins where they overlap
    first = math.exp(-(1**2 + 0**2) / (2 * (7 / 6) ** 2))
    second = math.exp(-(1**2 + 0**2) / (2 * (3 / 6) ** 2))
    assert heat[0, 1, 1, 4] == pytest.approx(max(first, second), rel=1e-6)
    assert heat[0, 1, 4, 4] == 0.0  # beyond radius 1 of the second and radius 3 of the first
    before = heat.clone()
    splat_gaussians(heat, one * 0, one, one, one, one * 0)  # radius 0: one cell
    assert heat[0, 1, 1, 1] == 1.0 and int((heat != before).sum()) == 1


def test_decoding_inverts_encoding() -> None:
    boxes, labels = _boxes()
    t = build_detection_targets([boxes], [labels], GRID, 10, min_radius=2, min_overlap=0.1)
    # the targets used as predictions: heatmap logits from the Gaussian, regression at the peaks
    heat_logits = torch.logit(t.heatmap.clamp(1e-6, 1 - 1e-6))
    nx, ny = GRID.shape
    reg = torch.zeros(1, 10, nx * ny)
    reg[0][:, t.index[0]] = t.regression[0].T
    cfg = DetectionHeadConfig(score_threshold=0.5)
    (decoded,) = decode_detections(heat_logits, reg.view(1, 10, nx, ny), GRID, cfg)
    assert len(decoded) == 4
    order = np.argsort(decoded.label)
    np.testing.assert_array_equal(decoded.label[order], labels.numpy())
    np.testing.assert_allclose(decoded.center[order], boxes[:, :3].numpy(), atol=1e-4)
    np.testing.assert_allclose(decoded.size[order], boxes[:, 3:6].numpy(), rtol=1e-4)
    np.testing.assert_allclose(decoded.yaw[order], boxes[:, 6].numpy(), atol=1e-4)
    np.testing.assert_allclose(decoded.velocity[order], boxes[:, 7:9].numpy(), atol=1e-4)


def test_nms_removes_duplicates_of_one_class() -> None:
    nx, ny = GRID.shape
    heat = torch.full((1, 10, nx, ny), -10.0)
    heat[0, 0, 70, 70] = 3.0
    heat[0, 0, 72, 70] = 2.0  # a second peak 1.6 m away: same car, suppressed
    heat[0, 1, 72, 70] = 2.0  # same place, other class: kept
    reg = torch.zeros(1, 10, nx, ny)
    reg[:, 3:5] = math.log(4.0)
    reg[:, 7] = 1.0
    (boxes,) = decode_detections(heat, reg, GRID, DetectionHeadConfig(score_threshold=0.3, nms_iou=0.2))
    assert sorted(boxes.label.tolist()) == [0, 1]
    assert boxes.score[0] > boxes.score[1]
