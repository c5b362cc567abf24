"""Rotated IoU and NMS: numba equals the vectorized reference and shapely; NMS order and ties."""

from __future__ import annotations

import math

import pytest
import shapely
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

import kernels
from kernels.reference import boxes as ref


def _random_boxes(n, seed, spread=6.0):
    g = torch.Generator().manual_seed(seed)
    return torch.cat(
        [torch.rand(n, 2, generator=g) * spread, torch.rand(n, 2, generator=g) * 3 + 0.2, torch.rand(n, 1, generator=g) * 7 - 3.5],
        dim=1,
    ).double()


def _shapely_iou(a, b):
    pa, pb = Polygon(ref.corners(a[None])[0].tolist()), Polygon(ref.corners(b[None])[0].tolist())
    # GEOS in floating precision can lose nearly coincident polygons (intersection area 0 for two
    # boxes 2e-16 m apart); a fine fixed grid keeps the reference exact to ~1e-12
    return shapely.intersection(pa, pb, grid_size=1e-12).area / shapely.union(pa, pb, grid_size=1e-12).area


def test_known_values():
    a = torch.tensor([[0.0, 0.0, 4.0, 2.0, 0.0]])
    b = torch.tensor([[1.0, 0.0, 4.0, 2.0, 0.0], [0.0, 0.0, 4.0, 2.0, math.pi], [0.0, 0.0, 4.0, 2.0, math.pi / 2], [10, 0, 1, 1, 0]])
    for backend in ("reference", "numba"):
        iou = kernels.rotated_iou_bev(a, b, backend=backend)[0]
        torch.testing.assert_close(iou, torch.tensor([6 / 10, 1.0, 4 / 12, 0.0]), atol=1e-6, rtol=0)


def test_numba_equals_reference_and_shapely():
    a, b = _random_boxes(25, 0), _random_boxes(30, 1)
    fast = kernels.rotated_iou_bev(a, b)
    torch.testing.assert_close(fast, kernels.rotated_iou_bev(a, b, backend="reference"), atol=1e-9, rtol=0)
    expected = torch.tensor([[_shapely_iou(a[i], b[j]) for j in range(30)] for i in range(25)], dtype=torch.float64)
    torch.testing.assert_close(fast, expected, atol=1e-6, rtol=0)
    assert (fast > 0).sum() > 50


def test_identical_boxes_iou_one():
    a = _random_boxes(20, 2)
    for backend in ("reference", "numba"):
        torch.testing.assert_close(kernels.rotated_iou_bev(a, a, backend=backend).diag(), torch.ones(20, dtype=torch.float64))


def test_iou_3d_equals_reference_and_hand_value():
    a = torch.tensor([[0.0, 0.0, 1.0, 4.0, 2.0, 2.0, 0.0]])
    b = torch.tensor([[1.0, 0.0, 2.0, 4.0, 2.0, 2.0, 0.0]])  # bev inter 6, z overlap 1 -> 6 / (16+16-6)
    for backend in ("reference", "numba"):
        torch.testing.assert_close(kernels.iou_3d(a, b, backend=backend), torch.tensor([[6 / 26]]))
    g = torch.Generator().manual_seed(3)
    a7, b7 = [
        torch.cat([bx[:, :2], torch.rand(len(bx), 1, generator=g), bx[:, 2:4], torch.rand(len(bx), 1, generator=g) + 0.5, bx[:, 4:]], 1)
        for bx in (_random_boxes(15, 4), _random_boxes(12, 5))
    ]
    torch.testing.assert_close(kernels.iou_3d(a7, b7), kernels.iou_3d(a7, b7, backend="reference"), atol=1e-9, rtol=0)


def test_nms_order_ties_and_suppression():
    boxes = torch.tensor([[0.0, 0, 4, 2, 0], [0.1, 0, 4, 2, 0], [10, 10, 1, 1, 0], [20, 0, 1, 1, 0], [0.2, 0, 4, 2, 0.1]])
    scores = torch.tensor([0.5, 0.9, 0.5, 0.5, 0.1])
    for backend in ("reference", "numba"):
        keep = kernels.rotated_nms(boxes, scores, 0.5, backend=backend)
        assert keep.dtype == torch.int64
        assert keep.tolist() == [1, 2, 3]  # 0 and 4 overlap box 1; equal scores by index


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 60), st.integers(0, 10**6), st.floats(0.0, 0.9))
def test_property_nms_numba_equals_reference(n, seed, threshold):
    boxes = _random_boxes(n, seed, spread=8.0)
    scores = torch.round(torch.rand(n, generator=torch.Generator().manual_seed(seed)) * 4) / 4  # many ties
    keep = kernels.rotated_nms(boxes, scores, threshold)
    assert torch.equal(keep, kernels.rotated_nms(boxes, scores, threshold, backend="reference"))
    if n:
        iou = kernels.rotated_iou_bev(boxes[keep], boxes[keep])
        assert (iou.fill_diagonal_(0) <= threshold + 1e-9).all()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: kernels.rotated_iou_bev(torch.zeros(2, 4), torch.zeros(2, 5)), "last dimension"),
        (lambda: kernels.rotated_iou_bev(torch.tensor([[0.0, 0, 0, 1, 0]]), torch.zeros(0, 5)), "non-positive"),
        (lambda: kernels.rotated_iou_bev(torch.tensor([[float("nan"), 0, 1, 1, 0]]), torch.zeros(0, 5)), "NaN"),
        (lambda: kernels.iou_3d(torch.zeros(1, 5), torch.zeros(1, 7)), "last dimension"),
        (lambda: kernels.rotated_nms(torch.tensor([[0.0, 0, 1, 1, 0]]), torch.zeros(2), 0.5), "scores"),
        (lambda: kernels.rotated_nms(torch.tensor([[0.0, 0, 1, 1, 0]]), torch.tensor([float("nan")]), 0.5), "NaN"),
        (lambda: kernels.rotated_nms(torch.tensor([[0.0, 0, 1, 1, 0]]), torch.zeros(1), 1.5), "iou_threshold"),
    ],
)
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
