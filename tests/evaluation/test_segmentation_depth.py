"""BEV segmentation IoU sweep and depth metrics."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation.depth import DepthMetric
from evaluation.segmentation import (
    DEFAULT_THRESHOLDS,
    BevSegmentationMetric,
    evaluated_region,
)
from sensors.frame import BevGrid


def test_thresholds_are_the_bevfusion_sweep():
    np.testing.assert_allclose(DEFAULT_THRESHOLDS, np.arange(0.35, 0.651, 0.05))


def test_iou_hand_computed_and_best_threshold():
    metric = BevSegmentationMetric(classes=("a", "b"))
    target = np.zeros((2, 2, 2), bool)
    target[0, 0, :] = True  # class a: 2 cells
    probs = np.zeros((2, 2, 2))
    probs[0, 0, 0] = 0.9
    probs[0, 0, 1] = 0.5  # counted only for thresholds <= 0.5
    probs[0, 1, 1] = 0.6  # a false positive for thresholds <= 0.6
    metric.update(probs, target)
    result = metric.result()
    t = list(np.round(result.thresholds, 2))
    assert result.iou[t.index(0.35), 0] == pytest.approx(2 / 3)
    assert result.iou[t.index(0.55), 0] == pytest.approx(1 / 3)
    assert result.iou[t.index(0.65), 0] == pytest.approx(1 / 2)
    assert result.best_iou["a"] == pytest.approx(2 / 3) and result.best_threshold["a"] == pytest.approx(0.35)
    assert np.isnan(result.best_iou["b"])  # empty union: not in mIoU
    assert result.miou == pytest.approx(2 / 3)


def test_iou_is_accumulated_over_the_dataset_not_averaged():
    metric = BevSegmentationMetric(classes=("a",), thresholds=(0.5,))
    big = np.ones((1, 10, 10), bool)
    metric.update(big.astype(float), big)  # 100/100
    small = np.zeros((1, 10, 10), bool)
    small[0, 0, 0] = True
    metric.update(np.zeros((1, 10, 10)), small)  # 0/1
    assert metric.result().best_iou["a"] == pytest.approx(100 / 101)


def test_region_limits_evaluated_cells():
    grid = BevGrid(-2.0, 2.0, -2.0, 2.0, 1.0)
    region = evaluated_region(grid, (-1.0, 1.0), (-1.0, 1.0))
    assert region.sum() == 4 and region[1:3, 1:3].all()
    metric = BevSegmentationMetric(classes=("a",), thresholds=(0.5,), region=region)
    target = np.zeros((1, 4, 4), bool)
    target[0, 1, 1] = True
    probs = np.zeros((1, 4, 4))
    probs[0, 1, 1] = 1.0
    probs[0, 0, 0] = 1.0  # outside the region: ignored
    metric.update(probs, target)
    assert metric.result().miou == pytest.approx(1.0)


def test_segmentation_rejects_bad_shapes():
    metric = BevSegmentationMetric(classes=("a",))
    with pytest.raises(ValueError, match="must both be"):
        metric.update(np.zeros((1, 2, 2)), np.zeros((1, 3, 2), bool))


def test_depth_perfect_prediction():
    gt = np.array([[0.0, 5.0], [30.0, 90.0]])
    metric = DepthMetric()
    metric.update(gt.copy(), gt)
    result = metric.result()
    assert result["pixels"]["abs_rel"] == 0 and result["pixels"]["rmse"] == 0 and result["pixels"]["delta1"] == 1
    assert sum(b["pixels"] for b in result["bins"]) == 2  # 0 (unknown) and 90 m (beyond the cap) ignored


def test_depth_hand_computed():
    gt = np.array([[10.0, 20.0]])
    pred = np.array([[12.0, 20.0]])
    metric = DepthMetric()
    metric.update(pred, gt)
    m = metric.result()["pixels"]
    assert m["abs_rel"] == pytest.approx(0.1)
    assert m["sq_rel"] == pytest.approx(0.2)
    assert m["rmse"] == pytest.approx(np.sqrt(2.0))
    assert m["rmse_log"] == pytest.approx(np.sqrt(np.log(1.2) ** 2 / 2))
    assert m["delta1"] == 1.0
    bins = metric.result()["bins"]
    assert bins[0]["pixels"] == 1 and bins[0]["range_m"] == [0.0, 10.0] and bins[0]["abs_rel"] == pytest.approx(0.2)
    assert bins[1]["pixels"] == 1 and bins[1]["abs_rel"] == 0.0


def test_depth_per_image_differs_from_pixel_pooling():
    metric = DepthMetric()
    metric.update(np.full((1, 1), 20.0), np.full((1, 1), 10.0))  # abs_rel 1 on one pixel
    metric.update(np.full((3, 3), 10.0), np.full((3, 3), 10.0))  # abs_rel 0 on nine pixels
    result = metric.result()
    assert result["per_image"]["abs_rel"] == pytest.approx(0.5)
    assert result["pixels"]["abs_rel"] == pytest.approx(0.1)


def test_depth_cap_is_configurable_and_prediction_clipped():
    metric = DepthMetric(max_depth=50.0, bin_edges=(0.0, 50.0))
    metric.update(np.array([[100.0, 40.0]]), np.array([[50.0, 60.0]]))
    m = metric.result()["pixels"]
    assert metric.result()["bins"][0]["pixels"] == 1 and m["abs_rel"] == 0.0  # 100 clipped to 50
    with pytest.raises(ValueError, match="NaN"):
        metric.update(np.array([[np.nan]]), np.array([[1.0]]))
